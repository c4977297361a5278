/**
 * Issue 12, a partition: instance A reaches Postgres but not Redis, instance B reaches both. A revokes
 * a credential that B has cached: A's commit writes the outbox row, but its change event never leaves
 * A. B must still drop the credential, within the outbox relay interval (about a second), instead of
 * serving it from its cache until the entry expires (60 s): the instance that relays the row publishes
 * the change it carries, to every instance and to its own caches.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config/index.ts';
import { generateSigningKeys } from '../../../src/keys/signing-keys.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { migrateToLatest, openDatabase } from '../../../src/persistence/database.ts';
import { type RunningServer, startServer } from '../../../src/server.ts';
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

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-partition-'));
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
  // Two instances on one database: real Postgres in both modes (a private server without DATABASE_URL).
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
    () => startServer(loadConfig({ ...common, PORT: String(portA), REDIS_URL: proxyUrl }), silent),
    30_000,
  );
  b = await eventually(
    () => startServer(loadConfig({ ...common, PORT: String(portB), REDIS_URL: redis.url }), silent),
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

describe('an instance cut off from Redis revokes a credential another instance has cached', () => {
  it('the other instance refuses the credential within the relay interval, not at cache expiry', async () => {
    const deployment: Deployment = {
      a: a.url,
      b: b.url,
      issuer: a.url,
      db: a.database.db,
      emptyStateStore: async () => {},
      stop: async () => {},
    };
    const org = await bootstrap(deployment, a.url, `partition-${randomUUID().slice(0, 8)}`);
    const credential = await serviceAccount(org, [org.everything]);
    await eventually(async () => {
      if (!a.notifier.healthy || !b.notifier.healthy) throw new Error('notifiers not healthy yet');
    });
    // B has the credential's subject and verified secret cached, and trusts its caches.
    expect((await requestToken(b.url, credential.clientId, credential.secret)).status).toBe(200);

    proxy.cut();
    await org.admin.ok(
      'POST',
      `/service-accounts/${credential.accountId}/credentials/${credential.credentialId}:revoke`,
    );
    // A's publish failed: nothing but the outbox row tells B. B's cache entry lives 60 s; the relay
    // runs every second, so a few seconds (with room for a busy machine) separate the two.
    await vi.waitFor(
      async () => {
        const answer = await requestToken(b.url, credential.clientId, credential.secret);
        expect(answer.status).toBe(401);
        expect(answer.body).toMatchObject({ error: 'invalid_client' });
      },
      { timeout: 10_000, interval: 200 },
    );
    // B trusted its caches throughout: the refusal came from an event, not from a bypass.
    expect(b.notifier.healthy).toBe(true);
  }, 60_000);
});
