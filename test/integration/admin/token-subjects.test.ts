import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fixtures } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  adminApi,
  adminToken,
  type BootstrappedAdmin,
  bootstrapAdmin,
  expectStatus,
  productToken,
  requestToken,
} from './admin-helpers.ts';

/**
 * "Is this credential's token still good?" has one answer (issue 14): the management API judges an
 * admin token by the same rule /token applies when it issues one, against the same token subjects
 * (cached, dropped by change events) rather than a database read of its own per request; /introspect
 * judges product tokens by that rule too.
 */

const RESOURCE_SERVER = { name: 'subjects-rs', secret: randomBytes(24).toString('base64url') };

let server: TestServer;
let admin: BootstrappedAdmin;

beforeAll(async () => {
  server = await startTestServer({
    RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
  });
  admin = await bootstrapAdmin(server, `subjects-${Date.now().toString(36)}`);
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

/** The token subject cache's hit count, as /metrics reports it. */
async function tokenSubjectHits(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('svcauth_cache_lookups{') &&
        l.includes('cache="token_subjects"') &&
        l.includes('result="hit"'),
    );
  if (!line) throw new Error('no token_subjects hit count in /metrics');
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function introspect(token: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.issuer}/introspect`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${RESOURCE_SERVER.name}:${RESOURCE_SERVER.secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }).toString(),
  });
  return (await response.json()) as Record<string, unknown>;
}

describe('admin tokens are judged against the token subjects /token uses', () => {
  it('admin requests are answered from the token subject cache', async () => {
    const api = adminApi(server, await adminToken(server, admin));
    // The first request may have to load the subject; the next ones find it cached.
    expectStatus(await api.get('/settings'), 200);
    const before = await tokenSubjectHits();
    for (let i = 0; i < 3; i++) expectStatus(await api.get('/settings'), 200);
    expect((await tokenSubjectHits()) - before).toBeGreaterThanOrEqual(3);
  });

  it('a credential type the organization no longer allows loses its tokens at once, as at /token', async () => {
    const key = await new Fixtures(server.database.db).credential(admin.orgId, admin.accountId, 'api_key');
    const keyAdminApi = adminApi(server, await adminToken(server, { clientId: 'api', secret: key.secret! }));
    const keyProductToken = await productToken(server, 'api', key.secret!);
    expectStatus(await keyAdminApi.get('/settings'), 200);
    expect(await introspect(keyProductToken)).toMatchObject({ active: true });

    // The bootstrap admin (an oauth_client credential) narrows the allowed credential types.
    const api = adminApi(server, await adminToken(server, admin));
    expectStatus(await api.patch('/settings', { allowed_credential_types: ['oauth_client'] }), 200);

    const refused = await requestToken(server, 'api', key.secret!, `${server.issuer}/admin`);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'unauthorized_client' });
    const answer = await keyAdminApi.get('/settings');
    expect(answer.status).toBe(401);
    expect(answer.body.detail).toMatch(/credentials of type api_key are not allowed/);
    expect(await introspect(keyProductToken)).toEqual({ active: false });
    // The credential of an allowed type keeps working.
    expectStatus(await api.get('/settings'), 200);
  });

  it('a valid token of another audience, or not a token at all, is told what to fix', async () => {
    const product = await productToken(server, admin.clientId, admin.secret);
    const wrongAudience = await adminApi(server, product).get('/settings');
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.body.detail).toBe(
      `the access token is not for this API; request one with resource=${server.issuer}/admin`,
    );
    const garbage = await adminApi(server, 'not.a.token').get('/settings');
    expect(garbage.status).toBe(401);
    expect(garbage.body.detail).toBe('the access token is not valid');
  });
});
