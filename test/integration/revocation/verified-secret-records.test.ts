/**
 * Issue 19, restart storms: verified secrets shared by every instance through the state store. Two
 * instances (each a change notifier and a secret verifier, as src/composition.ts wires them) share
 * one state store (Redis with REDIS_URL, else one in-process store). bcrypt compares are held at a
 * gate the test opens after the invalidation, so the race is the same every run.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretHasher } from '../../../src/keys/secret-hasher.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { SecretVerifier } from '../../../src/oauth/secret-verification.ts';
import {
  VerifiedSecretRecords,
  verifiedSecretRecordKey,
} from '../../../src/oauth/verified-secret-records.ts';
import { ChangeNotifier } from '../../../src/state/change-notifier.ts';
import { MemoryStateStore, RedisStateStore, type StateStore } from '../../../src/state/index.ts';
import { deleteKeysWithPrefix, eventually } from './revocation-helpers.ts';

const logger = createLogger({ level: 'silent' });
const prefix = `svcauth-test:${randomUUID()}:`;
const serverSecret = randomBytes(32);

/** Counts bcrypt compares; a `hold()`-ed compare waits at a gate after computing its answer. */
class CountingHasher extends SecretHasher {
  compares = 0;
  #release: Promise<void> | undefined;

  hold(): () => void {
    let open!: () => void;
    this.#release = new Promise<void>((resolve) => (open = resolve));
    return open;
  }

  override async verify(secret: string, hash: string): Promise<boolean> {
    this.compares += 1;
    const release = this.#release;
    this.#release = undefined;
    const matches = await super.verify(secret, hash);
    if (release) await release;
    return matches;
  }
}

interface Instance {
  notifier: ChangeNotifier;
  hasher: CountingHasher;
  secrets: SecretVerifier;
}

const stores: StateStore[] = [];
const notifiers: ChangeNotifier[] = [];

function openStore(): StateStore {
  if (!process.env.REDIS_URL) {
    stores[0] ??= new MemoryStateStore({ prefix });
    return stores[0];
  }
  const store = new RedisStateStore({ url: process.env.REDIS_URL, prefix });
  stores.push(store);
  return store;
}

/** Wired as src/composition.ts wires an instance; `secret` is its server-side secret. */
async function instance(secret: Uint8Array = serverSecret): Promise<Instance> {
  const store = openStore();
  const notifier = new ChangeNotifier(store, logger);
  await notifier.start();
  notifiers.push(notifier);
  const hasher = new CountingHasher(4);
  const records = new VerifiedSecretRecords(store, verifiedSecretRecordKey(secret), () => notifier.healthy);
  const secrets = new SecretVerifier(hasher, { records });
  notifier.onChange((event) => {
    if (event.type === 'credential') void secrets.forget(event.credentialId);
  });
  await eventually(async () => {
    if (!notifier.healthy) throw new Error('notifier not healthy yet');
  });
  return { notifier, hasher, secrets };
}

const credentialEvent = (credentialId: string) => ({
  type: 'credential' as const,
  orgId: randomUUID(),
  accountId: randomUUID(),
  credentialId,
  clientId: `svcc_${credentialId}`,
  revoked: true,
});

let a: Instance;
let b: Instance;
let hash: string;
const secret = 'svcs_correct-horse-battery-staple';

beforeAll(async () => {
  a = await instance();
  b = await instance();
  hash = await a.hasher.hash(secret);
}, 60_000);

afterAll(async () => {
  for (const notifier of notifiers) await notifier.close();
  for (const store of stores) await store.close();
  if (process.env.REDIS_URL) await deleteKeysWithPrefix(process.env.REDIS_URL, prefix);
});

describe('verified-secret records shared by the instances', () => {
  it('a secret one instance verified with bcrypt costs another none, and a wrong secret is not vouched for', async () => {
    const id = randomUUID();
    expect(await a.secrets.verify(id, secret, hash)).toBe(true);
    const compares = b.hasher.compares;
    expect(await b.secrets.recall(id, `${secret}x`, hash)).toBe(false);
    expect(await b.secrets.recall(id, secret, hash)).toBe(true);
    expect(await b.secrets.verify(id, secret, hash)).toBe(true);
    expect(b.hasher.compares).toBe(compares);
  });

  it('binds the record to its credential and bcrypt hash: another credential, or a regenerated secret, is not vouched for', async () => {
    const id = randomUUID();
    expect(await a.secrets.verify(id, secret, hash)).toBe(true);
    expect(await b.secrets.recall(randomUUID(), secret, hash)).toBe(false);
    const regenerated = await a.hasher.hash('svcs_a-new-secret');
    // Not dropped by any event: the hash alone makes the old record useless against the new secret.
    expect(await b.secrets.recall(id, secret, regenerated)).toBe(false);
    expect(await b.secrets.verify(id, secret, regenerated)).toBe(false);
  });

  it('a server with another server-side secret cannot use the records', async () => {
    const id = randomUUID();
    expect(await a.secrets.verify(id, secret, hash)).toBe(true);
    const stranger = await instance(randomBytes(32));
    expect(await stranger.secrets.recall(id, secret, hash)).toBe(false);
  });

  it('a credential event drops the record for every instance', async () => {
    const id = randomUUID();
    expect(await a.secrets.verify(id, secret, hash)).toBe(true);
    await b.notifier.publish(credentialEvent(id));
    await eventually(async () => {
      expect(await a.secrets.recall(id, secret, hash)).toBe(false);
    });
    const compares = a.hasher.compares;
    expect(await a.secrets.verify(id, secret, hash)).toBe(true);
    expect(a.hasher.compares).toBe(compares + 1);
  });

  it('a bcrypt compare in flight when its credential is dropped writes no record (nor does a later one of that fill)', async () => {
    const id = randomUUID();
    const release = a.hasher.hold();
    const inFlight = a.secrets.verify(id, secret, hash);
    await eventually(async () => expect(a.hasher.compares).toBeGreaterThan(0));
    // Another instance commits a revocation while A's bcrypt runs; A hears of it before bcrypt answers.
    const heard = new Promise<void>((resolve) => {
      const stop = a.notifier.onChange((event) => {
        if (event.type === 'credential' && event.credentialId === id) resolve(void stop());
      });
    });
    await b.notifier.publish(credentialEvent(id));
    await heard;
    release();
    // bcrypt's verdict on the hash stands for this caller, but nobody remembers it.
    expect(await inFlight).toBe(true);
    expect(await b.secrets.recall(id, secret, hash)).toBe(false);
    expect(await a.secrets.recall(id, secret, hash)).toBe(false);
  });

  it('concurrent first checks of one secret share one record read and one bcrypt compare', async () => {
    const id = randomUUID();
    const compares = a.hasher.compares;
    const answers = await Promise.all(Array.from({ length: 20 }, () => a.secrets.verify(id, secret, hash)));
    expect(answers.every(Boolean)).toBe(true);
    expect(a.hasher.compares).toBe(compares + 1);
    const before = b.secrets.checks.records;
    const recalled = await Promise.all(Array.from({ length: 20 }, () => b.secrets.recall(id, secret, hash)));
    expect(recalled.every(Boolean)).toBe(true);
    expect(b.secrets.checks.records.hits + b.secrets.checks.records.misses).toBe(
      before.hits + before.misses + 1,
    );
  });

  it('keeps no secret material in the state store: the key names the credential id, the value holds keyed digests only', async () => {
    const id = randomUUID();
    expect(await a.secrets.verify(id, secret, hash)).toBe(true);
    const store = stores[0]!;
    const value = await store.get(`verified-secret:${id}`);
    expect(value).toMatch(/^r1 [A-Za-z0-9_-]{43}$/);
    expect(value).not.toContain(secret);
    expect(value).not.toContain(hash);
  });
});
