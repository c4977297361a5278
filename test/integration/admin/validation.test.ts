import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  type ApiResponse,
  bootstrapAdmin,
  expectStatus,
  productToken,
} from './admin-helpers.ts';

const PROBLEM = 'https://svcauth.dev/problems/';

/** Asserts an RFC 9457 refusal: status, problem type and (when given) the field it names. */
function expectProblem(response: ApiResponse, status: number, code: string, field?: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ type: `${PROBLEM}${code}`, status, request_id: expect.any(String) });
  if (field !== undefined) {
    const named = [
      response.body.field,
      ...(response.body.errors ?? []).map((e: { field: string }) => e.field),
    ];
    expect(named).toContain(field);
  }
}

describe('management API input', () => {
  let server: TestServer;
  let api: AdminApi;
  let paris: { id: string };
  let reader: { id: string };
  let account: { id: string };

  beforeAll(async () => {
    server = await startTestServer();
    const admin = await bootstrapAdmin(server, 'acme');
    api = adminApi(server, await adminToken(server, admin));
    paris = expectStatus(await api.post('/locations', { name: 'Paris' }), 201);
    reader = expectStatus(await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201);
    account = expectStatus(
      await api.post('/service-accounts', {
        name: 'Integration',
        location_ids: [paris.id],
        roles: [{ role_id: reader.id }],
      }),
      201,
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('bodies', () => {
    it('refuse an unknown field, naming it, at any depth', async () => {
      expectProblem(
        await api.post('/service-accounts', { name: 'x', all_locations: true, colour: 'red' }),
        400,
        'validation_failed',
        'colour',
      );
      expectProblem(
        await api.post('/service-accounts', {
          name: 'x',
          location_ids: [paris.id],
          roles: [{ role_id: reader.id, weight: 2 }],
        }),
        400,
        'validation_failed',
        'roles[0].weight',
      );
      expectProblem(
        await api.patch('/settings', { api_enabled: true, debug: true }),
        400,
        'validation_failed',
        'debug',
      );
    });

    it('require a name', async () => {
      const response = await api.post('/service-accounts', { all_locations: true });
      expectProblem(response, 400, 'validation_failed', 'name');
      expect(response.body.detail).toMatch(/^the request body is invalid: name: /);
      expectProblem(await api.post('/locations', { name: '   ' }), 400, 'validation_failed', 'name');
    });

    it('require a location or all locations, and a matrix inside the locations', async () => {
      expectProblem(
        await api.post('/service-accounts', { name: 'nowhere' }),
        422,
        'invalid_assignments',
        'location_ids',
      );
      expectProblem(
        await api.post('/service-accounts', {
          name: 'outside',
          location_ids: [paris.id],
          roles: [{ role_id: reader.id, location_ids: ['00000000-0000-4000-8000-000000000000'] }],
        }),
        422,
        'invalid_assignments',
        'roles[0].location_ids',
      );
      expectProblem(
        await api.post('/service-accounts', {
          name: 'ghost role',
          location_ids: [paris.id],
          roles: [{ role_id: '00000000-0000-4000-8000-000000000000' }],
        }),
        422,
        'unknown_reference',
        'roles[0].role_id',
      );
    });

    it('check types and ranges, naming the field', async () => {
      // Not a permission name at all: malformed. A well-formed name the catalog lacks: 422, named.
      expectProblem(
        await api.post('/roles', { name: 'r', permissions: ['Items fly'] }),
        400,
        'validation_failed',
        'permissions[0]',
      );
      expectProblem(
        await api.post('/roles', { name: 'r', permissions: ['items:fly'] }),
        422,
        'unknown_permission',
        'permissions',
      );
      expectProblem(
        await api.patch('/settings', { access_token_ttl_seconds: 30 }),
        400,
        'validation_failed',
        'access_token_ttl_seconds',
      );
      expectProblem(
        await api.patch('/settings', { access_token_ttl_seconds: 3601 }),
        400,
        'validation_failed',
        'access_token_ttl_seconds',
      );
      expectProblem(
        await api.patch('/settings', { allowed_credential_types: [] }),
        400,
        'validation_failed',
        'allowed_credential_types',
      );
      expectProblem(
        await api.post(`/service-accounts/${account.id}/credentials`, { name: 'c', type: 'password' }),
        400,
        'validation_failed',
        'type',
      );
    });

    it('refuse malformed JSON and other media types', async () => {
      const token = await adminToken(server, await bootstrapAdmin(server, 'media'));
      const post = (body: string, type: string) =>
        fetch(`${server.issuer}/admin/v1/locations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': type },
          body,
        });
      const malformed = await post('{"name":', 'application/json');
      expect(malformed.status).toBe(400);
      expect(((await malformed.json()) as { type: string }).type).toBe(`${PROBLEM}malformed_json`);
      const form = await post('name=Paris', 'application/x-www-form-urlencoded');
      expect(form.status).toBe(415);
      expect(((await form.json()) as { type: string }).type).toBe(`${PROBLEM}unsupported_media_type`);
    });
  });

  describe('credentials', () => {
    const credentials = () => `/service-accounts/${account.id}/credentials`;

    it('refuse an expiry beyond the maximum lifetime, or in the past', async () => {
      expectStatus(await api.patch('/settings', { max_credential_lifetime_seconds: 3600 }), 200);
      const tooFar = new Date(Date.now() + 2 * 3600_000).toISOString();
      const response = await api.post(credentials(), { name: 'c', type: 'api_key', expires_at: tooFar });
      expectProblem(response, 422, 'expiry_too_far');
      expect(response.body.detail).toMatch(/at most 1 hour/);
      expectProblem(
        await api.post(credentials(), { name: 'c', type: 'api_key', expires_at: '2001-01-01T00:00:00Z' }),
        422,
        'expiry_in_past',
      );
      expectProblem(
        await api.post(credentials(), { name: 'c', type: 'api_key', expires_at: 'tomorrow' }),
        400,
        'validation_failed',
        'expires_at',
      );
      const defaulted = expectStatus(await api.post(credentials(), { name: 'c', type: 'api_key' }), 201);
      const lifetime = Date.parse(defaulted.expires_at) - Date.parse(defaulted.created_at);
      expect(Math.abs(lifetime - 3600_000)).toBeLessThan(5_000);
      expectStatus(await api.post(`${credentials()}/${defaulted.id}:revoke`), 200);
      expectStatus(await api.patch('/settings', { max_credential_lifetime_seconds: null }), 200);
    });

    it('refuse one more credential than the quota, rotation included', async () => {
      expectStatus(await api.patch('/settings', { max_credentials_per_account: 2 }), 200);
      const quotaAccount = expectStatus(
        await api.post('/service-accounts', { name: 'quota', all_locations: true }),
        201,
      );
      const path = `/service-accounts/${quotaAccount.id}/credentials`;
      const first = expectStatus(await api.post(path, { name: 'one', type: 'oauth_client' }), 201);
      expectStatus(await api.post(path, { name: 'two', type: 'oauth_client' }), 201);
      const third = await api.post(path, { name: 'three', type: 'oauth_client' });
      expectProblem(third, 409, 'credential_limit_reached');
      expect(third.body.details).toEqual({ liveCount: 2, max: 2 });
      // The rotated primary stays live as secondary: a third live credential.
      expectProblem(await api.post(`${path}/${first.id}:rotate`, {}), 409, 'credential_limit_reached');
      expectStatus(await api.post(`${path}/${first.id}:revoke`), 200);
      expectStatus(await api.post(path, { name: 'three', type: 'oauth_client' }), 201);
      expectStatus(await api.patch('/settings', { max_credentials_per_account: 10 }), 200);
    });

    it("refuse types the organization's settings leave out", async () => {
      expectStatus(await api.patch('/settings', { allowed_credential_types: ['oauth_client'] }), 200);
      expectProblem(
        await api.post(credentials(), { name: 'k', type: 'api_key' }),
        422,
        'credential_type_not_allowed',
        'type',
      );
      expectStatus(
        await api.patch('/settings', {
          allowed_credential_types: ['oauth_client', 'api_key', 'private_key_jwt'],
        }),
        200,
      );
    });

    it('take a public JWK set for private_key_jwt only, and never a private key', async () => {
      const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
      expectProblem(
        await api.post(credentials(), { name: 'j', type: 'private_key_jwt' }),
        400,
        'validation_failed',
        'jwks',
      );
      expectProblem(
        await api.post(credentials(), {
          name: 'j',
          type: 'oauth_client',
          jwks: { keys: [await exportJWK(publicKey)] },
        }),
        400,
        'validation_failed',
        'jwks',
      );
      expectProblem(
        await api.post(credentials(), {
          name: 'j',
          type: 'private_key_jwt',
          jwks: { keys: [await exportJWK(privateKey)] },
        }),
        400,
        'invalid_jwks',
      );
      const created = expectStatus(
        await api.post(credentials(), {
          name: 'j',
          type: 'private_key_jwt',
          jwks: { keys: [await exportJWK(publicKey)] },
        }),
        201,
      );
      expect(created).not.toHaveProperty('client_secret');
      expect(created.jwks.keys[0]).not.toHaveProperty('d');
      expectProblem(await api.post(`${credentials()}/${created.id}:regenerate`, {}), 422, 'not_regenerable');
    });

    it('bound the regeneration grace period by the longest token lifetime', async () => {
      const key = expectStatus(await api.post(credentials(), { name: 'g', type: 'api_key' }), 201);
      expectProblem(
        await api.post(`${credentials()}/${key.id}:regenerate`, { grace_period_seconds: 3601 }),
        400,
        'validation_failed',
        'grace_period_seconds',
      );
    });
  });

  describe('the protected built-in account and other state rules', () => {
    it('cannot be renamed, edited, archived or given credentials', async () => {
      const accounts = expectStatus(await api.get('/service-accounts'), 200);
      const builtIn = accounts.items.find((a: { is_protected: boolean }) => a.is_protected);
      const path = `/service-accounts/${builtIn.id}`;
      expectProblem(await api.patch(path, { name: 'renamed' }), 409, 'protected_account');
      expectProblem(await api.patch(path, { description: 'edited' }), 409, 'protected_account');
      expectProblem(await api.post(`${path}:archive`), 409, 'protected_account');
      expectProblem(await api.delete(path), 409, 'protected_account');
      expectProblem(
        await api.post(`${path}/credentials`, { name: 'c', type: 'api_key' }),
        409,
        'protected_account',
      );
    });

    it('refuses taken names, the built-in role, and deleting a location in use', async () => {
      expectProblem(
        await api.post('/service-accounts', { name: 'integration', all_locations: true }),
        409,
        'name_taken',
        'name',
      );
      expectProblem(await api.post('/roles', { name: 'READER', permissions: [] }), 409, 'name_taken', 'name');
      const roles = expectStatus(await api.get('/roles'), 200);
      const system = roles.items.find((r: { is_system: boolean }) => r.is_system);
      expectProblem(await api.patch(`/roles/${system.id}`, { permissions: [] }), 409, 'system_role');
      expectProblem(await api.delete(`/roles/${system.id}`), 409, 'system_role');
      expectProblem(await api.delete(`/locations/${paris.id}`), 409, 'location_in_use');
      const empty = expectStatus(await api.post('/locations', { name: 'Empty' }), 201);
      expect((await api.delete(`/locations/${empty.id}`)).status).toBe(204);
      expectProblem(await api.get(`/locations/${empty.id}`), 404, 'not_found');
    });

    it('applies a role edit to every holder at once', async () => {
      const key = expectStatus(
        await api.post(`/service-accounts/${account.id}/credentials`, { name: 'edit', type: 'api_key' }),
        201,
      );
      const before = await productToken(server, 'api', key.api_key);
      expect(JSON.parse(Buffer.from(before.split('.')[1]!, 'base64url').toString()).permissions).toEqual({
        [paris.id]: ['items:read'],
      });
      expectStatus(
        await api.patch(`/roles/${reader.id}`, { permissions: ['items:read', 'people:read'] }),
        200,
      );
      const after = await productToken(server, 'api', key.api_key);
      expect(JSON.parse(Buffer.from(after.split('.')[1]!, 'base64url').toString()).permissions).toEqual({
        [paris.id]: ['items:read', 'people:read'],
      });
    });
  });

  describe('queries, paths and authentication', () => {
    it('validate pagination', async () => {
      expectProblem(await api.get('/service-accounts?limit=0'), 400, 'validation_failed', 'limit');
      expectProblem(await api.get('/service-accounts?limit=abc'), 400, 'validation_failed', 'limit');
      expectProblem(await api.get('/service-accounts?cursor=garbage'), 400, 'validation_failed', 'cursor');
      expectProblem(await api.get('/service-accounts?page=2'), 400, 'validation_failed', 'page');
      const first = expectStatus(await api.get('/service-accounts?limit=1'), 200);
      expect(first.items).toHaveLength(1);
      const second = expectStatus(
        await api.get(`/service-accounts?limit=1&cursor=${first.next_cursor}`),
        200,
      );
      expect(second.items[0].id).not.toBe(first.items[0].id);
    });

    it('answer 404 for malformed ids and unknown paths, 405 for a wrong method', async () => {
      expectProblem(await api.get('/service-accounts/not-a-uuid'), 404, 'not_found');
      expectProblem(await api.get('/nothing-here'), 404, 'not_found');
      const wrongMethod = await api.patch('/audit-events', {});
      expectProblem(wrongMethod, 405, 'method_not_allowed');
      expect(wrongMethod.headers.get('allow')).toBe('GET');
    });

    it('require a valid admin access token', async () => {
      const anonymous = await fetch(`${server.issuer}/admin/v1/service-accounts`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(
        /^Bearer realm="svcauth-admin", DPoP realm="svcauth-admin", algs="[^"]+"$/,
      );
      expect(((await anonymous.json()) as { type: string }).type).toBe(`${PROBLEM}unauthorized`);
      const garbage = await adminApi(server, 'not.a.token').get('/service-accounts');
      expectProblem(garbage, 401, 'invalid_token');
      expect(garbage.headers.get('www-authenticate')).toContain('error="invalid_token"');
      const key = expectStatus(
        await api.post(`/service-accounts/${account.id}/credentials`, { name: 'product', type: 'api_key' }),
        201,
      );
      const wrongAudience = await adminApi(server, await productToken(server, 'api', key.api_key)).get(
        '/roles',
      );
      expectProblem(wrongAudience, 401, 'invalid_token');
      expect(wrongAudience.body.detail).toContain('/admin');
    });

    it('serves its OpenAPI document without authentication', async () => {
      const response = await fetch(`${server.issuer}/admin/v1/openapi.json`);
      expect(response.status).toBe(200);
      const document = (await response.json()) as {
        openapi: string;
        paths: Record<string, Record<string, unknown>>;
      };
      expect(document.openapi).toBe('3.1.0');
      const rotate =
        document.paths['/admin/v1/service-accounts/{account_id}/credentials/{credential_id}:rotate'];
      expect(rotate?.post).toMatchObject({ operationId: 'rotateCredential' });
    });
  });
});
