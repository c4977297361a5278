import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.ts';
import { createStateStore } from '../../../src/state/index.ts';
import { RedisStateStore } from '../../../src/state/redis-state-store.ts';
import { type StateStore, StateStoreUnavailableError } from '../../../src/state/state-store.ts';
import { describeStateStoreContract } from '../../contract/state-store-contract.ts';
import { type PrivateRedisCluster, startPrivateRedisCluster } from '../../helpers/private-services.ts';
import { startTestServer } from '../../helpers/test-server.ts';
import { readiness, revoke, seedTwoCredentials, tokenStatus, waitFor } from '../outage/outage-helpers.ts';
import { eventually } from '../../helpers/eventually.ts';

// A private three-master cluster (never the machine's shared Redis): the outage tests kill its nodes.
// Its nodes require a password, so every test also proves that REDIS_URL's credentials reach each
// node's connection and the subscriber's.
const password = `cluster-${randomUUID()}`;
// The host of the URL is not used with cluster nodes: it only gives the credentials.
const url = `redis://:${password}@ignored.invalid:6379`;
const runPrefix = `svcauth-test:${randomUUID()}:`;
let cluster: PrivateRedisCluster;

beforeAll(async () => {
  cluster = await startPrivateRedisCluster({ masters: 3, password });
});

afterAll(async () => {
  await cluster?.destroy();
});

function clusterStore(namespace = 'shared'): RedisStateStore {
  return new RedisStateStore({ url, clusterNodes: cluster.nodes, prefix: `${runPrefix}${namespace}:` });
}

describe('RedisStateStore on a Redis Cluster', () => {
  describeStateStoreContract('RedisStateStore (Redis Cluster)', (options) =>
    clusterStore(options?.namespace),
  );

  it('REDIS_CLUSTER_NODES: stores from the configuration share state spread over every master', async () => {
    const config = loadConfig({
      REDIS_URL: url,
      REDIS_CLUSTER_NODES: cluster.nodes.map(({ host, port }) => `${host}:${port}`).join(','),
    });
    expect(config.redisClusterNodes).toEqual(cluster.nodes);
    const prefix = `${runPrefix}config:`;
    const stores: StateStore[] = [0, 1].map(() =>
      createStateStore({ redisUrl: config.redisUrl, redisClusterNodes: config.redisClusterNodes, prefix }),
    );
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `spread:${i}`);
      await Promise.all(keys.map((key, i) => stores[0]!.set(key, `value-${i}`, 60)));
      expect(await stores[1]!.getMany([...keys, 'spread:missing'])).toEqual([
        ...keys.map((_, i) => `value-${i}`),
        null,
      ]);
      // Each master holds some of the keys: the store really spreads over the cluster.
      const perMaster = await countKeysPerMaster(prefix);
      expect(perMaster).toHaveLength(3);
      for (const count of perMaster) expect(count).toBeGreaterThan(0);
      expect(perMaster.reduce((sum, count) => sum + count, 0)).toBe(keys.length);

      const received: string[] = [];
      await stores[1]!.subscribe('channel', (message) => received.push(message));
      await stores[0]!.publish('channel', 'hello');
      for (let i = 0; i < 50 && received.length === 0; i++) await sleep(50);
      expect(received).toEqual(['hello']);
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it("delivers one store's messages in publish order, though the cluster has several nodes", async () => {
    const subscriber = clusterStore('ordering');
    const publisher = clusterStore('ordering');
    try {
      const received: string[] = [];
      await subscriber.subscribe('sequence', (message) => received.push(message));
      const sent = Array.from({ length: 100 }, (_, i) => `message-${i}`);
      await Promise.all(sent.map((message) => publisher.publish('sequence', message)));
      for (let i = 0; i < 100 && received.length < sent.length; i++) await sleep(50);
      expect(received).toEqual(sent);
    } finally {
      await subscriber.close();
      await publisher.close();
    }
  });

  it('a server configured with REDIS_CLUSTER_NODES is ready, issues tokens and honours revocations', async () => {
    const server = await startTestServer({
      REDIS_URL: url,
      REDIS_CLUSTER_NODES: cluster.nodes.map(({ host, port }) => `${host}:${port}`).join(','),
    });
    try {
      const ready = await readiness(server);
      expect(ready.status).toBe(200);
      expect(ready.body.checks).toMatchObject({ state_store: 'ok' });
      const { org, account, warm } = await seedTwoCredentials(server);
      expect((await tokenStatus(server, warm)).status).toBe(200);
      // The revocation reaches the server's credential cache as a change event over cluster pub/sub.
      await revoke(server, { orgId: org.id, accountId: account.id }, warm);
      await waitFor(async () => (await tokenStatus(server, warm)).status === 401, 'the revocation to apply');
    } finally {
      await server.stop();
    }
  });

  // The outage tests come last: they kill nodes, and restore the cluster before they end.
  it('fails with StateStoreUnavailableError while a master is down, readiness reports it, and subscriptions move on', async () => {
    const store = clusterStore('one-master-down');
    const publisher = clusterStore('one-master-down');
    try {
      const received: string[] = [];
      await store.subscribe('events', (message) => received.push(message));
      // The master that carries the subscription is the one to lose.
      const subscribedPort = await portWithSubscriber(`${runPrefix}one-master-down:events`);
      const victim = cluster.servers.find((server) => new URL(server.url).port === String(subscribedPort))!;
      const keys = Array.from({ length: 30 }, (_, i) => `key:${i}`);
      await Promise.all(keys.map((key) => store.set(key, 'v', 60)));
      await victim.stop();

      // The keys on the dead master fail as unavailable, never as another error (which would be a 500).
      const failures = (results: PromiseSettledResult<unknown>[]) =>
        results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
      const rightAfter = failures(await Promise.allSettled(keys.map((key) => store.get(key))));
      expect(rightAfter.length).toBeGreaterThan(0);
      for (const failure of rightAfter) expect(failure).toBeInstanceOf(StateStoreUnavailableError);
      // The subscriber reconnects to another node, which PUBLISH reaches as well.
      await eventually(async () => {
        await publisher.publish('events', 'without-that-master').catch(() => {});
        await sleep(50);
        expect(received).toContain('without-that-master');
      });
      // Once the cluster has declared the master failed, every key fails (CLUSTERDOWN), and so does ping.
      await eventually(async () => {
        await expect(store.ping()).rejects.toBeInstanceOf(StateStoreUnavailableError);
        const all = failures(await Promise.allSettled(keys.map((key) => store.get(key))));
        expect(all).toHaveLength(keys.length);
        for (const failure of all) expect(failure).toBeInstanceOf(StateStoreUnavailableError);
      }, 20_000);

      await victim.start();
      await cluster.waitUntilServing();
      await eventually(() => store.ping());
      await store.set('after', 'v', 60);
      expect(await store.get('after')).toBe('v');
    } finally {
      await store.close();
      await publisher.close();
    }
  }, 60_000);

  it('fails fast while the whole cluster is down, without spinning, then recovers commands and subscriptions', async () => {
    const store = clusterStore('outage');
    const publisher = clusterStore('outage');
    try {
      const received: string[] = [];
      await store.subscribe('events', (message) => received.push(message));
      await store.set('key', 'before', 60);

      await cluster.stop();
      for (const attempt of [() => store.get('key'), () => store.ping(), () => store.set('key', 'v', 60)]) {
        const started = Date.now();
        await expect(attempt()).rejects.toBeInstanceOf(StateStoreUnavailableError);
        expect(Date.now() - started).toBeLessThan(3000);
      }
      // Neither the command client nor the subscriber may retry in a busy loop while nothing answers.
      const cpuBefore = process.cpuUsage();
      await sleep(2000);
      const cpu = process.cpuUsage(cpuBefore);
      expect((cpu.user + cpu.system) / 1000).toBeLessThan(500);

      await cluster.start();
      await eventually(() => store.ping(), 20_000);
      // The nodes have no persistence, so the key is gone; the point is that commands work again.
      await store.set('key', 'after', 60);
      expect(await store.get('key')).toBe('after');
      await eventually(async () => {
        await publisher.publish('events', 'after-outage');
        await sleep(50);
        expect(received).toContain('after-outage');
      }, 20_000);
    } finally {
      await store.close();
      await publisher.close();
    }
  }, 60_000);
});

/** Runs inspect with a cluster client of the test's own, connected to every master. */
async function withClusterClient<T>(inspect: (client: Cluster) => Promise<T>): Promise<T> {
  const client = new Cluster(cluster.nodes, { redisOptions: { password } });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
    });
    return await inspect(client);
  } finally {
    client.disconnect();
  }
}

/** The port of the node on which someone subscribes to channel (PUBSUB NUMSUB counts a node's own). */
async function portWithSubscriber(channel: string): Promise<number> {
  return withClusterClient(async (client) => {
    for (const node of client.nodes('master')) {
      const [, count] = (await node.pubsub('NUMSUB', channel)) as [string, number];
      if (Number(count) > 0) return node.options.port!;
    }
    throw new Error(`no node has a subscriber to ${channel}`);
  });
}

/** Keys under prefix on each master: SCAN covers one node only, so it runs on every master in turn. */
async function countKeysPerMaster(prefix: string): Promise<number[]> {
  return withClusterClient(async (client) => {
    const counts: number[] = [];
    for (const master of client.nodes('master')) {
      let count = 0;
      let cursor = '0';
      do {
        const [next, keys] = await master.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        count += keys.length;
      } while (cursor !== '0');
      counts.push(count);
    }
    return counts;
  });
}
