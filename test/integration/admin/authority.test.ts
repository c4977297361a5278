import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGEMENT_PERMISSIONS } from '../../../config/permissions.ts';
import { RoleRepository } from '../../../src/persistence/repositories/role-repository.ts';
import { ServiceAccountRepository } from '../../../src/persistence/repositories/service-account-repository.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  type ApiResponse,
  type BootstrappedAdmin,
  bootstrapAdmin,
  type ClientSecretPair,
  expectStatus,
  requestToken,
} from './admin-helpers.ts';

/**
 * Authority bounds what an admin may take away as well as what it may hand out, an organization never
 * loses its last usable holder of a management permission through the API, and a down-scoped admin
 * token holds only what its scope carries.
 */
describe('admin authority', () => {
  let server: TestServer;
  let orgs = 0;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** A fresh organization: its bootstrap admin (every permission) and the admin API as it sees it. */
  async function freshOrg(): Promise<{ admin: BootstrappedAdmin; api: AdminApi }> {
    const admin = await bootstrapAdmin(server, `authority-${++orgs}`);
    return { admin, api: adminApi(server, await adminToken(server, admin)) };
  }

  async function accountWith(
    api: AdminApi,
    name: string,
    permissions: string[],
  ): Promise<{ id: string; credentialId: string } & ClientSecretPair> {
    const role = expectStatus(await api.post('/roles', { name: `${name} role`, permissions }), 201);
    const account = expectStatus(
      await api.post('/service-accounts', { name, all_locations: true, roles: [{ role_id: role.id }] }),
      201,
    );
    const credential = expectStatus(
      await api.post(`/service-accounts/${account.id}/credentials`, { name: 'main', type: 'oauth_client' }),
      201,
    );
    return {
      id: account.id,
      credentialId: credential.id,
      clientId: credential.client_id,
      secret: credential.client_secret,
    };
  }

  function expectRefused(response: ApiResponse, status: number, type: string) {
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body.type).toBe(`https://svcauth.dev/problems/${type}`);
  }

  describe('an admin cannot act on an account holding more than it holds', () => {
    let admin: BootstrappedAdmin;
    let api: AdminApi;
    let lower: AdminApi;

    beforeAll(async () => {
      ({ admin, api } = await freshOrg());
      const account = await accountWith(api, 'account manager', [
        'service_accounts:read',
        'service_accounts:write',
        'service_accounts:delete',
      ]);
      lower = adminApi(server, await adminToken(server, account));
    });

    it('cannot strip the roles of the bootstrap admin', async () => {
      const response = await lower.patch(`/service-accounts/${admin.accountId}`, { roles: [] });
      expectRefused(response, 403, 'escalation_refused');
      expect(response.body.detail).toContain('settings:write');
      const after = expectStatus(await api.get(`/service-accounts/${admin.accountId}`), 200);
      expect(after.roles).toHaveLength(2);
    });

    it('cannot revoke, rotate or regenerate the bootstrap admin credential', async () => {
      const credential = `/service-accounts/${admin.accountId}/credentials/${admin.credentialId}`;
      expectRefused(await lower.post(`${credential}:revoke`), 403, 'escalation_refused');
      expectRefused(await lower.post(`${credential}:rotate`, {}), 403, 'escalation_refused');
      expectRefused(await lower.post(`${credential}:regenerate`, {}), 403, 'escalation_refused');
      const after = expectStatus(await api.get(credential), 200);
      expect(after).toMatchObject({ status: 'active', slot: 'primary' });
      expect((await requestToken(server, admin.clientId, admin.secret)).status).toBe(200);
    });

    it('cannot archive or rename the bootstrap admin', async () => {
      expectRefused(
        await lower.post(`/service-accounts/${admin.accountId}:archive`),
        403,
        'escalation_refused',
      );
      expectRefused(
        await lower.patch(`/service-accounts/${admin.accountId}`, { name: 'demoted' }),
        403,
        'escalation_refused',
      );
      expect(expectStatus(await api.get(`/service-accounts/${admin.accountId}`), 200).status).toBe('active');
    });

    it('still acts on accounts within its reach', async () => {
      const peer = await accountWith(api, 'peer', []);
      expectStatus(
        await lower.post(`/service-accounts/${peer.id}/credentials/${peer.credentialId}:revoke`),
        200,
      );
      expectStatus(await lower.patch(`/service-accounts/${peer.id}`, { description: 'reviewed' }), 200);
      expectStatus(await lower.post(`/service-accounts/${peer.id}:archive`), 200);
    });
  });

  describe('an organization keeps a usable holder of every management permission', () => {
    it('refuses removing the last holder its roles, with 409 naming the permissions', async () => {
      const { admin, api } = await freshOrg();
      const response = await api.patch(`/service-accounts/${admin.accountId}`, { roles: [] });
      expectRefused(response, 409, 'last_management_holder');
      for (const permission of MANAGEMENT_PERMISSIONS) expect(response.body.detail).toContain(permission);
      expect(response.body.details.permissions).toEqual([...MANAGEMENT_PERMISSIONS].sort());
      expect(expectStatus(await api.get(`/service-accounts/${admin.accountId}`), 200).roles).toHaveLength(2);
    });

    it('refuses revoking or archiving the last holder, and allows it once another can take over', async () => {
      const { admin, api } = await freshOrg();
      const own = `/service-accounts/${admin.accountId}/credentials/${admin.credentialId}`;
      expectRefused(await api.post(`${own}:revoke`), 409, 'last_management_holder');
      expectRefused(
        await api.post(`/service-accounts/${admin.accountId}:archive`),
        409,
        'last_management_holder',
      );

      // A second holder without a credential cannot take over: it could never get a token.
      const roles = expectStatus(await api.get('/roles'), 200).items as Array<{ id: string; name: string }>;
      const apiAdminRole = roles.find((r) => r.name === 'API Admin')!;
      const successor = expectStatus(
        await api.post('/service-accounts', {
          name: 'successor',
          all_locations: true,
          roles: [{ role_id: apiAdminRole.id }],
        }),
        201,
      );
      expectRefused(await api.post(`${own}:revoke`), 409, 'last_management_holder');

      expectStatus(
        await api.post(`/service-accounts/${successor.id}/credentials`, { name: 'main', type: 'api_key' }),
        201,
      );
      expectStatus(await api.post(`${own}:revoke`), 200);
    });

    it('refuses a role edit or deletion that removes the last holder', async () => {
      // The organization is administered through a role of its own rather than the built-in one (set up
      // before any token is issued, so no cached token subject predates it).
      const admin = await bootstrapAdmin(server, `authority-${++orgs}`);
      const db = server.database.db;
      const custom = await new RoleRepository(db).create(admin.orgId, {
        name: 'Administrators',
        permissions: [...MANAGEMENT_PERMISSIONS],
      });
      const product = (await new RoleRepository(db).findLiveByName(
        admin.orgId,
        'Everything in the product',
      ))!;
      await new ServiceAccountRepository(db).replaceAssignments(admin.orgId, admin.accountId, {
        locationIds: [],
        roles: [
          { roleId: custom.id, restrictedTo: null },
          { roleId: product.id, restrictedTo: null },
        ],
      });
      const api = adminApi(server, await adminToken(server, admin));

      const narrowed = await api.patch(`/roles/${custom.id}`, {
        permissions: MANAGEMENT_PERMISSIONS.filter((p) => p !== 'audit:read'),
      });
      expectRefused(narrowed, 409, 'last_management_holder');
      expect(narrowed.body.details.permissions).toEqual(['audit:read']);
      expectRefused(
        await api.patch(`/roles/${custom.id}?remove_from_holders=true`, {
          assignable_to_service_accounts: false,
        }),
        409,
        'last_management_holder',
      );
      expectRefused(await api.delete(`/roles/${custom.id}`), 409, 'last_management_holder');
      expect(expectStatus(await api.get(`/roles/${custom.id}`), 200).permissions).toHaveLength(
        MANAGEMENT_PERMISSIONS.length,
      );
    });
  });

  describe('settings cannot lock out every admin credential', () => {
    it('refuses allowed_credential_types that leave no admin credential usable', async () => {
      const { admin, api } = await freshOrg();
      const response = await api.patch('/settings', { allowed_credential_types: ['api_key'] });
      expectRefused(response, 409, 'last_management_holder');
      expect(response.body.detail).toContain('allowed_credential_types');
      expect(expectStatus(await api.get('/settings'), 200).allowed_credential_types).toContain(
        'oauth_client',
      );
      expect(
        (await requestToken(server, admin.clientId, admin.secret, `${server.issuer}/admin`)).status,
      ).toBe(200);

      // With an admin API key in place, narrowing to API keys leaves the organization administrable.
      const key = expectStatus(
        await api.post(`/service-accounts/${admin.accountId}/credentials`, { name: 'key', type: 'api_key' }),
        201,
      );
      expectStatus(await api.patch('/settings', { allowed_credential_types: ['api_key'] }), 200);
      expect((await requestToken(server, 'api', key.api_key, `${server.issuer}/admin`)).status).toBe(200);
    });
  });

  describe('a down-scoped admin token holds only what its scope carries', () => {
    it('cannot grant product permissions its account holds but the token does not carry', async () => {
      const { admin, api } = await freshOrg();
      const roles = expectStatus(await api.get('/roles'), 200).items as Array<{ id: string; name: string }>;
      const fullAccess = roles.find((r) => r.name === 'Full product access')!;
      const scoped = await scopedToken(admin, 'service_accounts:write');
      const narrow = adminApi(server, scoped);
      const response = await narrow.post('/service-accounts', {
        name: 'given everything',
        all_locations: true,
        roles: [{ role_id: fullAccess.id }],
      });
      expectRefused(response, 403, 'escalation_refused');
      expect(response.body.detail).toContain('items:read');
      // Within the token's scope it still works, and the full token of the same account may grant it.
      expectStatus(
        await narrow.post('/service-accounts', { name: 'given nothing', all_locations: true }),
        201,
      );
      expectStatus(
        await api.post('/service-accounts', {
          name: 'given everything',
          all_locations: true,
          roles: [{ role_id: fullAccess.id }],
        }),
        201,
      );
    });

    it('cannot act on an account holding what the token does not carry', async () => {
      const { admin, api } = await freshOrg();
      const peer = await accountWith(api, 'reader', ['items:read']);
      const narrow = adminApi(server, await scopedToken(admin, 'service_accounts:write'));
      expectRefused(
        await narrow.post(`/service-accounts/${peer.id}/credentials/${peer.credentialId}:revoke`),
        403,
        'escalation_refused',
      );
    });
  });

  async function scopedToken(credential: ClientSecretPair, scope: string): Promise<string> {
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${credential.clientId}:${credential.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        resource: `${server.issuer}/admin`,
        scope,
      }).toString(),
    });
    const body = (await response.json()) as { access_token?: string };
    if (!body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
    return body.access_token;
  }
});
