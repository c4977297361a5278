/**
 * Caches follow revocations on every instance: the token-subject cache and the verified-secret cache of
 * instance B drop what a change published by instance A makes stale, before B's next lookup. Two
 * notifiers over one state store stand for two instances (Redis when REDIS_URL is set; otherwise one
 * in-process store that both share).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logging/logger.ts';
import { SecretVerifier } from '../../../src/oauth/secret-verification.ts';
import { CredentialRepository } from '../../../src/persistence/repositories/credential-repository.ts';
import { OrganizationRepository } from '../../../src/persistence/repositories/organization-repository.ts';
import { ServiceAccountRepository } from '../../../src/persistence/repositories/service-account-repository.ts';
import { CachedSubjectResolver } from '../../../src/cache/cached-subject-resolver.ts';
import { type ChangeEvent, ChangeNotifier } from '../../../src/state/change-notifier.ts';
import { TokenSubjectService } from '../../../src/services/token-subject-service.ts';
import { MemoryStateStore, RedisStateStore, type StateStore } from '../../../src/state/index.ts';
import { Fixtures } from '../../helpers/fixtures.ts';
import { openTestDatabase, type OpenTestDatabase } from '../../helpers/test-database.ts';
import { deleteKeysWithPrefix, eventually } from './revocation-helpers.ts';

const logger = createLogger({ level: 'silent' });
const prefix = `svcauth-test:${randomUUID()}:`;

interface Instance {
  notifier: ChangeNotifier;
  subjects: CachedSubjectResolver;
  secrets: SecretVerifier;
}

let database: OpenTestDatabase;
let fixtures: Fixtures;
const stores: StateStore[] = [];
let a: Instance;
let b: Instance;

/** Wired as src/server.ts wires an instance. */
async function instance(store: StateStore): Promise<Instance> {
  const notifier = new ChangeNotifier(store, logger);
  await notifier.start();
  const secrets = new SecretVerifier(fixtures.hasher);
  notifier.onChange((event) => {
    if (event.type === 'credential') void secrets.forget(event.credentialId);
  });
  const subjects = new CachedSubjectResolver(new TokenSubjectService(database.db), notifier);
  return { notifier, subjects, secrets };
}

beforeAll(async () => {
  database = await openTestDatabase('caches');
  fixtures = new Fixtures(database.db);
  if (process.env.REDIS_URL) {
    stores.push(new RedisStateStore({ url: process.env.REDIS_URL, prefix }));
    stores.push(new RedisStateStore({ url: process.env.REDIS_URL, prefix }));
  } else {
    stores.push(new MemoryStateStore({ prefix }));
  }
  a = await instance(stores[0]!);
  b = await instance(stores[stores.length - 1]!);
  await eventually(async () => {
    if (!a.notifier.healthy || !b.notifier.healthy) throw new Error('notifiers not healthy yet');
  });
}, 120_000);

afterAll(async () => {
  for (const i of [a, b]) await i?.notifier.close();
  for (const store of stores) await store.close();
  if (process.env.REDIS_URL) await deleteKeysWithPrefix(process.env.REDIS_URL, prefix);
  await database?.destroy();
});

/** A change committed on instance A: B must see it before its next lookup. */
async function publishOnA(event: ChangeEvent): Promise<void> {
  await a.notifier.publish(event);
}

async function seed() {
  const org = await fixtures.organization();
  const role = await fixtures.role(org.id, ['items:read']);
  const account = await fixtures.account(org.id, { allLocations: true, roles: [{ roleId: role.id }] });
  const credential = await fixtures.credential(org.id, account.id);
  return { org, role, account, credential };
}

describe('caches follow changes published by another instance', () => {
  it('B drops a revoked credential’s subject and verified secret', async () => {
    const { org, account, credential } = await seed();
    const subject = (await b.subjects.findByClientId(credential.clientId))!;
    expect(subject).not.toBeNull();
    expect(await b.secrets.verify(credential.id, credential.secret!, subject.credential.secret_hash!)).toBe(
      true,
    );
    expect(b.secrets.stats.size).toBeGreaterThan(0);
    // Cached: a second lookup is a hit.
    const hits = b.subjects.stats.hits;
    await b.subjects.findByClientId(credential.clientId);
    expect(b.subjects.stats.hits).toBe(hits + 1);

    await new CredentialRepository(database.db).revoke([credential.id], new Date(), 'test');
    await publishOnA({
      type: 'credential',
      orgId: org.id,
      accountId: account.id,
      credentialId: credential.id,
      clientId: credential.clientId,
      revoked: true,
    });
    await eventually(async () => {
      expect(await b.subjects.findByClientId(credential.clientId)).toBeNull();
    }, 5_000);
    // The verified secret is gone too: the next check would run bcrypt again.
    const misses = b.secrets.stats.misses;
    expect(await b.secrets.verify(credential.id, credential.secret!, subject.credential.secret_hash!)).toBe(
      true,
    );
    expect(b.secrets.stats.misses).toBe(misses + 1);
  });

  it('B reloads an account whose permissions changed', async () => {
    const { org, account, credential } = await seed();
    const before = (await b.subjects.findByClientId(credential.clientId))!;
    expect(before.scopes).toEqual(['items:read']);
    const wider = await fixtures.role(org.id, ['items:read', 'items:write']);
    const version = await new ServiceAccountRepository(database.db).replaceAssignments(org.id, account.id, {
      locationIds: [],
      roles: [{ roleId: wider.id, restrictedTo: null }],
    });
    await publishOnA({ type: 'account', orgId: org.id, accountId: account.id, permissionsVersion: version });
    await eventually(async () => {
      const after = (await b.subjects.findByClientId(credential.clientId))!;
      expect(after.scopes).toEqual(['items:read', 'items:write']);
      expect(after.account.permissions_version).toBe(version);
    }, 5_000);
  });

  it('B refuses tokens of an organization whose API was switched off', async () => {
    const { org, credential } = await seed();
    expect((await b.subjects.findByClientId(credential.clientId))!.refusal).toBeNull();
    await new OrganizationRepository(database.db).updateSettings(org.id, { api_enabled: false });
    await publishOnA({ type: 'organization', orgId: org.id, apiEnabled: false });
    await eventually(async () => {
      expect((await b.subjects.findByClientId(credential.clientId))!.refusal).toMatch(
        /API module is turned off/,
      );
    }, 5_000);
  });
});
