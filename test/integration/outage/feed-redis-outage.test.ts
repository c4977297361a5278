/**
 * Issue 12, race 3: during a Redis outage an instance cannot read the revocation state, so its
 * `GET /revocations` streams must stop vouching for freshness; the resource-server kit then applies
 * its fail-closed bound (`maxStalenessMs`) to a token whose credential was revoked during the outage.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createVerifier, type Verifier } from '../../../src/resource-server/index.ts';
import { type PrivateService, startPrivateRedis } from '../../helpers/private-services.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { report, revoke, seedTwoCredentials, tokenStatus, waitFor } from './outage-helpers.ts';

const RESOURCE_SERVER = { name: 'outage-rs', secret: randomBytes(24).toString('base64url') };

let redis: PrivateService;
let server: TestServer;
let verifier: Verifier | undefined;

beforeAll(async () => {
  redis = await startPrivateRedis();
  server = await startTestServer({
    REDIS_URL: redis.url,
    RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
  });
});
afterAll(async () => {
  await verifier?.close();
  await redis?.start();
  await server?.stop();
  await redis?.destroy();
});

it('a token of a credential revoked during a Redis outage is refused by the kit once maxStalenessMs has passed (fail-closed)', async () => {
  const { org, account, warm } = await seedTwoCredentials(server);
  const granted = await tokenStatus(server, warm);
  expect(granted.status).toBe(200);
  const token = granted.body.access_token as string;
  const maxStalenessMs = 2_000;
  verifier = createVerifier({
    issuer: server.issuer,
    audience: `${server.issuer}/api`,
    credentials: RESOURCE_SERVER,
    revocation: { mode: 'feed', maxStalenessMs, onFeedUnavailable: 'fail-closed' },
  });
  await verifier.ready();
  const accepted = () =>
    verifier!.verify(token).then(
      () => true,
      () => false,
    );
  expect(await accepted()).toBe(true);

  await redis.stop();
  // Postgres commits the revocation; the feed cannot carry it while Redis is down.
  await revoke(server, { orgId: org.id, accountId: account.id }, warm);
  const revokedAt = Date.now();
  await waitFor(async () => !(await accepted()), 'the kit to refuse the token', 30_000);
  report(
    `kit (maxStalenessMs ${maxStalenessMs}) refused the revoked credential's token ${Date.now() - revokedAt} ms after the revoke`,
  );
  const refusal = await verifier.verify(token).catch((error: unknown) => error as Error);
  expect((refusal as Error).message).toMatch(/revocation feed is unavailable/);

  // Redis back: the feed carries the revocation, so the refusal now comes from the feed itself.
  await redis.start();
  await waitFor(
    async () =>
      /credential has been revoked/.test(
        ((await verifier!.verify(token).catch((error: unknown) => error)) as Error).message,
      ),
    'the feed to name the revoked credential',
    30_000,
  );
}, 90_000);
