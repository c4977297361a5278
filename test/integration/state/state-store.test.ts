import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createStateStore } from '../../../src/state/index.ts';
import { MemoryStateStore } from '../../../src/state/memory-state-store.ts';
import { RedisStateStore } from '../../../src/state/redis-state-store.ts';
import { StateStoreUnavailableError } from '../../../src/state/state-store.ts';
import { describeStateStoreContract } from '../../contract/state-store-contract.ts';
import { eventually } from '../../helpers/eventually.ts';
import { redisForTests, startPrivateRedis } from '../../helpers/private-services.ts';
import { deleteKeysWithPrefix } from '../../helpers/redis-keys.ts';
import { HoldingProxy } from '../../helpers/tcp-proxy.ts';
import { freePort } from '../../helpers/test-server.ts';

/** The machine's Redis on the Postgres + Redis run, a private one on the embedded run. */
const redis = await redisForTests();
const redisUrl = redis.url;
afterAll(() => redis.release());
const runPrefix = `svcauth-test:${randomUUID()}:`;

function prefixFor(namespace = 'shared'): string {
  return `${runPrefix}${namespace}:`;
}

describeStateStoreContract(
  'MemoryStateStore',
  (options) => new MemoryStateStore({ prefix: prefixFor(options?.namespace) }),
);

describe('RedisStateStore', () => {
  describeStateStoreContract(
    'RedisStateStore',
    (options) => new RedisStateStore({ url: redisUrl, prefix: prefixFor(options?.namespace) }),
  );

  afterAll(async () => {
    await deleteKeysWithPrefix(redisUrl, runPrefix);
  });
});

describe('createStateStore', () => {
  it('creates a memory store without a Redis URL', async () => {
    const store = createStateStore({ prefix: prefixFor('factory') });
    expect(store.kind).toBe('memory');
    await store.close();
  });

  it('creates a Redis store with a Redis URL', async () => {
    const store = createStateStore({ redisUrl: redisUrl, prefix: prefixFor('factory') });
    expect(store.kind).toBe('redis');
    await store.ping();
    await store.close();
  });
});

describe('RedisStateStore without Redis', () => {
  it('rejects commands and pings instead of waiting for Redis to appear', async () => {
    const port = await freePort();
    const store = new RedisStateStore({
      url: `redis://:secret-password@127.0.0.1:${port}`,
      prefix: prefixFor(),
    });
    try {
      const [pingFailure, getFailure, subscribeFailure] = await Promise.all([
        store.ping().catch((error: unknown) => error),
        store.get('anything').catch((error: unknown) => error),
        store.subscribe('anything', () => {}).catch((error: unknown) => error),
      ]);
      expect(pingFailure).toBeInstanceOf(StateStoreUnavailableError);
      expect(getFailure).toBeInstanceOf(StateStoreUnavailableError);
      expect(subscribeFailure).toBeInstanceOf(StateStoreUnavailableError);
      expect(String(pingFailure)).not.toContain('secret-password');
    } finally {
      await store.close();
    }
  });
});

// A private, throw-away redis-server (not the shared one at REDIS_URL), because this test stops it.
describe('RedisStateStore across a Redis outage', () => {
  it('fails while Redis is down, then recovers commands and subscriptions on its own', async () => {
    const server = await startPrivateRedis();
    const url = server.url;
    const store = new RedisStateStore({ url, prefix: prefixFor('outage') });
    const publisher = new RedisStateStore({ url, prefix: prefixFor('outage') });
    try {
      const received: string[] = [];
      await store.subscribe('events', (message) => received.push(message));
      await store.set('key', 'before', 60);

      await server.stop();
      await expect(store.get('key')).rejects.toBeInstanceOf(StateStoreUnavailableError);
      await expect(store.ping()).rejects.toBeInstanceOf(StateStoreUnavailableError);

      await server.start();
      await eventually(() => store.ping());
      // The private server has no persistence, so the key is gone; the point is that commands work again.
      await store.set('key', 'after', 60);
      expect(await store.get('key')).toBe('after');
      await eventually(async () => {
        await publisher.publish('events', 'after-outage');
        await sleep(50);
        expect(received).toContain('after-outage');
      });
    } finally {
      await store.close();
      await publisher.close();
      await server.destroy();
    }
  }, 30_000);
});

// A first handshake that Redis answers slowly (a loaded machine, a cluster building its slot map) is not
// an outage: an instance starting then must not fail with "Redis is unavailable (connection connect)".
describe('RedisStateStore on a slow first handshake', () => {
  it('waits for a first handshake in progress longer than for a lost connection', async () => {
    const target = new URL(redisUrl);
    const proxy = new HoldingProxy(Number(target.port || 6379));
    const proxyUrl = await proxy.listen();
    proxy.hold();
    const store = new RedisStateStore({ url: proxyUrl, prefix: prefixFor('slow-handshake') });
    try {
      const answer = store.get('anything').then(
        (value) => ({ value }),
        (error: unknown) => ({ error: String(error) }),
      );
      await sleep(1500);
      proxy.release();
      expect(await answer).toEqual({ value: null });
    } finally {
      await store.close();
      await proxy.close();
    }
  });
});
