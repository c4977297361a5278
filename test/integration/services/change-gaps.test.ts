/**
 * Issue 12, race 2: pub/sub keeps nothing for a subscriber that is away. An instance whose subscription
 * missed a change (a Redis restart of a fraction of a second, or a message lost on the way) must not
 * go on answering from caches built before it. Instance B is a notifier with a token-subject cache;
 * instance A publishes the revoke while B cannot hear it, deterministically:
 * - Redis restart: B reaches a private redis-server through a proxy the test holds, so B's reconnect
 *   completes only after A has published the revoke to the restarted Redis;
 * - lost message: B's view of the in-process store drops exactly the revoke's message.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logging/logger.ts';
import { CredentialRepository } from '../../../src/persistence/repositories/credential-repository.ts';
import { CachedSubjectResolver } from '../../../src/cache/cached-subject-resolver.ts';
import { type ChangeEvent, ChangeNotifier } from '../../../src/state/change-notifier.ts';
import { TokenSubjectService } from '../../../src/services/token-subject-service.ts';
import { MemoryStateStore, RedisStateStore, type StateStore } from '../../../src/state/index.ts';
import { eventually } from '../../helpers/eventually.ts';
import { Fixtures } from '../../helpers/fixtures.ts';
import { type PrivateService, startPrivateRedis } from '../../helpers/private-services.ts';
import { HoldingProxy } from '../../helpers/tcp-proxy.ts';
import { openTestDatabase, type OpenTestDatabase } from '../../helpers/test-database.ts';

const logger = createLogger({ level: 'silent' });

let database: OpenTestDatabase;
let fixtures: Fixtures;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  database = await openTestDatabase('change-gaps');
  fixtures = new Fixtures(database.db);
}, 120_000);

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

afterAll(async () => {
  await database?.destroy();
});

interface Instance {
  notifier: ChangeNotifier;
  subjects: CachedSubjectResolver;
  heard: ChangeEvent[];
}

async function instance(store: StateStore): Promise<Instance> {
  const notifier = new ChangeNotifier(store, logger);
  await notifier.start();
  closers.push(() => notifier.close());
  const heard: ChangeEvent[] = [];
  notifier.onChange((event) => heard.push(event));
  return {
    notifier,
    subjects: new CachedSubjectResolver(new TokenSubjectService(database.db), notifier),
    heard,
  };
}

/** A credential that B has cached, revoked in the database (its change event not yet published). */
async function revokedWhileCachedOn(b: Instance) {
  const org = await fixtures.organization();
  const role = await fixtures.role(org.id, ['items:read']);
  const account = await fixtures.account(org.id, { allLocations: true, roles: [{ roleId: role.id }] });
  const credential = await fixtures.credential(org.id, account.id);
  expect(await b.subjects.findByClientId(credential.clientId)).not.toBeNull();
  const hits = b.subjects.stats.hits;
  expect(await b.subjects.findByClientId(credential.clientId)).not.toBeNull();
  expect(b.subjects.stats.hits).toBe(hits + 1);
  await new CredentialRepository(database.db).revoke([credential.id], new Date(), 'test');
  const event: ChangeEvent = {
    type: 'credential',
    orgId: org.id,
    accountId: account.id,
    credentialId: credential.id,
    clientId: credential.clientId,
    revoked: true,
  };
  return { clientId: credential.clientId, event };
}

/** A publishes unrelated changes until B hears one: B's subscription works again. */
async function untilBHearsFromA(a: Instance, b: Instance): Promise<void> {
  const probe: ChangeEvent = { type: 'account', orgId: randomUUID(), accountId: randomUUID() };
  await eventually(async () => {
    await a.notifier.publish(probe);
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (!b.heard.some((event) => event.type === 'account' && event.accountId === probe.accountId)) {
      throw new Error('B has not heard from A yet');
    }
  }, 30_000);
}

async function bothHealthy(a: Instance, b: Instance): Promise<void> {
  await eventually(async () => {
    if (!a.notifier.healthy || !b.notifier.healthy) throw new Error('notifiers not healthy yet');
  });
}

describe('a Redis restart while another instance revokes', () => {
  let redis: PrivateService;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  }, 60_000);
  afterAll(async () => {
    await redis?.destroy();
  });

  it('B, which missed the revoke while reconnecting, refuses the credential as soon as it is back', async () => {
    const proxy = new HoldingProxy(Number(new URL(redis.url).port));
    const proxyUrl = await proxy.listen();
    closers.push(() => proxy.close());
    const prefix = `svcauth-test:${randomUUID()}:`;
    const storeA = new RedisStateStore({ url: redis.url, prefix });
    const storeB = new RedisStateStore({ url: proxyUrl, prefix });
    closers.push(
      () => storeA.close(),
      () => storeB.close(),
    );
    // On a busy machine a first connection can take longer than the store waits for it: start again.
    const a = await eventually(() => instance(storeA), 30_000);
    const b = await eventually(() => instance(storeB), 30_000);
    await bothHealthy(a, b);
    const { clientId, event } = await revokedWhileCachedOn(b);

    // Redis restarts (empty); B's reconnect is held until A has published the revoke.
    await redis.stop();
    proxy.hold();
    await redis.start();
    await eventually(() => storeA.ping());
    await a.notifier.publish(event);
    proxy.release();

    await untilBHearsFromA(a, b);
    expect(b.heard).not.toContainEqual(event);
    expect(await b.subjects.findByClientId(clientId)).toBeNull();
  }, 60_000);
});

describe('a change message lost on the way', () => {
  it('B notices the gap with A’s next message and drops what it cached', async () => {
    const shared = new MemoryStateStore({ prefix: `t:${randomUUID()}:` });
    closers.push(() => shared.close());
    let dropNext: ((message: string) => boolean) | undefined;
    // B's view of the store: the same store, except that it loses the next message dropNext matches.
    const lossy = new Proxy(shared, {
      get(target, property) {
        if (property === 'subscribe') {
          return (channel: string, onMessage: (message: string) => void, ...rest: unknown[]) =>
            (target.subscribe as (...args: unknown[]) => Promise<unknown>)(
              channel,
              (message: string) => {
                if (dropNext?.(message)) {
                  dropNext = undefined;
                  return;
                }
                onMessage(message);
              },
              ...rest,
            );
        }
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as StateStore;
    const a = await instance(shared);
    const b = await instance(lossy);
    await bothHealthy(a, b);
    // B knows A by its messages: the loss of a publisher's very first message cannot be told.
    await untilBHearsFromA(a, b);
    const { clientId, event } = await revokedWhileCachedOn(b);

    dropNext = (message) => message.includes(event.credentialId);
    await a.notifier.publish(event);
    await untilBHearsFromA(a, b);
    expect(dropNext).toBeUndefined();
    expect(b.heard).not.toContainEqual(event);
    expect(await b.subjects.findByClientId(clientId)).toBeNull();
  });
});
