/**
 * Issue 12, race 1 and defect 7: a cache fill that started before an invalidation must never be
 * written back (nor served), and concurrent first checks of one secret cost one bcrypt compare.
 * Lookups are held at a gate the test opens after publishing the change, so the interleaving that
 * loses the revocation happens every run, not by timing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logging/logger.ts';
import { SecretVerifier } from '../../../src/oauth/secret-verification.ts';
import { CredentialRepository } from '../../../src/persistence/repositories/credential-repository.ts';
import { OrganizationRepository } from '../../../src/persistence/repositories/organization-repository.ts';
import { CachedSubjectResolver } from '../../../src/cache/cached-subject-resolver.ts';
import { ChangeNotifier } from '../../../src/state/change-notifier.ts';
import { SecretHasher } from '../../../src/keys/secret-hasher.ts';
import { type TokenSubject, TokenSubjectService } from '../../../src/services/token-subject-service.ts';
import { MemoryStateStore, RedisStateStore, type StateStore } from '../../../src/state/index.ts';
import { Fixtures } from '../../helpers/fixtures.ts';
import { openTestDatabase, type OpenTestDatabase } from '../../helpers/test-database.ts';
import { deleteKeysWithPrefix, eventually } from './revocation-helpers.ts';

const logger = createLogger({ level: 'silent' });
const prefix = `svcauth-test:${randomUUID()}:`;

/** A promise the test settles by hand. */
interface Gate {
  opened: Promise<void>;
  open: () => void;
}

function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * The real lookup, except that the next batch that includes `held` reads the database and then waits
 * at a gate before answering: the test runs a change in between. Every batch's client ids are kept.
 */
class HeldLookups extends TokenSubjectService {
  #held: { clientId: string; read: Gate; release: Gate } | undefined;
  calls = 0;
  readonly batches: string[][] = [];

  hold(clientId: string) {
    const held = { clientId, read: gate(), release: gate() };
    this.#held = held;
    return { read: held.read.opened, release: () => held.release.open() };
  }

  override async findByClientIds(
    clientIds: readonly string[],
    now?: Date,
  ): Promise<Map<string, TokenSubject>> {
    this.calls += 1;
    this.batches.push([...clientIds]);
    const held = this.#held && clientIds.includes(this.#held.clientId) ? this.#held : undefined;
    if (held) this.#held = undefined;
    const subjects = await super.findByClientIds(clientIds, now);
    if (held) {
      held.read.open();
      await held.release.opened;
    }
    return subjects;
  }
}

/** Counts bcrypt compares; the next `hold()`-ed compare waits at a gate after computing its answer. */
class CountingHasher extends SecretHasher {
  compares = 0;
  #release: Gate | undefined;

  hold(): () => void {
    const release = gate();
    this.#release = release;
    return () => release.open();
  }

  override async verify(secret: string, hash: string): Promise<boolean> {
    this.compares += 1;
    const release = this.#release;
    this.#release = undefined;
    const matches = await super.verify(secret, hash);
    if (release) await release.opened;
    return matches;
  }
}

let database: OpenTestDatabase;
let fixtures: Fixtures;
let store: StateStore;
let notifier: ChangeNotifier;
let lookups: HeldLookups;
let subjects: CachedSubjectResolver;

beforeAll(async () => {
  database = await openTestDatabase('fill-races');
  fixtures = new Fixtures(database.db);
  store = process.env.REDIS_URL
    ? new RedisStateStore({ url: process.env.REDIS_URL, prefix })
    : new MemoryStateStore({ prefix });
  notifier = new ChangeNotifier(store, logger);
  await notifier.start();
  lookups = new HeldLookups(database.db);
  subjects = new CachedSubjectResolver(lookups, notifier);
  await eventually(async () => {
    if (!notifier.healthy) throw new Error('notifier not healthy yet');
  });
}, 120_000);

afterAll(async () => {
  await notifier?.close();
  await store?.close();
  if (process.env.REDIS_URL) await deleteKeysWithPrefix(process.env.REDIS_URL, prefix);
  await database?.destroy();
});

async function seed() {
  const org = await fixtures.organization();
  const role = await fixtures.role(org.id, ['items:read']);
  const account = await fixtures.account(org.id, { allLocations: true, roles: [{ roleId: role.id }] });
  const credential = await fixtures.credential(org.id, account.id);
  return { org, account, credential };
}

describe('a cache fill that started before an invalidation (race 1)', () => {
  it('a subject lookup in flight across a revoke neither returns nor caches the pre-revoke subject', async () => {
    const { org, account, credential } = await seed();
    const held = lookups.hold(credential.clientId);
    const inFlight = subjects.findByClientId(credential.clientId);
    // The lookup has read the credential as it was before the revoke ...
    await held.read;
    // ... then the revoke commits and its change event reaches this instance (clearing the cache) ...
    await new CredentialRepository(database.db).revoke([credential.id], new Date(), 'test');
    await notifier.publish({
      type: 'credential',
      orgId: org.id,
      accountId: account.id,
      credentialId: credential.id,
      clientId: credential.clientId,
      revoked: true,
    });
    // ... and only then does the lookup answer.
    held.release();
    expect(await inFlight).toBeNull();
    expect(await subjects.findByClientId(credential.clientId)).toBeNull();
    expect(subjects.stats.size).toBe(0);
  });

  it('an organization-wide change during a lookup is not lost either', async () => {
    const { org, credential } = await seed();
    const held = lookups.hold(credential.clientId);
    const inFlight = subjects.findByClientId(credential.clientId);
    await held.read;
    await new OrganizationRepository(database.db).updateSettings(org.id, { api_enabled: false });
    await notifier.publish({ type: 'organization', orgId: org.id, apiEnabled: false });
    held.release();
    expect((await inFlight)?.refusal).toBeTruthy();
    expect((await subjects.findByClientId(credential.clientId))?.refusal).toBeTruthy();
  });

  it('a change of another credential does not make the lookup read again', async () => {
    const { credential } = await seed();
    const other = await seed();
    const held = lookups.hold(credential.clientId);
    const calls = lookups.calls;
    const inFlight = subjects.findByClientId(credential.clientId);
    await held.read;
    await notifier.publish({
      type: 'credential',
      orgId: other.org.id,
      accountId: other.account.id,
      credentialId: other.credential.id,
      clientId: other.credential.clientId,
    });
    held.release();
    expect((await inFlight)?.credential.id).toBe(credential.id);
    expect(lookups.calls).toBe(calls + 1);
    // Cached: the next lookup reads nothing.
    expect((await subjects.findByClientId(credential.clientId))?.credential.id).toBe(credential.id);
    expect(lookups.calls).toBe(calls + 1);
  });

  it('a secret check in flight when its credential is forgotten does not cache its result', async () => {
    const hasher = new CountingHasher(4);
    const secrets = new SecretVerifier(hasher);
    const hash = await hasher.hash('s3cret');
    const release = hasher.hold();
    const inFlight = secrets.verify('c1', 's3cret', hash);
    void secrets.forget('c1');
    release();
    expect(await inFlight).toBe(true);
    expect(secrets.stats.size).toBe(0);
    expect(await secrets.verify('c1', 's3cret', hash)).toBe(true);
    expect(hasher.compares).toBe(2);
  });
});

describe('concurrent first requests of one credential (defect 7)', () => {
  it('50 concurrent first checks of one secret cost one bcrypt compare, and a wrong secret one more', async () => {
    const hasher = new CountingHasher(4);
    const secrets = new SecretVerifier(hasher);
    const hash = await hasher.hash('s3cret');
    const answers = await Promise.all([
      ...Array.from({ length: 50 }, () => secrets.verify('c1', 's3cret', hash)),
      ...Array.from({ length: 10 }, () => secrets.verify('c1', 'wrong', hash)),
    ]);
    expect(answers.filter(Boolean)).toHaveLength(50);
    expect(hasher.compares).toBe(2);
  });

  it('50 concurrent first lookups of one client id read the database once', async () => {
    const { credential } = await seed();
    const calls = lookups.calls;
    const found = await Promise.all(
      Array.from({ length: 50 }, () => subjects.findByClientId(credential.clientId)),
    );
    expect(found.every((subject) => subject?.credential.id === credential.id)).toBe(true);
    expect(lookups.calls).toBe(calls + 1);
  });
});

describe('first lookups of many credentials at once (issue 19, restart storm)', () => {
  it('lookups of different client ids in one turn share one database statement', async () => {
    const seeded = await Promise.all(Array.from({ length: 20 }, () => seed()));
    const calls = lookups.calls;
    const found = await Promise.all(
      seeded.map(({ credential }) => subjects.findByClientId(credential.clientId)),
    );
    expect(found.map((subject) => subject?.credential.id)).toEqual(
      seeded.map(({ credential }) => credential.id),
    );
    expect(lookups.calls).toBe(calls + 1);
    expect(lookups.batches.at(-1)!.sort()).toEqual(
      seeded.map(({ credential }) => credential.clientId).sort(),
    );
    // All cached: the next lookups read nothing.
    await Promise.all(seeded.map(({ credential }) => subjects.findByClientId(credential.clientId)));
    expect(lookups.calls).toBe(calls + 1);
  });

  it('a revoke during a batch: that credential is read again and refused, the others answer from the batch', async () => {
    const revoked = await seed();
    const others = [await seed(), await seed()];
    const held = lookups.hold(revoked.credential.clientId);
    const calls = lookups.calls;
    const inFlight = Promise.all(
      [revoked, ...others].map(({ credential }) => subjects.findByClientId(credential.clientId)),
    );
    // The batch has read all three as they were before the revoke ...
    await held.read;
    await new CredentialRepository(database.db).revoke([revoked.credential.id], new Date(), 'test');
    await notifier.publish({
      type: 'credential',
      orgId: revoked.org.id,
      accountId: revoked.account.id,
      credentialId: revoked.credential.id,
      clientId: revoked.credential.clientId,
      revoked: true,
    });
    // ... and answers after the revoke's event.
    held.release();
    const [ofRevoked, ...ofOthers] = await inFlight;
    expect(ofRevoked).toBeNull();
    expect(ofOthers.map((subject) => subject?.credential.id)).toEqual(others.map((o) => o.credential.id));
    // One more statement, for the revoked credential alone.
    expect(lookups.calls).toBe(calls + 2);
    expect(lookups.batches.at(-1)).toEqual([revoked.credential.clientId]);
    expect(await subjects.findByClientId(revoked.credential.clientId)).toBeNull();
    await Promise.all(others.map(({ credential }) => subjects.findByClientId(credential.clientId)));
    expect(lookups.calls).toBe(calls + 3);
  });

  it('an organization change during a batch makes every subject of that organization read again', async () => {
    const first = await seed();
    const sameOrgAccount = await fixtures.account(first.org.id, {
      allLocations: true,
      roles: [{ roleId: (await fixtures.role(first.org.id, ['items:read'])).id }],
    });
    const sameOrg = await fixtures.credential(first.org.id, sameOrgAccount.id);
    const elsewhere = await seed();
    const held = lookups.hold(first.credential.clientId);
    const inFlight = Promise.all(
      [first.credential, sameOrg, elsewhere.credential].map((credential) =>
        subjects.findByClientId(credential.clientId),
      ),
    );
    await held.read;
    await new OrganizationRepository(database.db).updateSettings(first.org.id, { api_enabled: false });
    await notifier.publish({ type: 'organization', orgId: first.org.id, apiEnabled: false });
    held.release();
    const [ofFirst, ofSameOrg, ofElsewhere] = await inFlight;
    expect(ofFirst?.refusal).toBeTruthy();
    expect(ofSameOrg?.refusal).toBeTruthy();
    expect(ofElsewhere?.refusal).toBeNull();
    expect(lookups.batches.at(-1)!.sort()).toEqual([first.credential.clientId, sameOrg.clientId].sort());
  });
});
