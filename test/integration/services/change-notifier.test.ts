import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logging/logger.ts';
import { type ChangeEvent, ChangeNotifier } from '../../../src/state/change-notifier.ts';
import { MemoryStateStore, RedisStateStore, type StateStore } from '../../../src/state/index.ts';
import { until } from '../../helpers/eventually.ts';
import { redisForTests } from '../../helpers/private-services.ts';

const logger = createLogger({ level: 'silent' });
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function notifierOn(store: StateStore): Promise<ChangeNotifier> {
  const notifier = new ChangeNotifier(store, logger);
  await notifier.start();
  closers.push(() => notifier.close());
  return notifier;
}

const event: ChangeEvent = { type: 'account', orgId: 'o1', accountId: 'a1' };

describe('ChangeNotifier on the in-process store', () => {
  it('delivers locally at once and reports healthy once its heartbeat comes back', async () => {
    const store = new MemoryStateStore({ prefix: `t:${randomUUID()}:` });
    closers.push(() => store.close());
    const notifier = await notifierOn(store);
    const seen: ChangeEvent[] = [];
    notifier.onChange((e) => seen.push(e));
    await notifier.publish(event);
    expect(seen).toEqual([event]);
    await until(() => notifier.healthy, 'healthy');
  });
});

describe('ChangeNotifier when its subscription is lost', () => {
  it('stops vouching for caches at once, and its listeners start over', async () => {
    const store = new MemoryStateStore({ prefix: `t:${randomUUID()}:` });
    const notifier = await notifierOn(store);
    await until(() => notifier.healthy, 'healthy');
    let resyncs = 0;
    notifier.onResync(() => (resyncs += 1));
    await store.close();
    expect(notifier.healthy).toBe(false);
    expect(resyncs).toBe(1);
  });
});

describe('ChangeNotifier across instances on Redis', () => {
  let redisUrl: string;
  let release: () => Promise<void>;
  beforeAll(async () => {
    ({ url: redisUrl, release } = await redisForTests());
  });
  afterAll(() => release?.());

  it('delivers an event published on one instance to another, once', async () => {
    const prefix = `svcauth-test:${randomUUID()}:`;
    const storeA = new RedisStateStore({ url: redisUrl, prefix });
    const storeB = new RedisStateStore({ url: redisUrl, prefix });
    closers.push(
      () => storeA.close(),
      () => storeB.close(),
    );
    const a = await notifierOn(storeA);
    const b = await notifierOn(storeB);
    const seenA: ChangeEvent[] = [];
    const seenB: ChangeEvent[] = [];
    a.onChange((e) => seenA.push(e));
    b.onChange((e) => seenB.push(e));
    await until(() => a.healthy && b.healthy, 'both healthy');
    await a.publish(event);
    await until(() => seenB.length === 1, 'delivery to B');
    expect(seenA).toEqual([event]);
    expect(seenB).toEqual([event]);
  });

  it('turns unhealthy when its store is gone, so caches stop answering', async () => {
    const store = new RedisStateStore({
      url: redisUrl,
      prefix: `svcauth-test:${randomUUID()}:`,
    });
    const notifier = await notifierOn(store);
    await until(() => notifier.healthy, 'healthy');
    await store.close();
    await until(() => !notifier.healthy, 'unhealthy');
  });
});

/** An in-process store that can go silent: publishes fail and nothing is delivered, connections stay "open". */
class FreezableStore extends MemoryStateStore {
  frozen = false;
  override async publish(channel: string, message: string): Promise<void> {
    if (this.frozen) throw new Error('the state store does not answer');
    await super.publish(channel, message);
  }
}

describe('ChangeNotifier when the state store freezes', () => {
  // Redis frozen (SIGSTOP, a stalled network): nothing closes, so no instance hears of a lost
  // subscription; the others' only signal is the silence of heartbeats, which they notice within
  // HEALTHY_WITHIN_MS. A publish that did not go out must not return (and so the change must not be
  // acknowledged) while another instance may still trust caches that predate it.
  it('a failed publish returns only once every other instance has stopped trusting its caches', async () => {
    const store = new FreezableStore({ prefix: `t:${randomUUID()}:` });
    closers.push(() => store.close());
    const a = await notifierOn(store);
    const b = await notifierOn(store);
    await until(() => a.healthy && b.healthy, 'both healthy');
    store.frozen = true;
    await a.publish(event);
    expect(b.healthy).toBe(false);
  });
});
