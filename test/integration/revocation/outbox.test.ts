/**
 * Issue 12, race 4: a revocation the API acknowledged reaches the feed even if the instance that
 * recorded it dies the next instant, while its state store did not answer. Instance A is cut off from
 * Redis (a partition: Redis keeps running with its contents, so nothing triggers a rebuild), a
 * credential is revoked through A's management API and a token through A's POST /revoke, then A goes
 * away without writing them to the state store (close() while still cut off: what it held in memory
 * is lost, as in a crash). Instance B, on the same database and Redis, must put both on the feed.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../../src/config/index.ts';
import { generateSigningKeys } from '../../../src/keys/signing-keys.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { type RunningServer, startServer } from '../../../src/server.ts';
import { type PrivateService, startPrivateRedis } from '../../helpers/private-services.ts';
import { HoldingProxy } from '../../helpers/tcp-proxy.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { freePort } from '../../helpers/test-server.ts';
import {
  accessToken,
  bootstrap,
  type Deployment,
  eventually,
  feedSnapshot,
  RESOURCE_SERVER,
  revokeToken,
  serviceAccount,
} from './revocation-helpers.ts';

let redis: PrivateService;
let proxy: HoldingProxy;
let database: TestDatabase;
let workDir: string;
const running: RunningServer[] = [];

const silent = createLogger({
  level: 'silent',
  destination: new Writable({ write: (_chunk, _encoding, callback) => callback() }),
});

async function configFor(redisUrl: string): Promise<Config> {
  const port = await freePort();
  return loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    KEYS_DIR: path.join(workDir, 'keys'),
    DATA_DIR: path.join(workDir, 'data'),
    ...(database.config.kind === 'postgres' ? { DATABASE_URL: database.config.url } : {}),
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: 'svcauth-outbox-test:',
    RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
    LOG_LEVEL: 'silent',
  });
}

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-outbox-'));
  database = await createTestDatabase(path.join(workDir, 'data'));
  if (database.config.kind === 'postgres') await generateSigningKeys(path.join(workDir, 'keys'), 'ES256');
  redis = await startPrivateRedis();
  proxy = new HoldingProxy(Number(new URL(redis.url).port));
  await proxy.listen();
});
afterAll(async () => {
  for (const server of running) await server.close();
  await proxy?.close();
  await redis?.destroy();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

it('revocations acknowledged while the state store was unreachable reach the feed after their instance died', async () => {
  const a = await startServer(await configFor(`redis://127.0.0.1:${proxy.port}`), silent);
  running.push(a);
  const deploymentA: Deployment = {
    a: a.url,
    b: a.url,
    issuer: a.url,
    db: a.database.db,
    emptyStateStore: async () => {},
    stop: async () => {},
  };
  const organization = await bootstrap(deploymentA, a.url, `outbox-${randomUUID().slice(0, 8)}`);
  const revoked = await serviceAccount(organization, [organization.reader]);
  const holder = await serviceAccount(organization, [organization.reader]);
  const token = await accessToken(a.url, holder.clientId, holder.secret);
  const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
  // A is serving and its feed has an epoch in Redis: a later instance has no reason to rebuild.
  expect((await feedSnapshot(a.url)).status).toBe(200);

  proxy.cut();
  await organization.admin.ok(
    'POST',
    `/service-accounts/${revoked.accountId}/credentials/${revoked.credentialId}:revoke`,
  );
  expect((await revokeToken(a.url, holder.clientId, holder.secret, token)).status).toBe(200);
  // A dies before Redis answers again: whatever it kept in memory is gone.
  await a.close();
  running.splice(running.indexOf(a), 1);
  proxy.release();

  const b = await startServer(await configFor(redis.url), silent);
  running.push(b);
  const onFeed = async () => {
    const snapshot = await feedSnapshot(b.url);
    const entries = (snapshot.body.entries ?? []) as Array<Record<string, unknown>>;
    return {
      credential: entries.some((e) => e.type === 'credential' && e.client_id === revoked.clientId),
      token: entries.some((e) => e.type === 'token' && e.jti === jti),
    };
  };
  await eventually(async () => expect(await onFeed()).toEqual({ credential: true, token: true }), 20_000);
  // Relayed rows leave the outbox; nothing is relayed twice by the next polls.
  await eventually(
    async () =>
      expect(await b.database.db.selectFrom('revocation_outbox').select('id').execute()).toEqual([]),
    20_000,
  );
}, 90_000);
