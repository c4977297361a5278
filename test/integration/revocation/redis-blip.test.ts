/**
 * Issue 12, race 2 over HTTP, with two server instances sharing Postgres and a private redis-server:
 * Redis restarts (empty) while instance A revokes a credential that instance B has cached, and B's
 * reconnect is held (B reaches Redis through a proxy) until A has published the revoke, so the event
 * is lost for B on every run. As soon as B is subscribed again it must refuse the credential.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.ts';
import { generateSigningKeys } from '../../../src/keys/signing-keys.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { migrateToLatest, openDatabase } from '../../../src/persistence/database.ts';
import { type RunningServer, startServer } from '../../../src/server.ts';
import type { ChangeEvent } from '../../../src/state/change-notifier.ts';
import { eventually } from '../../helpers/eventually.ts';
import {
  type PrivateService,
  startPrivatePostgres,
  startPrivateRedis,
} from '../../helpers/private-services.ts';
import { HoldingProxy } from '../../helpers/tcp-proxy.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { freePort } from '../../helpers/test-server.ts';
import { bootstrap, type Deployment, requestToken, serviceAccount } from './revocation-helpers.ts';

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-redis-blip-'));
const silent = createLogger({
  level: 'silent',
  destination: new Writable({ write: (_chunk, _encoding, callback) => callback() }),
});

let database: TestDatabase | undefined;
let privatePostgres: PrivateService | undefined;
let redis: PrivateService;
let proxy: HoldingProxy;
let a: RunningServer;
let b: RunningServer;

beforeAll(async () => {
  if (process.env.DATABASE_URL) database = await createTestDatabase(path.join(workDir, 'unused'));
  else privatePostgres = await startPrivatePostgres();
  const databaseUrl = database?.config.kind === 'postgres' ? database.config.url : privatePostgres!.url;
  redis = await startPrivateRedis();
  proxy = new HoldingProxy(Number(new URL(redis.url).port));
  const proxyUrl = await proxy.listen();
  const keysDir = path.join(workDir, 'keys');
  await generateSigningKeys(keysDir, 'ES256');
  const handle = await openDatabase({ kind: 'postgres', url: databaseUrl, poolMax: 2 });
  await migrateToLatest(handle.db);
  await handle.close();
  const [portA, portB] = [await freePort(), await freePort()];
  const common = {
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${portA}`,
    DATABASE_URL: databaseUrl,
    DB_POOL_MAX: '4',
    REDIS_KEY_PREFIX: `svcauth-test:${randomUUID()}:`,
    KEYS_DIR: keysDir,
    LOG_LEVEL: 'silent',
  };
  // On a busy machine a first connection can take longer than the store waits for it: start again.
  a = await eventually(
    () => startServer(loadConfig({ ...common, PORT: String(portA), REDIS_URL: redis.url }), silent),
    30_000,
  );
  b = await eventually(
    () => startServer(loadConfig({ ...common, PORT: String(portB), REDIS_URL: proxyUrl }), silent),
    30_000,
  );
}, 120_000);

afterAll(async () => {
  proxy?.release();
  await b?.close();
  await a?.close();
  await proxy?.close();
  await redis?.destroy();
  await privatePostgres?.destroy();
  fs.rmSync(workDir, { recursive: true, force: true });
}, 60_000);

describe('a Redis restart while another instance revokes, over HTTP', () => {
  it('B refuses the revoked credential as soon as it is subscribed again', async () => {
    const deployment: Deployment = {
      a: a.url,
      b: b.url,
      issuer: a.url,
      db: a.database.db,
      emptyStateStore: async () => {},
      stop: async () => {},
    };
    const org = await bootstrap(deployment, a.url, `blip-${randomUUID().slice(0, 8)}`);
    const credential = await serviceAccount(org, [org.everything]);
    // B has the credential's subject and verified secret cached.
    expect((await requestToken(b.url, credential.clientId, credential.secret)).status).toBe(200);
    await eventually(async () => {
      if (!a.notifier.healthy || !b.notifier.healthy) throw new Error('notifiers not healthy yet');
    });

    await redis.stop();
    proxy.hold();
    await redis.start();
    await eventually(() => a.state.ping());
    await org.admin.ok(
      'POST',
      `/service-accounts/${credential.accountId}/credentials/${credential.credentialId}:revoke`,
    );
    proxy.release();

    // B is subscribed again once it hears A.
    const heard: ChangeEvent[] = [];
    b.notifier.onChange((event) => heard.push(event));
    const probe: ChangeEvent = { type: 'account', orgId: randomUUID(), accountId: randomUUID() };
    await eventually(async () => {
      await a.notifier.publish(probe);
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (!heard.some((event) => event.type === 'account' && event.accountId === probe.accountId)) {
        throw new Error('B has not heard from A yet');
      }
    }, 30_000);
    expect(heard.some((event) => event.type === 'credential')).toBe(false);
    const answer = await requestToken(b.url, credential.clientId, credential.secret);
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: 'invalid_client' });
  }, 60_000);
});
