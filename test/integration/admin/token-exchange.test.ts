import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { MANAGEMENT_PERMISSIONS } from '../../../config/permissions.ts';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  RESOURCE_SERVER_SECRET_PREFIX,
  resourceServerEntry,
} from '../../../src/domain/credential-format.ts';
import { Fixtures } from '../../helpers/fixtures.ts';
import { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { adminApi, type ApiResponse, expectStatus } from './admin-helpers.ts';
import {
  basic,
  delegatingClient,
  exchange,
  jwksServer,
  type PersonClaims,
  PRODUCT_ISSUER,
  type ProductKey,
  productKey,
  subjectToken,
  TOKEN_EXCHANGE,
} from './exchange-helpers.ts';

/**
 * Issue 16 over HTTP: the product exchanges a subject token it signed for its logged-in admin (RFC
 * 8693, through openid-client's genericGrantRequest) for a management token, and the person then
 * administers their organization under their own authority, named in the audit trail.
 */
const OPERATOR = { name: 'ops', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };
const RESOURCE_SERVER = {
  name: 'items-api',
  secret: generateDeploymentSecret(RESOURCE_SERVER_SECRET_PREFIX),
};
const TENANT = 'tenant-acme';
const problem = (code: string) => `https://svcauth.dev/problems/${code}`;

describe('token exchange: the product acts for a person', () => {
  let server: TestServer;
  let jwks: Awaited<ReturnType<typeof jwksServer>>;
  let key: ProductKey;
  let documented: OpenApiResponseValidator;
  let product: { orgId: string; clientId: string; secret: string; delegationId: string };
  let tenant: { orgId: string; viewerRoleId: string; editorRoleId: string };
  let config: client.Configuration;

  const check = (method: string, path: string, response: ApiResponse) =>
    documented.validate(method, path, response.status, response.headers.get('content-type'), response.body);

  async function platform(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const response = await fetch(`${server.issuer}/platform/v1${path}`, {
      method,
      headers: {
        authorization: basic(OPERATOR.name, OPERATOR.secret),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const result = {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : null,
    };
    check(method, `/platform/v1${path.split('?')[0]}`, result);
    return result;
  }

  const sign = (claims: PersonClaims, options: Parameters<typeof subjectToken>[2] = {}, signer = key) =>
    subjectToken(signer, { tenant_id: TENANT, ...claims }, options, server.issuer);

  /** A management token for the person, through openid-client. */
  async function personToken(claims: PersonClaims, extra: Record<string, string> = {}): Promise<string> {
    const response = await exchange(config, await sign(claims), extra);
    return response.access_token;
  }

  const asPerson = async (claims: PersonClaims) => adminApi(server, await personToken(claims), check);
  const ALL = [...MANAGEMENT_PERMISSIONS];

  beforeAll(async () => {
    key = await productKey();
    jwks = await jwksServer([key]);
    server = await startTestServer({
      OPERATORS: resourceServerEntry(OPERATOR.name, OPERATOR.secret),
      RESOURCE_SERVERS: resourceServerEntry(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
      SUBJECT_TOKEN_ISSUER: PRODUCT_ISSUER,
      SUBJECT_TOKEN_JWKS_URL: jwks.url,
    });
    documented = new OpenApiResponseValidator(
      await (await fetch(`${server.issuer}/admin/v1/openapi.json`)).json(),
    );
    // The product's own organization and its credential, which the operator allows to delegate.
    const productOrg = expectStatus(
      await platform('POST', '/organizations', { external_id: 'product-backend', name: 'Product' }),
      201,
    );
    const admin = expectStatus(await platform('POST', `/organizations/${productOrg.id}/admins`, {}), 201);
    const delegation = expectStatus(
      await platform('POST', '/delegations', { client_id: admin.client_id, max_permissions: ALL }),
      201,
    );
    product = {
      orgId: productOrg.id,
      clientId: admin.client_id,
      secret: admin.client_secret,
      delegationId: delegation.id,
    };
    const tenantOrg = expectStatus(
      await platform('POST', '/organizations', { external_id: TENANT, name: 'Acme' }),
      201,
    );
    const fixtures = new Fixtures(server.database.db);
    tenant = {
      orgId: tenantOrg.id,
      viewerRoleId: (await fixtures.role(tenantOrg.id, ['items:read'], { name: 'Item viewer' })).id,
      editorRoleId: (
        await fixtures.role(tenantOrg.id, ['items:read', 'items:write'], { name: 'Item editor' })
      ).id,
    };
    config = await delegatingClient(server, product.clientId, product.secret);
  });

  afterAll(async () => {
    await server?.stop();
    await jwks?.close();
  });

  it('the metadata advertises the grant', async () => {
    const metadata = (await (
      await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)
    ).json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).toEqual(['client_credentials', TOKEN_EXCHANGE]);
    // ...and the OpenAPI document describes its request at /token.
    const document = await (await fetch(`${server.issuer}/admin/v1/openapi.json`)).text();
    const token =
      JSON.parse(document).paths['/token'].post.requestBody.content['application/x-www-form-urlencoded']
        .schema;
    expect(JSON.stringify(token)).toContain(TOKEN_EXCHANGE);
    expect(JSON.stringify(token)).toContain('subject_token_type');
  });

  it('issues a short-lived management token naming the person and the delegating client', async () => {
    const response = await exchange(
      config,
      await sign({ sub: 'ada', name: 'Ada Admin', email: 'ada@acme.example', permissions: ALL }),
    );
    expect(response).toMatchObject({
      token_type: 'bearer',
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      scope: ALL.join(' '),
    });
    expect(response.expires_in).toBeLessThanOrEqual(300);
    const claims = decodeJwt(response.access_token);
    expect(claims).toMatchObject({
      iss: server.issuer,
      aud: `${server.issuer}/admin`,
      sub: 'person:ada',
      act: { sub: product.clientId },
      client_id: product.clientId,
      org_id: tenant.orgId,
      name: 'Ada Admin',
      email: 'ada@acme.example',
      permissions: { '*': ALL },
    });
    expect(claims.permissions_version).toBeUndefined();
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
  });

  it('the person creates a service account and a key; both are created by the person', async () => {
    const api = await asPerson({
      sub: 'ada',
      name: 'Ada Admin',
      permissions: ALL,
      grantable_roles: ['Item viewer'],
    });
    const account = expectStatus(
      await api.post('/service-accounts', {
        name: 'Zapier',
        all_locations: true,
        roles: [{ role_id: tenant.viewerRoleId }],
      }),
      201,
    );
    expect(account.created_by).toEqual({
      kind: 'person',
      id: 'ada',
      display_name: 'Ada Admin',
      client_id: product.clientId,
    });
    expect(account.created_by_account_id).toBeNull();
    const key = expectStatus(
      await api.post(`/service-accounts/${account.id}/credentials`, { name: 'zap key', type: 'api_key' }),
      201,
    );
    expect(key.api_key).toMatch(/^svcak_/);
    expect(key.created_by).toMatchObject({ kind: 'person', id: 'ada', display_name: 'Ada Admin' });
    expect(key.created_by.credential_id).toBeNull();
    // The key works for the product API.
    const token = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: basic('api', key.api_key),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(token.status).toBe(200);
  });

  it('a Role Admin grants only the roles on their list', async () => {
    const api = await asPerson({
      sub: 'rolf',
      name: 'Rolf Roles',
      permissions: ALL,
      grantable_roles: ['item VIEWER'],
    });
    const refused = await api.post('/service-accounts', {
      name: 'Needs editing',
      all_locations: true,
      roles: [{ role_id: tenant.editorRoleId }],
    });
    expect(refused.status).toBe(403);
    expect(refused.body.type).toBe(problem('escalation_refused'));
    expect(refused.body.detail).toContain('"Item editor"');
    const account = expectStatus(
      await api.post('/service-accounts', {
        name: 'Reads items',
        all_locations: true,
        roles: [{ role_id: tenant.viewerRoleId }],
      }),
      201,
    );
    const edit = await api.patch(`/service-accounts/${account.id}`, {
      roles: [{ role_id: tenant.viewerRoleId }, { role_id: tenant.editorRoleId }],
    });
    expect(edit.status).toBe(403);
    // A list naming the role by id works as well as by name.
    const byId = await asPerson({ sub: 'rolf', permissions: ALL, grantable_roles: [tenant.editorRoleId] });
    expectStatus(
      await byId.post('/service-accounts', {
        name: 'Edits items',
        all_locations: true,
        roles: [{ role_id: tenant.editorRoleId }],
      }),
      201,
    );
  });

  it('without a list, a person grants only what they hold: no product role', async () => {
    const api = await asPerson({ sub: 'nolist', permissions: ALL });
    const refused = await api.post('/service-accounts', {
      name: 'No list',
      all_locations: true,
      roles: [{ role_id: tenant.viewerRoleId }],
    });
    expect(refused.status).toBe(403);
    expect(refused.body.type).toBe(problem('escalation_refused'));
  });

  it('only a groups administrator sets groups_admin', async () => {
    const plain = await asPerson({ sub: 'gus', permissions: ALL });
    const refused = await plain.post('/service-accounts', {
      name: 'Groups',
      all_locations: true,
      groups_admin: true,
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ type: problem('escalation_refused'), field: 'groups_admin' });
    const groupsAdmin = await asPerson({ sub: 'gus', permissions: ALL, groups_admin: true });
    const created = expectStatus(
      await groupsAdmin.post('/service-accounts', {
        name: 'Groups',
        all_locations: true,
        groups_admin: true,
      }),
      201,
    );
    expect(created.groups_admin).toBe(true);
  });

  it('View, Edit and Delete levels map onto the management permissions', async () => {
    const viewer = await asPerson({ sub: 'vic', service_accounts_level: 'view' });
    expectStatus(await viewer.get('/service-accounts'), 200);
    const write = await viewer.post('/service-accounts', { name: 'Not by a viewer', all_locations: true });
    expect(write.status).toBe(403);
    expect(write.body.required_permissions).toEqual(['service_accounts:write']);

    const editor = await asPerson({ sub: 'eve', service_accounts_level: 'edit' });
    const account = expectStatus(
      await editor.post('/service-accounts', { name: 'By an editor', all_locations: true }),
      201,
    );
    expect((await editor.post(`/service-accounts/${account.id}:archive`)).status).toBe(403);

    const deleter = await asPerson({ sub: 'dan', service_accounts_level: 'delete' });
    expect(expectStatus(await deleter.post(`/service-accounts/${account.id}:archive`), 200).status).toBe(
      'archived',
    );
  });

  it('the audit trail names the person on every event, and the refused attempts', async () => {
    const auditor = await asPerson({ sub: 'audrey', name: 'Audrey', permissions: ['audit:read'] });
    const page = expectStatus(await auditor.get('/audit-events?actor_id=ada&limit=200'), 200);
    const actions = page.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['token.exchanged', 'service_account.created', 'credential.created']),
    );
    for (const event of page.items) {
      expect(event).toMatchObject({
        actor_kind: 'person',
        actor_id: 'ada',
        actor_display_name: 'Ada Admin',
        actor_client_id: product.clientId,
        actor_account_id: null,
      });
    }
    const refused = expectStatus(
      await auditor.get('/audit-events?actor_kind=person&action=admin_api.refused&limit=200'),
      200,
    );
    const rolf = refused.items.filter((e: { actor_id: string }) => e.actor_id === 'rolf');
    expect(rolf.length).toBeGreaterThanOrEqual(2);
    expect(rolf[0]).toMatchObject({
      outcome: 'failure',
      actor_display_name: 'Rolf Roles',
      target_type: 'operation',
      diff: { status: 403, code: 'escalation_refused' },
    });
    expect(rolf.map((e: { diff: { reason: string } }) => e.diff.reason).join(' ')).toContain('Item editor');
    const vic = refused.items.find((e: { actor_id: string }) => e.actor_id === 'vic');
    expect(vic).toMatchObject({
      target_id: 'createServiceAccount',
      diff: { code: 'insufficient_permission', method: 'POST' },
    });
  });

  it('refused attempts are audited within a per-actor budget (no audit flood)', async () => {
    const api = await asPerson({ sub: 'flood', service_accounts_level: 'view' });
    for (let i = 0; i < 14; i += 1) {
      expect((await api.post('/service-accounts', { name: `flood ${i}` })).status).toBe(403);
    }
    const auditor = await asPerson({ sub: 'audrey', permissions: ['audit:read'] });
    const events = expectStatus(
      await auditor.get('/audit-events?actor_id=flood&action=admin_api.refused&limit=200'),
      200,
    ).items;
    expect(events).toHaveLength(10);
    expect(events[0].diff.more_not_recorded).toContain('not recorded');
  });

  describe('refusals at /token', () => {
    it('a client the operator has not allowed to delegate is unauthorized_client', async () => {
      const tenantAdmin = expectStatus(
        await platform('POST', `/organizations/${tenant.orgId}/admins`, { name: 'Tenant admin' }),
        201,
      );
      const other = await delegatingClient(server, tenantAdmin.client_id, tenantAdmin.client_secret);
      await expect(exchange(other, await sign({ permissions: ALL }))).rejects.toMatchObject({
        status: 400,
        error: 'unauthorized_client',
      });
    });

    it('forged, expired, replayed, wrong-audience and wrong-issuer subject tokens are invalid_request', async () => {
      const impostor = { ...(await productKey()), kid: key.kid };
      const cases: Array<[string, Promise<string>, string]> = [
        ['forged', sign({ permissions: ALL }, {}, impostor), 'signature'],
        [
          'expired',
          sign({ permissions: ALL }, { issuedAt: Math.floor(Date.now() / 1000) - 120, lifetimeSeconds: 60 }),
          'expired',
        ],
        ['wrong audience', sign({ permissions: ALL }, { audience: 'https://elsewhere.example' }), 'aud'],
        ['wrong issuer', sign({ permissions: ALL }, { issuer: 'https://evil.example' }), 'iss'],
        ['too long-lived', sign({ permissions: ALL }, { lifetimeSeconds: 3600 }), 'at most 300'],
        ['no jti', sign({ permissions: ALL }, { jti: null }), 'jti'],
        ['unknown tenant', sign({ permissions: ALL, tenant_id: 'tenant-nobody' }), 'no organization'],
        ['product permission', sign({ permissions: ['items:read'] }), 'not management permissions'],
      ];
      for (const [name, token, says] of cases) {
        const refusal = exchange(config, await token);
        await expect(refusal, name).rejects.toMatchObject({ status: 400, error: 'invalid_request' });
        await expect(refusal, name).rejects.toHaveProperty(
          'error_description',
          expect.stringContaining(says),
        );
      }
      const once = await sign({ permissions: ALL });
      await exchange(config, once);
      await expect(exchange(config, once)).rejects.toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringContaining('exchanged already'),
      });
    });

    it('a target other than the management API is invalid_target; a scope beyond is invalid_scope', async () => {
      await expect(
        exchange(config, await sign({ permissions: ALL }), { resource: `${server.issuer}/api` }),
      ).rejects.toMatchObject({ status: 400, error: 'invalid_target' });
      await expect(
        exchange(config, await sign({ service_accounts_level: 'view' }), { scope: 'service_accounts:write' }),
      ).rejects.toMatchObject({ status: 400, error: 'invalid_scope' });
      const narrowed = await exchange(config, await sign({ permissions: ALL }), {
        scope: 'audit:read',
        resource: `${server.issuer}/admin`,
      });
      expect(decodeJwt(narrowed.access_token).permissions).toEqual({ '*': ['audit:read'] });
    });

    it('a subject_token_type other than a JWT, and an actor_token, are invalid_request', async () => {
      const token = await sign({ permissions: ALL });
      await expect(
        client.genericGrantRequest(config, TOKEN_EXCHANGE, {
          subject_token: token,
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        }),
      ).rejects.toMatchObject({ error: 'invalid_request' });
      await expect(
        client.genericGrantRequest(config, TOKEN_EXCHANGE, {
          subject_token: token,
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          actor_token: token,
          actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        }),
      ).rejects.toMatchObject({ error: 'invalid_request' });
    });
  });

  it('a key the product publishes later is picked up from its JWKS URL', async () => {
    const rotated = await productKey('EdDSA');
    jwks.publish(rotated);
    const response = await exchange(config, await sign({ sub: 'ada', permissions: ALL }, {}, rotated));
    expect(decodeJwt(response.access_token).sub).toBe('person:ada');
  });

  it('the delegating client revokes a person token at /revoke; /introspect sees it until then', async () => {
    const token = await personToken({ sub: 'rita', permissions: ALL });
    const introspect = async () =>
      (
        await fetch(`${server.issuer}/introspect`, {
          method: 'POST',
          headers: {
            authorization: basic(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams({ token }).toString(),
        })
      ).json();
    expect(await introspect()).toMatchObject({
      active: true,
      sub: 'person:rita',
      act: { sub: product.clientId },
    });
    await client.tokenRevocation(config, token);
    expect((await adminApi(server, token).get('/service-accounts')).status).toBe(401);
    expect(await introspect()).toEqual({ active: false });
  });

  it('the operator narrows what the client hands on: issued tokens carry no more from then on', async () => {
    const api = await asPerson({ sub: 'nora', permissions: ALL });
    expectStatus(
      await platform('PATCH', `/delegations/${product.delegationId}`, {
        max_permissions: ['service_accounts:read', 'audit:read'],
      }),
      200,
    );
    try {
      expect((await api.post('/service-accounts', { name: 'After narrowing' })).status).toBe(403);
      expectStatus(await api.get('/service-accounts'), 200);
      const narrowed = await exchange(config, await sign({ permissions: ALL }));
      expect(narrowed.scope).toBe('service_accounts:read audit:read');
    } finally {
      expectStatus(
        await platform('PATCH', `/delegations/${product.delegationId}`, { max_permissions: ALL }),
        200,
      );
    }
  });

  it('a suspended organization refuses the exchange and the person tokens it issued', async () => {
    const api = await asPerson({ sub: 'sue', permissions: ALL });
    expectStatus(await platform('POST', `/organizations/${tenant.orgId}:suspend`, {}), 200);
    try {
      expect((await api.get('/service-accounts')).status).toBe(401);
      await expect(exchange(config, await sign({ permissions: ALL }))).rejects.toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringContaining('suspended'),
      });
    } finally {
      expectStatus(await platform('POST', `/organizations/${tenant.orgId}:resume`, {}), 200);
    }
  });

  it('the operator lists and reads delegations; one per credential lineage', async () => {
    const listed = expectStatus(await platform('GET', '/delegations'), 200);
    expect(listed.items).toEqual([
      expect.objectContaining({
        id: product.delegationId,
        client_id: product.clientId,
        organization_id: product.orgId,
        max_permissions: ALL,
        created_by_operator: OPERATOR.name,
      }),
    ]);
    expectStatus(await platform('GET', `/delegations/${product.delegationId}`), 200);
    const again = await platform('POST', '/delegations', {
      client_id: product.clientId,
      max_permissions: ALL,
    });
    expect(again.status).toBe(409);
    expect(again.body.type).toBe(problem('delegation_exists'));
    const unknown = await platform('POST', '/delegations', {
      client_id: 'no-such-client',
      max_permissions: ALL,
    });
    expect(unknown.status).toBe(422);
    expect((await platform('GET', '/delegations/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const invalid = await platform('PATCH', `/delegations/${product.delegationId}`, {
      max_permissions: ['items:read'],
    });
    expect(invalid.status).toBe(400);
  });

  it('withdrawing the delegation refuses the tokens it issued and further exchanges', async () => {
    const api = await asPerson({ sub: 'walt', permissions: ALL });
    expectStatus(await api.get('/service-accounts'), 200);
    expect((await platform('DELETE', `/delegations/${product.delegationId}`)).status).toBe(204);
    const refused = await api.get('/service-accounts');
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toContain('no longer allowed to act for people');
    await expect(exchange(config, await sign({ permissions: ALL }))).rejects.toMatchObject({
      error: 'unauthorized_client',
    });
    const operatorTrail = expectStatus(await platform('GET', '/audit?action=delegation.withdrawn'), 200);
    expect(operatorTrail.items[0]).toMatchObject({
      actor_operator: OPERATOR.name,
      organization_id: product.orgId,
    });
  });

  it('checked every delegation operation against the served OpenAPI document', () => {
    const covered = new Set([...documented.covered].map((entry) => entry.split(' ')[0]));
    for (const operation of [
      'platformAllowDelegation',
      'platformListDelegations',
      'platformGetDelegation',
      'platformUpdateDelegation',
      'platformWithdrawDelegation',
    ]) {
      expect(covered).toContain(operation);
    }
  });
});
