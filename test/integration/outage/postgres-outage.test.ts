import { afterAll, beforeAll, expect, it } from 'vitest';
import { type PrivateService, startPrivatePostgres } from '../../helpers/private-services.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { adminApi, adminToken, bootstrapAdmin } from '../admin/admin-helpers.ts';
import {
  backgroundLoad,
  readiness,
  report,
  seedTwoCredentials,
  tokenStatus,
  waitFor,
} from './outage-helpers.ts';

let postgres: PrivateService;
let server: TestServer;

beforeAll(async () => {
  postgres = await startPrivatePostgres();
  server = await startTestServer({ DATABASE_URL: postgres.url });
});
afterAll(async () => {
  await server?.stop();
  await postgres?.destroy();
});

it('Postgres stopped and restarted: warm credentials keep working, the rest get 503 + Retry-After, recovery is automatic', async () => {
  const { warm, cold } = await seedTwoCredentials(server);
  expect((await tokenStatus(server, warm)).status).toBe(200);

  const load = backgroundLoad(server, warm);
  await postgres.stop();
  const downDetected = await waitFor(async () => (await readiness(server)).status === 503, '/readyz to fail');
  expect((await readiness(server)).body.checks).toMatchObject({ database: 'unavailable' });
  report(`Postgres down: /readyz answered 503 after ${downDetected} ms`);

  // Nothing can be revoked without the database, so a cached credential's answer cannot be stale.
  expect((await tokenStatus(server, warm)).status).toBe(200);
  // A credential never seen by this instance cannot be checked: a clear 503, not a 500 or a 401.
  const unavailable = await tokenStatus(server, cold);
  expect(unavailable.status).toBe(503);
  expect(unavailable.body.error).toBe('temporarily_unavailable');
  expect(unavailable.retryAfter).toBe('5');
  const admin = await fetch(`${server.url}/admin/v1/service-accounts`, {
    headers: { authorization: 'Bearer x' },
  });
  expect(admin.status).not.toBe(500);

  await postgres.start();
  const seen = await load.stop();
  report(`statuses under load while postgres was down: ${JSON.stringify(Object.fromEntries(seen))}`);
  // A valid credential under load got tokens or a clear 503: never a 500, never a refusal.
  expect([...seen.keys()].every((status) => status === 200 || status === 503)).toBe(true);
  const recovered = await waitFor(async () => (await readiness(server)).status === 200, '/readyz to recover');
  report(`Postgres back: /readyz answered 200 after ${recovered} ms, without a restart of svcauth`);
  const afterRecovery = await waitFor(
    async () => (await tokenStatus(server, cold)).status === 200,
    'the cold credential to get a token',
  );
  report(`first token for a never-seen credential ${afterRecovery} ms after /readyz recovered`);
  expect((await tokenStatus(server, warm)).status).toBe(200);
}, 90_000);

it('the management API answers 503 problem+json with Retry-After while Postgres is down', async () => {
  const admin = await bootstrapAdmin(server, 'outage-admin');
  const api = adminApi(server, await adminToken(server, admin));
  expect((await api.get('/service-accounts')).status).toBe(200);

  await postgres.stop();
  try {
    await waitFor(async () => (await readiness(server)).status === 503, '/readyz to fail');
    for (const call of [
      () => api.get('/service-accounts'),
      () => api.post('/service-accounts', { name: 'made during the outage' }),
    ]) {
      const answer = await call();
      expect(answer.status).toBe(503);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(answer.body).toMatchObject({
        status: 503,
        type: 'https://svcauth.dev/problems/database_unavailable',
      });
      expect(answer.body.detail).toMatch(/retry/);
    }
  } finally {
    await postgres.start();
  }
  await waitFor(
    async () => (await api.get('/service-accounts')).status === 200,
    'the management API to recover',
  );
}, 90_000);
