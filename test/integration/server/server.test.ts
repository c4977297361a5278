import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fixtures } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

let server: TestServer;
let fixtures: Fixtures;

beforeAll(async () => {
  server = await startTestServer();
  fixtures = new Fixtures(server.database.db);
});
afterAll(() => server?.stop());

async function tokenRequest(clientId: string, secret: string) {
  return fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
}

describe('operational endpoints', () => {
  it('answers /healthz and /readyz with every dependency checked', async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', state_store: 'ok' } });
  });

  it('serves RFC 8414 metadata with this issuer (and no OpenID discovery document)', async () => {
    const a = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
    expect((await fetch(`${server.url}/.well-known/openid-configuration`)).status).toBe(404);
    expect(a).toMatchObject({
      issuer: server.issuer,
      token_endpoint: `${server.issuer}/token`,
      jwks_uri: `${server.issuer}/jwks`,
      grant_types_supported: ['client_credentials'],
    });
    expect(a).not.toHaveProperty('authorization_endpoint');
    expect(a).not.toHaveProperty('registration_endpoint');
  });

  it('publishes only public key material', async () => {
    const { keys } = (await (await fetch(`${server.url}/jwks`)).json()) as {
      keys: Record<string, unknown>[];
    };
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(key).not.toHaveProperty('d');
    }
  });

  it.each(['/auth', '/reg', '/me', '/session/end', '/nothing'])(
    '%s is not served (problem+json 404)',
    async (path) => {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(await response.json()).toMatchObject({ status: 404, title: 'Not Found' });
    },
  );

  it('gives every response a request id, echoing a well-formed incoming one', async () => {
    const echoed = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-123');
    const replaced = await fetch(`${server.url}/healthz`, {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('token side effects', () => {
  it('records usage without a write per token, and audits failed authentications', async () => {
    const org = await fixtures.organization();
    const role = await fixtures.role(org.id, ['items:read']);
    const account = await fixtures.account(org.id, { allLocations: true, roles: [{ roleId: role.id }] });
    const credential = await fixtures.credential(org.id, account.id);

    expect((await tokenRequest(credential.clientId, credential.secret!)).status).toBe(200);
    expect((await tokenRequest(credential.clientId, 'wrong-secret')).status).toBe(401);

    // Usage is coalesced in memory and written on the next flush (every 15 s, or at shutdown).
    const before = await server.database.db
      .selectFrom('credentials')
      .select(['last_used_at', 'last_used_ip'])
      .where('id', '=', credential.id)
      .executeTakeFirstOrThrow();
    expect(before.last_used_at).toBeNull();

    const failures = await server.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('org_id', '=', org.id)
      .where('action', '=', 'token.authentication_failed')
      .execute();
    // The audit write happens after the response; give it a moment without asserting a duration.
    for (let i = 0; i < 50 && failures.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      failures.push(
        ...(await server.database.db
          .selectFrom('audit_events')
          .selectAll()
          .where('org_id', '=', org.id)
          .where('action', '=', 'token.authentication_failed')
          .execute()),
      );
    }
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      outcome: 'failure',
      actor_credential_id: credential.id,
      target_id: credential.id,
    });
    expect(JSON.stringify(failures[0])).not.toContain('wrong-secret');
  });
});

describe('/metrics', () => {
  function sample(text: string, name: string, labels: string): number {
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  it('shows token outcomes, latencies and cache use moving with traffic', async () => {
    const org = await fixtures.organization();
    const role = await fixtures.role(org.id, ['items:read']);
    const account = await fixtures.account(org.id, { allLocations: true, roles: [{ roleId: role.id }] });
    const credential = await fixtures.credential(org.id, account.id);
    const before = await (await fetch(`${server.url}/metrics`)).text();

    expect((await tokenRequest(credential.clientId, credential.secret!)).status).toBe(200);
    expect((await tokenRequest(credential.clientId, credential.secret!)).status).toBe(200);
    expect((await tokenRequest(credential.clientId, 'wrong')).status).toBe(401);

    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const after = await response.text();
    const issued = 'outcome="issued",auth_method="client_secret_basic"';
    const failed = 'outcome="invalid_client",auth_method="client_secret_basic"';
    expect(
      sample(after, 'svcauth_token_requests_total', issued) -
        sample(before, 'svcauth_token_requests_total', issued),
    ).toBe(2);
    expect(
      sample(after, 'svcauth_token_requests_total', failed) -
        sample(before, 'svcauth_token_requests_total', failed),
    ).toBe(1);
    expect(
      sample(after, 'svcauth_http_request_duration_seconds_count', 'route="/token"'),
    ).toBeGreaterThanOrEqual(3);
    const hits = 'cache="verified_secrets",result="hit"';
    expect(sample(after, 'svcauth_cache_lookups', hits)).toBeGreaterThan(
      sample(before, 'svcauth_cache_lookups', hits),
    );
    expect(after).toContain('svcauth_process_');
    expect(after).toMatch(/^svcauth_revocation_feed_subscribers \d+$/m);
  });
});
