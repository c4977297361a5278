import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULL_ACCESS_ROLE_NAME } from '../../../config/permissions.ts';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  RESOURCE_SERVER_SECRET_PREFIX,
  resourceServerEntry,
} from '../../../src/domain/credential-format.ts';
import { bootstrapOrganization } from '../../../src/services/bootstrap-service.ts';
import { SecretHasher } from '../../../src/keys/secret-hasher.ts';
import type { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import { TEST_BCRYPT_COST } from '../../helpers/test-env.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { eventually } from '../../helpers/eventually.ts';
import { adminApi, adminToken, expectStatus, productToken, requestToken } from '../admin/admin-helpers.ts';
import { basic, platformApi, servedDocument } from './platform-helpers.ts';

/**
 * The platform tier's tenancy controls over HTTP: the API entitlement (un-entitling refuses the
 * organization's product tokens at once; its admins cannot switch the API on), the defaults new
 * organizations start with, per-organization overrides and the limits admins choose within, and
 * organizations whose derived slug is taken. Every platform and admin response is checked against the
 * served OpenAPI document.
 */
const OPERATOR = { name: 'ops', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };
const RESOURCE_SERVER = {
  name: 'items-api',
  secret: generateDeploymentSecret(RESOURCE_SERVER_SECRET_PREFIX),
};
/** The platform API's tags whose every operation this file exercises. */
const COVERED_TAGS = ['Platform: settings', 'Platform: built-in account'];

describe('platform tenancy', () => {
  let server: TestServer;
  let documented: OpenApiResponseValidator;
  const asOperator = () => platformApi(server, basic(OPERATOR.name, OPERATOR.secret), documented);

  beforeAll(async () => {
    server = await startTestServer({
      OPERATORS: resourceServerEntry(OPERATOR.name, OPERATOR.secret),
      RESOURCE_SERVERS: resourceServerEntry(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
    });
    documented = await servedDocument(server);
  });

  /** The management API as this admin, every response checked against the served document. */
  const asAdmin = (token: string) =>
    adminApi(server, token, (method, path, response) =>
      documented.validate(method, path, response.status, response.headers.get('content-type'), response.body),
    );

  async function introspect(token: string): Promise<Record<string, unknown>> {
    const response = await fetch(`${server.issuer}/introspect`, {
      method: 'POST',
      headers: {
        authorization: basic(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  }

  async function feedEntries(): Promise<Array<Record<string, unknown>>> {
    const response = await fetch(`${server.issuer}/revocations`, {
      headers: {
        authorization: basic(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
        accept: 'application/json',
      },
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { entries: Array<Record<string, unknown>> }).entries;
  }

  /** A new organization of the platform with its first admin, and that admin's credential. */
  async function organizationWithAdmin(externalId: string) {
    const org = expectStatus(
      await asOperator()('POST', '/organizations', { external_id: externalId, name: externalId }),
      201,
    );
    const admin = expectStatus(await asOperator()('POST', `/organizations/${org.id}/admins`, {}), 201);
    return { org, admin, credential: { clientId: admin.client_id, secret: admin.client_secret } };
  }

  it('un-entitling the API refuses product tokens at once; admins cannot switch it on until re-entitled', async () => {
    const { org, credential } = await organizationWithAdmin('tenant-entitlement');
    expect(org.api_entitled).toBe(true);
    const product = await productToken(server, credential.clientId, credential.secret);
    expect(await introspect(product)).toMatchObject({ active: true });

    const unentitled = expectStatus(
      await asOperator()('PATCH', `/organizations/${org.id}/settings`, { api_entitled: false }),
      200,
    );
    expect(unentitled).toMatchObject({ api_entitled: false, api_enabled: true });
    // At once: /introspect, /token and the feed all refuse the organization's product tokens.
    expect(await introspect(product)).toEqual({ active: false });
    const refused = await requestToken(
      server,
      credential.clientId,
      credential.secret,
      `${server.issuer}/api`,
    );
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(refused.body)).toMatch(/not entitled to the API module/);
    await eventually(async () =>
      expect(await feedEntries()).toContainEqual(
        expect.objectContaining({ type: 'organization', org_id: org.id, enabled: false }),
      ),
    );

    // The admins still manage the organization, see why, and are refused switching the API on.
    const admin = asAdmin(await adminToken(server, credential));
    expect(expectStatus(await admin.get('/settings'), 200)).toMatchObject({ api_entitled: false });
    const enable = await admin.patch('/settings', { api_enabled: true });
    expect(enable.status).toBe(403);
    expect(enable.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(enable.body).toMatchObject({
      type: expect.stringMatching(/\/api_not_entitled$/),
      field: 'api_enabled',
    });
    expect(enable.body.detail).toMatch(/not entitled this organization/);
    // Switching it off is always allowed: the admins' own choice, kept through the entitlement.
    expect(expectStatus(await admin.patch('/settings', { api_enabled: false }), 200).api_enabled).toBe(false);

    const entitled = expectStatus(
      await asOperator()('PATCH', `/organizations/${org.id}/settings`, { api_entitled: true }),
      200,
    );
    expect(entitled).toMatchObject({ api_entitled: true, api_enabled: false });
    const stillOff = await requestToken(
      server,
      credential.clientId,
      credential.secret,
      `${server.issuer}/api`,
    );
    expect(JSON.stringify(stillOff.body)).toMatch(/API module is turned off/);
    expectStatus(await admin.patch('/settings', { api_enabled: true }), 200);
    await eventually(async () =>
      expect(await feedEntries()).toContainEqual(
        expect.objectContaining({ type: 'organization', org_id: org.id, enabled: true }),
      ),
    );
    expect(
      await introspect(await productToken(server, credential.clientId, credential.secret)),
    ).toMatchObject({
      active: true,
    });

    // The organization's trail names the operator; the read is a use too.
    const trail = expectStatus(await admin.get('/audit-events'), 200);
    const byOperator = trail.items.filter(
      (e: { action: string; actor_operator: string | null }) =>
        e.action === 'settings.updated' && e.actor_operator === 'ops',
    );
    expect(byOperator.map((e: { diff: { after: unknown } }) => e.diff.after)).toEqual([
      { api_entitled: true },
      { api_entitled: false },
    ]);
    expectStatus(await asOperator()('GET', `/organizations/${org.id}/settings`), 200);
    const reads = expectStatus(
      await asOperator()('GET', `/audit?organization_id=${org.id}&action=settings.read`),
      200,
    );
    expect(reads.items).toHaveLength(1);
  });

  it('new organizations start with the deployment defaults; operators override, admins stay within limits', async () => {
    const initial = expectStatus(await asOperator()('GET', '/organization-defaults'), 200);
    expect(initial).toMatchObject({
      api_entitled: true,
      api_enabled: true,
      max_credentials_per_account: 10,
      limits: {
        allowed_credential_types: null,
        access_token_ttl_seconds: null,
        max_credentials_per_account: null,
        max_credential_lifetime_seconds: null,
      },
    });
    // A limit below its setting is refused unless the setting comes down with it.
    const contradiction = await asOperator()('PATCH', '/organization-defaults', {
      limits: { access_token_ttl_seconds: 120 },
    });
    expect(contradiction.status).toBe(422);
    expect(contradiction.body).toMatchObject({
      type: expect.stringMatching(/\/invalid_settings$/),
      field: 'access_token_ttl_seconds',
    });
    // Seeds 003 and 004: at most two keys per account, which admins cannot raise; the API a paid module.
    const defaults = expectStatus(
      await asOperator()('PATCH', '/organization-defaults', {
        api_entitled: false,
        max_credentials_per_account: 2,
        limits: { max_credentials_per_account: 2, allowed_credential_types: ['api_key', 'oauth_client'] },
        allowed_credential_types: ['oauth_client', 'api_key', 'oauth_client'],
      }),
      200,
    );
    expect(defaults).toMatchObject({
      api_entitled: false,
      max_credentials_per_account: 2,
      allowed_credential_types: ['api_key', 'oauth_client'],
      limits: { max_credentials_per_account: 2, allowed_credential_types: ['api_key', 'oauth_client'] },
    });

    const { org, credential } = await organizationWithAdmin('tenant-defaults');
    expect(org).toMatchObject({ api_entitled: false });
    const admin = asAdmin(await adminToken(server, credential));
    const settings = expectStatus(await admin.get('/settings'), 200);
    expect(settings).toMatchObject({
      api_entitled: false,
      max_credentials_per_account: 2,
      limits: { max_credentials_per_account: 2 },
    });
    for (const [patch, field] of [
      [{ max_credentials_per_account: 3 }, 'max_credentials_per_account'],
      [{ allowed_credential_types: ['private_key_jwt'] }, 'allowed_credential_types'],
    ] as const) {
      const beyond = await admin.patch('/settings', patch);
      expect(beyond.status).toBe(403);
      expect(beyond.body).toMatchObject({ type: expect.stringMatching(/\/setting_beyond_limit$/), field });
      expect(beyond.body.detail).toMatch(/a limit the product sets/);
    }
    expect(
      expectStatus(await admin.patch('/settings', { max_credentials_per_account: 1 }), 200),
    ).toMatchObject({
      max_credentials_per_account: 1,
    });
    expectStatus(await admin.patch('/settings', { max_credentials_per_account: 2 }), 200);

    // Two keys per account, not three.
    const roles = expectStatus(await admin.get('/roles'), 200);
    const fullAccess = roles.items.find((r: { name: string }) => r.name === FULL_ACCESS_ROLE_NAME);
    const account = expectStatus(
      await admin.post('/service-accounts', {
        name: 'Zapier',
        all_locations: true,
        roles: [{ role_id: fullAccess.id }],
      }),
      201,
    );
    for (const name of ['first', 'second']) {
      expectStatus(
        await admin.post(`/service-accounts/${account.id}/credentials`, { name, type: 'api_key' }),
        201,
      );
    }
    const third = await admin.post(`/service-accounts/${account.id}/credentials`, {
      name: 'third',
      type: 'api_key',
    });
    expect(third.status).toBe(409);
    expect(third.body.type).toMatch(/\/credential_limit_reached$/);

    // The operator's override of this organization: its limit lifted, its setting raised.
    const overridden = expectStatus(
      await asOperator()('PATCH', `/organizations/${org.id}/settings`, {
        max_credentials_per_account: 5,
        limits: { max_credentials_per_account: null },
      }),
      200,
    );
    expect(overridden).toMatchObject({
      max_credentials_per_account: 5,
      limits: { max_credentials_per_account: null },
    });
    expectStatus(await admin.patch('/settings', { max_credentials_per_account: 20 }), 200);
    // Other organizations' settings are untouched, and a made-up organization is not found.
    expect((await asOperator()('GET', `/organizations/${crypto.randomUUID()}/settings`)).status).toBe(404);
    expect(
      (await asOperator()('PATCH', `/organizations/${org.id}/settings`, { limits: { nope: 1 } })).status,
    ).toBe(400);

    // The defaults change is in the platform list; later organizations are made as before it.
    const listed = expectStatus(
      await asOperator()('GET', '/audit?action=organization_defaults.updated'),
      200,
    );
    expect(listed.items[0]).toMatchObject({ organization_id: null, actor_operator: 'ops' });
    expect(listed.items[0].diff.after).toMatchObject({ api_entitled: false, max_credentials_per_account: 2 });
    expectStatus(
      await asOperator()('PATCH', '/organization-defaults', {
        api_entitled: true,
        max_credentials_per_account: 10,
        allowed_credential_types: ['api_key', 'oauth_client', 'private_key_jwt'],
        limits: { max_credentials_per_account: null, allowed_credential_types: null },
      }),
      200,
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('the built-in account gets tokens through the platform; admins change only its roles', async () => {
    const { org, credential } = await organizationWithAdmin('tenant-built-in');
    const admin = asAdmin(await adminToken(server, credential));
    const builtIn = expectStatus(await asOperator()('GET', `/organizations/${org.id}/built-in-account`), 200);
    // Its status is derived as for any account: no roles, disabled; and no token.
    expect(builtIn).toMatchObject({ is_protected: true, status: 'disabled', roles: [] });
    const disabled = await asOperator()('POST', `/organizations/${org.id}/built-in-account:token`, {});
    expect(disabled.status).toBe(409);
    expect(disabled.body).toMatchObject({ type: expect.stringMatching(/\/token_refused$/) });
    expect(disabled.body.detail).toMatch(/no roles/);

    // The admins assign its roles (and the matrix), like any account's.
    const roles = expectStatus(await admin.get('/roles'), 200);
    const fullAccess = roles.items.find((r: { name: string }) => r.name === FULL_ACCESS_ROLE_NAME);
    const active = expectStatus(
      await admin.patch(`/service-accounts/${builtIn.id}`, { roles: [{ role_id: fullAccess.id }] }),
      200,
    );
    expect(active.status).toBe('active');

    const issued = expectStatus(
      await asOperator()('POST', `/organizations/${org.id}/built-in-account:token`, {}),
      200,
    );
    expect(issued).toMatchObject({ token_type: 'Bearer', service_account_id: builtIn.id });
    expect(issued.expires_in).toBe(300);
    // A token like any other: verified with jose against the published keys, active at /introspect.
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(issued.access_token, jwks, {
      issuer: server.issuer,
      audience: `${server.issuer}/api`,
      typ: 'at+jwt',
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ sub: builtIn.id, org_id: org.id, jti: issued.jti });
    expect(Object.keys(payload.permissions as object)).toEqual(['*']);
    expect((payload.permissions as Record<string, string[]>)['*']).toContain('items:read');
    const clientId = payload.client_id as string;
    expect(await introspect(issued.access_token)).toMatchObject({ active: true, sub: builtIn.id });

    // Down-scoped on request; refused beyond what it holds or for an unknown resource.
    const narrow = expectStatus(
      await asOperator()('POST', `/organizations/${org.id}/built-in-account:token`, { scope: 'items:read' }),
      200,
    );
    expect(narrow.scope).toBe('items:read');
    expect(decodeJwt(narrow.access_token).permissions).toEqual({ '*': ['items:read'] });
    for (const [body, type] of [
      [{ scope: 'roles:write' }, 'invalid_scope'],
      [{ resource: 'https://elsewhere.example/api' }, 'invalid_target'],
    ] as const) {
      const refused = await asOperator()('POST', `/organizations/${org.id}/built-in-account:token`, body);
      expect(refused.status).toBe(400);
      expect(refused.body.type).toMatch(new RegExp(`/${type}$`));
    }

    // Every other admin-side change is refused, saying what to do.
    const refusals = [
      await admin.patch(`/service-accounts/${builtIn.id}`, { name: 'Renamed' }),
      await admin.patch(`/service-accounts/${builtIn.id}`, { description: 'mine now' }),
      await admin.patch(`/service-accounts/${builtIn.id}`, { all_locations: false, location_ids: [] }),
      await admin.patch(`/service-accounts/${builtIn.id}`, { roles: [], groups_admin: true }),
      await admin.post(`/service-accounts/${builtIn.id}:archive`),
      await admin.delete(`/service-accounts/${builtIn.id}`),
      await admin.post(`/service-accounts/${builtIn.id}/credentials`, { name: 'mine', type: 'api_key' }),
    ];
    const [platformCredential] = expectStatus(
      await admin.get(`/service-accounts/${builtIn.id}/credentials`),
      200,
    ).items;
    expect(platformCredential).toMatchObject({ client_id: clientId, status: 'active' });
    expect(JSON.stringify(platformCredential)).not.toMatch(/secret"/);
    for (const action of [':revoke', ':rotate', ':regenerate']) {
      refusals.push(
        await admin.post(`/service-accounts/${builtIn.id}/credentials/${platformCredential.id}${action}`, {}),
      );
    }
    for (const refused of refusals) {
      expect(refused.status).toBe(409);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.body.type).toMatch(/\/protected_account$/);
      expect(refused.body.detail).toMatch(/managed by the product/);
    }
    expect(expectStatus(await admin.get(`/service-accounts/${builtIn.id}`), 200)).toMatchObject({
      name: builtIn.name,
      status: 'active',
    });
    // Its credential is the product's: the organization's choice of credential types does not stop it.
    expectStatus(
      await asOperator()('PATCH', `/organizations/${org.id}/settings`, {
        allowed_credential_types: ['api_key'],
      }),
      200,
    );
    expectStatus(await asOperator()('POST', `/organizations/${org.id}/built-in-account:token`, {}), 200);
    expectStatus(
      await asOperator()('PATCH', `/organizations/${org.id}/settings`, {
        allowed_credential_types: ['api_key', 'oauth_client'],
      }),
      200,
    );

    // Roles taken away: disabled, its tokens stale at once, no new one.
    const emptied = expectStatus(await admin.patch(`/service-accounts/${builtIn.id}`, { roles: [] }), 200);
    expect(emptied.status).toBe('disabled');
    expect(await introspect(issued.access_token)).toEqual({ active: false });
    expect((await asOperator()('POST', `/organizations/${org.id}/built-in-account:token`, {})).status).toBe(
      409,
    );

    // The platform revokes every token at once; the next one comes from a new credential.
    expectStatus(
      await admin.patch(`/service-accounts/${builtIn.id}`, { roles: [{ role_id: fullAccess.id }] }),
      200,
    );
    const before = expectStatus(
      await asOperator()('POST', `/organizations/${org.id}/built-in-account:token`, {}),
      200,
    );
    expect(await introspect(before.access_token)).toMatchObject({ active: true });
    const revoked = expectStatus(
      await asOperator()('POST', `/organizations/${org.id}/built-in-account:revoke-tokens`),
      200,
    );
    expect(revoked).toEqual({ service_account_id: builtIn.id, revoked_credentials: 1 });
    expect(await introspect(before.access_token)).toEqual({ active: false });
    await eventually(async () =>
      expect(await feedEntries()).toContainEqual(
        expect.objectContaining({ type: 'credential', client_id: clientId, org_id: org.id }),
      ),
    );
    const fresh = expectStatus(
      await asOperator()('POST', `/organizations/${org.id}/built-in-account:token`, {}),
      200,
    );
    expect(decodeJwt(fresh.access_token).client_id).not.toBe(clientId);
    expect(await introspect(fresh.access_token)).toMatchObject({ active: true });

    // Each token is an operator action in the organization's trail.
    const trail = expectStatus(await admin.get('/audit-events'), 200);
    expect(
      trail.items.filter((e: { action: string }) => e.action === 'built_in_account.token_issued').length,
    ).toBeGreaterThanOrEqual(4);
    expect(
      trail.items.find((e: { action: string }) => e.action === 'built_in_account.token_issued'),
    ).toMatchObject({
      actor_kind: 'operator',
      actor_operator: 'ops',
    });
    // Another organization's built-in account is not reachable through this one, nor a made-up one.
    expect((await asOperator()('GET', `/organizations/${crypto.randomUUID()}/built-in-account`)).status).toBe(
      404,
    );
  });

  it('creates an organization whose derived slug another organization already has', async () => {
    // An organization made by `svcauth bootstrap` may hold any slug, the one the platform would derive too.
    const externalId = 'tenant-with-a-taken-slug';
    const derived = `t-${createHash('sha256').update(externalId, 'utf8').digest('hex').slice(0, 24)}`;
    const bootstrapped = await bootstrapOrganization(server.database.db, new SecretHasher(TEST_BCRYPT_COST), {
      slug: derived,
    });
    const created = expectStatus(
      await asOperator()('POST', '/organizations', { external_id: externalId, name: 'Taken slug' }),
      201,
    );
    expect(created.id).not.toBe(bootstrapped.org_id);
    expect(created.slug).not.toBe(derived);
    expect(created.slug).toMatch(/^t-[0-9a-f]+$/);
    // Idempotent still: the same tenant id answers the same organization.
    const again = expectStatus(
      await asOperator()('POST', '/organizations', { external_id: externalId, name: 'Taken slug' }),
      200,
    );
    expect(again.id).toBe(created.id);
  });

  // Runs last (vitest keeps a file's order): every operation of this file's tags was called.
  it('checked the responses of every operation of its tags against the document', async () => {
    const document = (await (await fetch(`${server.issuer}/admin/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { operationId: string; tags: string[] }>>;
    };
    const operations = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/platform/v1/'))
      .flatMap(([, byMethod]) => Object.values(byMethod))
      .filter((operation) => operation.tags.some((tag) => COVERED_TAGS.includes(tag)))
      .map((operation) => operation.operationId);
    expect(operations.length).toBeGreaterThan(0);
    const covered = new Set([...documented.covered].map((entry) => entry.split(' ')[0]));
    expect(operations.filter((operation) => !covered.has(operation))).toEqual([]);
  });
});
