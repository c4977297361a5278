import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { type AdminApi, adminApi, adminToken, bootstrapAdmin, expectStatus } from '../admin/admin-helpers.ts';

/**
 * Property-based tests over the management API and the OAuth endpoints (issue 13): random and
 * adversarial bodies, headers, cursors and ids from one organization's admin. Whatever is sent, the
 * server answers below 500, every refusal is problem+json (management API) or an OAuth error object,
 * and nothing another organization holds changes. The number of cases is bounded so the suite runs
 * in a few seconds; a failure prints the seed and the shrunk request to replay it.
 */

const RESOURCE_SERVER = { name: 'fuzz-rs', secret: 'svcrs_fuzz-test-secret-000000000000000' };
const RESOURCE_SERVERS = `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`;
const NUM_RUNS = { admin: 150, noise: 60, oauth: 120 };

/** Strings an attacker tries first: NUL, controls, huge, unicode edge cases, injection-looking. */
const nasty = fc.oneof(
  fc.constantFrom(
    '',
    '\u0000',
    'a\u0000b',
    '\u0007\u001b[2J',
    '\ud800',
    '\uffff',
    '🙂',
    "' OR 1=1 --",
    '../../etc/passwd',
    '%00',
    '${jndi:ldap://x}',
    '<script>alert(1)</script>',
    'null',
    'true',
    '-1',
    '1e309',
    '00000000-0000-0000-0000-000000000000',
    'x'.repeat(5000),
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** encodeURIComponent, but a lone surrogate (which it refuses) is sent as U+FFFD like a browser would. */
function encodePart(value: string): string {
  return encodeURIComponent(value.toWellFormed());
}

function base64url(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

/** Cursors: well-formed ones of every list kind, mangled ones and noise. */
const cursor = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('locations', 'roles', 'service_accounts', 'credentials', 'audit_events', 'x', ''),
      fc.oneof(fc.uuid(), fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String), nasty),
    )
    .map(([kind, key]) => base64url(`${kind}:${key}`)),
  fc.uuid().map(base64url),
  nasty,
);

const jsonValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), nasty, fc.constant(null));

describe('fuzzing', () => {
  let server: TestServer;
  let attackerToken: string;
  let victim: AdminApi;
  let attackerIds: string[];
  let victimIds: string[];
  let victimClient: { clientId: string; secret: string };
  let victimBefore: unknown;

  /** Everything organization B's admin can read, as one value to compare. */
  async function victimState(): Promise<unknown> {
    const accounts = expectStatus(await victim.get('/service-accounts?include_archived=true&limit=200'), 200);
    const credentials = [];
    for (const account of accounts.items as Array<{ id: string }>) {
      const page = expectStatus(
        await victim.get(`/service-accounts/${account.id}/credentials?limit=200`),
        200,
      );
      // Last use moves with the victim's own token (recorded in the background), not the attacker's.
      credentials.push(
        (page.items as Array<Record<string, unknown>>).map(({ last_used_at, last_used_ip, ...rest }) => {
          void last_used_at;
          void last_used_ip;
          return rest;
        }),
      );
    }
    return {
      accounts,
      credentials,
      roles: expectStatus(await victim.get('/roles?limit=200'), 200),
      locations: expectStatus(await victim.get('/locations?limit=200'), 200),
      settings: expectStatus(await victim.get('/settings'), 200),
      audit: expectStatus(await victim.get('/audit-events?limit=200'), 200),
    };
  }

  async function seed(api: AdminApi): Promise<string[]> {
    const location = expectStatus(await api.post('/locations', { name: 'Paris' }), 201);
    const role = expectStatus(await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201);
    const account = expectStatus(
      await api.post('/service-accounts', {
        name: 'Integration',
        location_ids: [location.id],
        roles: [{ role_id: role.id }],
      }),
      201,
    );
    const credential = expectStatus(
      await api.post(`/service-accounts/${account.id}/credentials`, { name: 'key', type: 'api_key' }),
      201,
    );
    return [location.id, role.id, account.id, credential.id];
  }

  beforeAll(async () => {
    server = await startTestServer({ RESOURCE_SERVERS, LOCKOUT_MAX_FAILURES_PER_IP: '100000' });
    const a = await bootstrapAdmin(server, 'attacker-org');
    const b = await bootstrapAdmin(server, 'victim-org');
    attackerToken = await adminToken(server, a);
    victim = adminApi(server, await adminToken(server, b));
    // The attacker's own admin account and credential stay out of the pool: archiving or revoking
    // them would leave the rest of the run unauthenticated.
    attackerIds = await seed(adminApi(server, attackerToken));
    victimIds = [...(await seed(victim)), b.accountId, b.credentialId];
    victimClient = b;
    victimBefore = await victimState();
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** Sends one management API request as the attacker and checks the answer's shape. */
  async function adminRequest(request: {
    method: string;
    path: string;
    body?: string | undefined;
    contentType?: string | undefined;
    authorization?: string | undefined;
  }): Promise<number> {
    const headers: Record<string, string> = {
      authorization: request.authorization ?? `Bearer ${attackerToken}`,
    };
    if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/json';
    const response = await fetch(`${server.issuer}/admin/v1${request.path}`, {
      method: request.method,
      headers,
      ...(request.body === undefined || request.method === 'GET' ? {} : { body: request.body }),
    });
    const text = await response.text();
    const what = `${request.method} ${request.path.slice(0, 200)} ${String(request.body).slice(0, 300)}`;
    expect(response.status, `${what}: ${text.slice(0, 300)}`).toBeLessThan(500);
    if (response.status >= 400) {
      expect(response.headers.get('content-type'), text.slice(0, 200)).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(text)).toMatchObject({
        type: expect.stringMatching(/^https:\/\/svcauth\.dev\/problems\//),
        status: response.status,
        detail: expect.any(String),
      });
    }
    return response.status;
  }

  const ids = () =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...attackerIds) },
      { weight: 2, arbitrary: fc.constantFrom(...victimIds) },
      { weight: 1, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: nasty.map(encodePart) },
    );

  /** Mostly a valid value, sometimes an adversarial one: requests get past validation often enough. */
  const either = <T>(valid: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: jsonValue });
  const controls = fc.constantFrom('\u0000', 'a\u0000b', '\u001b[0m', 'x\u0085y', 'line\u0008');
  const text = (valid: fc.Arbitrary<string>) =>
    fc.oneof(
      { weight: 1, arbitrary: controls },
      { weight: 2, arbitrary: valid },
      { weight: 2, arbitrary: nasty },
      { weight: 1, arbitrary: jsonValue },
    );

  it('the management API answers shaped requests with hostile fields below 500, refusals as problem+json', async () => {
    const id = ids();
    const name = text(fc.string({ minLength: 1, maxLength: 30 }));
    const roleAssignment = fc.record(
      { role_id: either(id), location_ids: either(fc.option(fc.array(id, { maxLength: 2 }))) },
      { requiredKeys: ['role_id'] },
    );
    const account = fc.record(
      {
        name,
        description: text(fc.string()),
        all_locations: either(fc.boolean()),
        location_ids: either(fc.array(id, { maxLength: 2 })),
        roles: either(fc.array(roleAssignment, { maxLength: 2 })),
        groups_admin: either(fc.boolean()),
      },
      { requiredKeys: ['name'] },
    );
    const jwk = fc.oneof(
      fc.dictionary(
        fc.constantFrom('kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg', 'use', 'key_ops', 'x5u', 'jku', 'd'),
        text(fc.constantFrom('EC', 'RSA', 'OKP', 'P-256', 'Ed25519', 'AQAB', 'ES256', 'sig')),
        { maxKeys: 6 },
      ),
      fc.dictionary(nasty, jsonValue, { maxKeys: 3 }),
    );
    const credential = fc.record(
      {
        name,
        type: either(fc.constantFrom('api_key', 'oauth_client', 'private_key_jwt')),
        expires_at: either(fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
        jwks: either(fc.record({ keys: fc.array(jwk, { minLength: 1, maxLength: 2 }) })),
      },
      { requiredKeys: ['name', 'type'] },
    );
    const legacyRow = fc.record(
      {
        key: text(fc.string({ minLength: 16, maxLength: 40 })),
        name,
        description: text(fc.string()),
        all_locations: either(fc.boolean()),
        location_names: either(fc.array(name, { maxLength: 2 })),
        role_names: either(fc.array(name, { maxLength: 2 })),
        role_ids: either(fc.array(id, { maxLength: 2 })),
      },
      { requiredKeys: ['key', 'name'] },
    );
    const listQuery = fc
      .record(
        {
          cursor,
          limit: either(fc.integer({ min: 1, max: 200 })),
          target_id: text(fc.uuid()),
          action: text(fc.constantFrom('service_account.created', 'credential.revoked')),
          actor_account_id: text(fc.uuid()),
          since: text(fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
          include_archived: text(fc.constantFrom('true', 'false')),
        },
        { requiredKeys: [] },
      )
      .map((q) =>
        new URLSearchParams(
          Object.entries(q).map(([k, v]): [string, string] => [k, String(v).toWellFormed()]),
        ).toString(),
      );
    const json = (value: unknown) => JSON.stringify(value);
    const operation = fc.oneof(
      name.map((n) => ({ method: 'POST', path: '/locations', body: json({ name: n }) })),
      fc
        .tuple(id, name)
        .map(([x, n]) => ({ method: 'PATCH', path: `/locations/${x}`, body: json({ name: n }) })),
      fc
        .record({
          name,
          description: text(fc.string()),
          permissions: either(
            fc.array(fc.constantFrom('items:read', 'items:write', 'roles:write'), { maxLength: 2 }),
          ),
        })
        .map((body) => ({ method: 'POST', path: '/roles', body: json(body) })),
      account.map((body) => ({ method: 'POST', path: '/service-accounts', body: json(body) })),
      fc
        .tuple(id, account)
        .map(([x, body]) => ({ method: 'PATCH', path: `/service-accounts/${x}`, body: json(body) })),
      fc.tuple(id, credential).map(([x, body]) => ({
        method: 'POST',
        path: `/service-accounts/${x}/credentials`,
        body: json(body),
      })),
      fc.tuple(id, id, credential).map(([x, y, body]) => ({
        method: 'POST',
        path: `/service-accounts/${x}/credentials/${y}:rotate`,
        body: json({ name: body.name, jwks: body.jwks }),
      })),
      fc.tuple(id, id, either(fc.integer({ min: 0, max: 3600 }))).map(([x, y, grace]) => ({
        method: 'POST',
        path: `/service-accounts/${x}/credentials/${y}:regenerate`,
        body: json({ grace_period_seconds: grace }),
      })),
      fc.tuple(id, id, fc.constantFrom(':revoke', '')).map(([x, y, action]) => ({
        method: action ? 'POST' : 'GET',
        path: `/service-accounts/${x}/credentials/${y}${action}`,
      })),
      fc.tuple(id, fc.constantFrom('GET', 'DELETE')).map(([x, method]) => ({ method, path: `/roles/${x}` })),
      fc
        .tuple(id, fc.constantFrom('GET', 'DELETE'))
        .map(([x, method]) => ({ method, path: `/locations/${x}` })),
      id.map((x) => ({ method: 'POST', path: `/service-accounts/${x}:archive` })),
      fc
        .record({
          access_token_ttl_seconds: either(fc.integer({ min: 60, max: 3600 })),
          max_credentials_per_account: either(fc.integer({ min: 5, max: 10 })),
        })
        .map((body) => ({ method: 'PATCH', path: '/settings', body: json(body) })),
      fc
        .array(legacyRow, { minLength: 1, maxLength: 3 })
        .map((keys) => ({ method: 'POST', path: '/legacy-keys:import', body: json({ keys }) })),
      fc
        .tuple(
          fc.constantFrom(
            '/locations',
            '/roles',
            '/service-accounts',
            '/audit-events',
            `/service-accounts/${attackerIds[2]}/credentials`,
          ),
          listQuery,
        )
        .map(([list, q]) => ({ method: 'GET', path: `${list}?${q}` })),
    );
    await fc.assert(
      fc.asyncProperty(operation, (request) => adminRequest(request).then(() => undefined)),
      { numRuns: NUM_RUNS.admin },
    );
  });

  it('the management API answers free-form noise below 500, refusals as problem+json', async () => {
    const id = ids();
    const path = fc.oneof(
      fc.constantFrom(
        '/locations',
        '/roles',
        '/service-accounts',
        '/settings',
        '/audit-events',
        '/legacy-keys:import',
      ),
      id.map((x) => `/service-accounts/${x}`),
      fc
        .tuple(id, id, fc.constantFrom('', ':revoke', ':rotate', ':regenerate'))
        .map(([x, y, action]) => `/service-accounts/${x}/credentials/${y}${action}`),
      nasty.map((x) => `/${encodePart(x)}`),
    );
    const body = fc.oneof(
      fc.constant(undefined),
      jsonValue.map((v) => JSON.stringify(v)),
      nasty,
    );
    const contentType = fc.constantFrom(
      'application/json',
      'application/merge-patch+json',
      'text/plain',
      'application/x-www-form-urlencoded',
    );
    const authorization = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: nasty.map((x) => `Bearer ${x.replace(/[^\x20-\x7e]/g, '')}`) },
      { weight: 1, arbitrary: fc.constant('DPoP abc.def.ghi') },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          method: fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT'),
          path,
          body,
          contentType,
          authorization,
        }),
        (request) => adminRequest(request).then(() => undefined),
      ),
      { numRuns: NUM_RUNS.noise },
    );
  });

  it('the management API fuzzing changed nothing another organization holds', async () => {
    expect(await victimState()).toEqual(victimBefore);
  });

  it('the OAuth endpoints answer every request below 500, refusals as OAuth error objects', async () => {
    const clientId = fc.oneof(
      fc.constant(victimClient.clientId),
      fc.constantFrom('api', 'svcc_AAAAAAAAAAAAAAAAAAAAAA', 'legacy_0123456789abcdef01234567'),
      // A client id with characters no credential has must be refused like an unknown one.
      fc.constantFrom('svcc_\u0000', '\u0000', `svcc_${'\u0000'.repeat(22)}`, '\u001b'),
      nasty,
    );
    const secret = fc.oneof(fc.constant(victimClient.secret), nasty);
    const form = fc
      .record(
        {
          grant_type: fc.oneof(
            { weight: 3, arbitrary: fc.constant('client_credentials') },
            { weight: 1, arbitrary: fc.constantFrom('authorization_code', 'password') },
            { weight: 1, arbitrary: nasty },
          ),
          client_id: clientId,
          client_secret: secret,
          scope: nasty,
          resource: fc.oneof(fc.constantFrom(`${'http://127.0.0.1'}/api`), nasty),
          token: nasty,
          token_type_hint: nasty,
          client_assertion_type: fc.oneof(
            fc.constant('urn:ietf:params:oauth:client-assertion-type:jwt-bearer'),
            nasty,
          ),
          client_assertion: fc.oneof(fc.constant('eyJhbGciOiJub25lIn0.e30.'), nasty),
        },
        { requiredKeys: ['grant_type', 'client_id'] },
      )
      .map((v) =>
        new URLSearchParams(
          Object.entries(v).map(([k, x]): [string, string] => [k, x.toWellFormed()]),
        ).toString(),
      );
    const basic = fc
      .tuple(clientId, secret)
      .map(([id, s]) => `Basic ${Buffer.from(`${encodePart(id)}:${encodePart(s)}`).toString('base64')}`);
    const authorization = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      basic,
      fc.constant(
        `Basic ${Buffer.from(`${RESOURCE_SERVER.name}:${RESOURCE_SERVER.secret}`).toString('base64')}`,
      ),
      nasty.map((x) => `Basic ${x.replace(/[^\x20-\x7e]/g, '')}`),
    );
    const dpop = fc.oneof(
      fc.constant(undefined),
      nasty.map((x) => x.replace(/[^\x20-\x7e]/g, '')),
    );

    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/token', '/revoke', '/introspect'),
        fc.oneof(
          { weight: 8, arbitrary: fc.constant('POST') },
          { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT') },
        ),
        form,
        fc.oneof(
          { weight: 6, arbitrary: fc.constant('application/x-www-form-urlencoded') },
          { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/plain', '') },
        ),
        authorization,
        dpop,
        async (path, method, body, type, auth, proof) => {
          const headers: Record<string, string> = {};
          if (type) headers['content-type'] = type;
          if (auth) headers.authorization = auth;
          if (proof !== undefined) headers.dpop = proof;
          const response = await fetch(`${server.issuer}${path}`, {
            method,
            headers,
            ...(method === 'GET' ? {} : { body }),
          });
          const text = await response.text();
          expect(response.status, `${method} ${path} ${body}: ${text.slice(0, 300)}`).toBeLessThan(500);
          if (response.status >= 400) {
            expect(response.headers.get('content-type'), text.slice(0, 200)).toMatch(/json/);
            const error = JSON.parse(text) as Record<string, unknown>;
            const isOAuthError = typeof error.error === 'string';
            const isProblem = typeof error.type === 'string' && error.status === response.status;
            expect(isOAuthError || isProblem, text.slice(0, 200)).toBe(true);
          }
        },
      ),
      { numRuns: NUM_RUNS.oauth },
    );
  });

  it('the revocation feed answers every cursor below 500', async () => {
    const authorization = `Basic ${Buffer.from(`${RESOURCE_SERVER.name}:${RESOURCE_SERVER.secret}`).toString('base64')}`;
    const feedCursor = fc.oneof(
      fc
        .tuple(fc.stringMatching(/^[0-9A-Za-z]{1,12}$/), fc.nat(), fc.nat())
        .map(([e, ms, seq]) => `${e}:${ms}-${seq}`),
      nasty,
    );
    await fc.assert(
      fc.asyncProperty(feedCursor, async (value) => {
        const response = await fetch(`${server.issuer}/revocations?cursor=${encodePart(value)}`, {
          headers: { authorization, accept: 'application/json' },
        });
        const text = await response.text();
        expect(response.status, text.slice(0, 200)).toBeLessThan(500);
      }),
      { numRuns: 30 },
    );
  });
});
