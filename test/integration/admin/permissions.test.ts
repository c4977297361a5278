import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGEMENT_PERMISSIONS, type ManagementPermission } from '../../../config/permissions.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  type BootstrappedAdmin,
  bootstrapAdmin,
  type ClientSecretPair,
  expectStatus,
} from './admin-helpers.ts';

/**
 * Who may do what: each management permission allows its operations and nothing else; no admin can
 * grant what it does not hold; and nothing of another organization is even visible.
 */
describe('management API permissions', () => {
  let server: TestServer;
  let admin: BootstrappedAdmin;
  let api: AdminApi;
  let paris: { id: string };
  let berlin: { id: string };
  let reader: { id: string };
  let writer: { id: string };
  const roleOf = new Map<ManagementPermission, { id: string }>();
  let counter = 0;
  const unique = (prefix: string) => `${prefix} ${++counter}`;

  /** A service account with the given roles and an oauth_client credential, as created over the API. */
  async function accountWith(
    roles: Array<{ role_id: string; location_ids?: string[] }>,
    placement: { all_locations: true } | { location_ids: string[] } = { all_locations: true },
  ): Promise<{ id: string } & ClientSecretPair> {
    const account = expectStatus(
      await api.post('/service-accounts', { name: unique('account'), ...placement, roles }),
      201,
    );
    const credential = expectStatus(
      await api.post(`/service-accounts/${account.id}/credentials`, { name: 'main', type: 'oauth_client' }),
      201,
    );
    return { id: account.id, clientId: credential.client_id, secret: credential.client_secret };
  }

  async function apiAs(account: ClientSecretPair): Promise<AdminApi> {
    return adminApi(server, await adminToken(server, account));
  }

  beforeAll(async () => {
    server = await startTestServer();
    admin = await bootstrapAdmin(server, 'org-a');
    api = adminApi(server, await adminToken(server, admin));
    paris = expectStatus(await api.post('/locations', { name: 'Paris' }), 201);
    berlin = expectStatus(await api.post('/locations', { name: 'Berlin' }), 201);
    reader = expectStatus(await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201);
    writer = expectStatus(await api.post('/roles', { name: 'Writer', permissions: ['items:write'] }), 201);
    for (const permission of MANAGEMENT_PERMISSIONS) {
      roleOf.set(
        permission,
        expectStatus(
          await api.post('/roles', { name: `only ${permission}`, permissions: [permission] }),
          201,
        ),
      );
    }
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('each permission level allows its operations and refuses the others', () => {
    // One operation per kind of access; `run` gets fresh targets so every allowed call can succeed.
    const operations: Array<{
      name: string;
      needs: readonly ManagementPermission[];
      run: (as: AdminApi) => Promise<{ status: number; body: { detail?: string } }>;
    }> = [
      {
        name: 'list service accounts',
        needs: ['service_accounts:read'],
        run: (as) => as.get('/service-accounts'),
      },
      {
        name: 'create a service account',
        needs: ['service_accounts:write'],
        run: (as) => as.post('/service-accounts', { name: unique('created'), all_locations: true }),
      },
      {
        name: 'archive a service account',
        needs: ['service_accounts:delete'],
        run: async (as) => {
          const victim = expectStatus(
            await api.post('/service-accounts', { name: unique('victim'), all_locations: true }),
            201,
          );
          return as.post(`/service-accounts/${victim.id}:archive`);
        },
      },
      {
        name: 'create a role',
        needs: ['roles:write'],
        run: (as) => as.post('/roles', { name: unique('role'), permissions: [] }),
      },
      {
        name: 'create a location',
        needs: ['roles:write'],
        run: (as) => as.post('/locations', { name: unique('loc') }),
      },
      {
        name: 'read locations',
        needs: ['roles:write', 'service_accounts:read'],
        run: (as) => as.get('/locations'),
      },
      {
        name: 'change settings',
        needs: ['settings:write'],
        run: (as) => as.patch('/settings', { api_enabled: true }),
      },
      {
        name: 'read settings',
        needs: ['settings:write', 'service_accounts:read'],
        run: (as) => as.get('/settings'),
      },
      { name: 'read the audit trail', needs: ['audit:read'], run: (as) => as.get('/audit-events') },
    ];

    for (const level of MANAGEMENT_PERMISSIONS) {
      it(`with only ${level}`, async () => {
        const as = await apiAs(await accountWith([{ role_id: roleOf.get(level)!.id }]));
        for (const operation of operations) {
          const response = await operation.run(as);
          if (operation.needs.includes(level)) {
            expect(response.status, `${level} may ${operation.name}`).toBeLessThan(300);
          } else {
            expect(response.status, `${level} may not ${operation.name}`).toBe(403);
            expect(response.body.detail).toContain(operation.needs.join(' or '));
          }
        }
      });
    }

    it('answers 403 with the permission named, as problem+json with a bearer challenge', async () => {
      const as = await apiAs(await accountWith([{ role_id: roleOf.get('audit:read')!.id }]));
      const response = await as.post('/roles', { name: unique('role'), permissions: [] });
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      expect(response.body).toMatchObject({
        type: 'https://svcauth.dev/problems/insufficient_permission',
        status: 403,
        required_permissions: ['roles:write'],
      });
    });
  });

  describe('no escalation', () => {
    let limited: AdminApi;
    let limitedAccount: { id: string } & ClientSecretPair;
    let roleAdmin: AdminApi;

    beforeAll(async () => {
      // Manages accounts, and reads items in Paris only (the role x location matrix).
      const manager = expectStatus(
        await api.post('/roles', {
          name: 'Account manager',
          permissions: ['service_accounts:read', 'service_accounts:write'],
        }),
        201,
      );
      limitedAccount = await accountWith(
        [{ role_id: manager.id }, { role_id: reader.id, location_ids: [paris.id] }],
        { location_ids: [paris.id, berlin.id] },
      );
      limited = await apiAs(limitedAccount);
      roleAdmin = await apiAs(await accountWith([{ role_id: roleOf.get('roles:write')!.id }]));
    });

    async function expectEscalation(response: Promise<{ status: number; body: { type: string } }>) {
      const settled = await response;
      expect(settled.status, JSON.stringify(settled.body)).toBe(403);
      expect(settled.body.type).toBe('https://svcauth.dev/problems/escalation_refused');
    }

    it('may grant what it holds where it holds it', async () => {
      expectStatus(
        await limited.post('/service-accounts', {
          name: unique('ok'),
          location_ids: [paris.id],
          roles: [{ role_id: reader.id }],
        }),
        201,
      );
    });

    it('refuses a role holding a product permission the admin lacks', async () => {
      await expectEscalation(
        limited.post('/service-accounts', {
          name: unique('x'),
          location_ids: [paris.id],
          roles: [{ role_id: writer.id }],
        }),
      );
    });

    it('refuses a permission the admin holds only elsewhere (the matrix counts)', async () => {
      await expectEscalation(
        limited.post('/service-accounts', {
          name: unique('x'),
          location_ids: [berlin.id],
          roles: [{ role_id: reader.id }],
        }),
      );
      await expectEscalation(
        limited.post('/service-accounts', {
          name: unique('x'),
          all_locations: true,
          roles: [{ role_id: reader.id }],
        }),
      );
    });

    it('refuses a role holding a management permission the admin lacks', async () => {
      await expectEscalation(
        limited.post('/service-accounts', {
          name: unique('x'),
          all_locations: true,
          roles: [{ role_id: roleOf.get('roles:write')!.id }],
        }),
      );
    });

    it('refuses adding to its own account what it lacks', async () => {
      await expectEscalation(
        limited.patch(`/service-accounts/${limitedAccount.id}`, {
          roles: [{ role_id: roleOf.get('settings:write')!.id }],
        }),
      );
    });

    it('refuses groups_admin from an admin that is not one', async () => {
      await expectEscalation(
        limited.post('/service-accounts', {
          name: unique('x'),
          location_ids: [paris.id],
          groups_admin: true,
        }),
      );
    });

    it('refuses issuing a credential for an account more powerful than the admin', async () => {
      await expectEscalation(
        limited.post(`/service-accounts/${admin.accountId}/credentials`, {
          name: 'mine now',
          type: 'api_key',
        }),
      );
    });

    it('refuses creating or widening a role beyond what the admin holds', async () => {
      await expectEscalation(roleAdmin.post('/roles', { name: unique('r'), permissions: ['items:read'] }));
      await expectEscalation(
        roleAdmin.post('/roles', { name: unique('r'), permissions: ['settings:write'] }),
      );
      const own = expectStatus(
        await roleAdmin.post('/roles', { name: unique('r'), permissions: ['roles:write'] }),
        201,
      );
      await expectEscalation(
        roleAdmin.patch(`/roles/${own.id}`, { permissions: ['roles:write', 'audit:read'] }),
      );
    });

    it('refuses widening a role where its holders are but the admin does not hold the permission', async () => {
      // Manages roles, and reads items in Paris only.
      const parisRoleAdmin = await apiAs(
        await accountWith(
          [{ role_id: roleOf.get('roles:write')!.id }, { role_id: reader.id, location_ids: [paris.id] }],
          { location_ids: [paris.id, berlin.id] },
        ),
      );
      const heldInBerlin = expectStatus(
        await api.post('/roles', { name: unique('r'), permissions: [] }),
        201,
      );
      await accountWith([{ role_id: heldInBerlin.id }], { location_ids: [berlin.id] });
      const heldInParis = expectStatus(await api.post('/roles', { name: unique('r'), permissions: [] }), 201);
      await accountWith([{ role_id: heldInParis.id }], { location_ids: [paris.id] });

      // items:read is held somewhere (Paris), but the role would carry it to an account in Berlin.
      await expectEscalation(
        parisRoleAdmin.patch(`/roles/${heldInBerlin.id}`, { permissions: ['items:read'] }),
      );
      expect(expectStatus(await api.get(`/roles/${heldInBerlin.id}`), 200).permissions).toEqual([]);
      // Where every holder sits in Paris, the same edit is within the admin's reach.
      expect(
        expectStatus(
          await parisRoleAdmin.patch(`/roles/${heldInParis.id}`, { permissions: ['items:read'] }),
          200,
        ).permissions,
      ).toEqual(['items:read']);
    });

    it('refuses roles not assignable to service accounts, whoever asks', async () => {
      const owner = expectStatus(
        await api.post('/roles', { name: 'Owner', permissions: [], assignable_to_service_accounts: false }),
        201,
      );
      const response = await api.post('/service-accounts', {
        name: unique('x'),
        all_locations: true,
        roles: [{ role_id: owner.id }],
      });
      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({ field: 'roles[0].role_id' });
      expect(response.body.type).toBe('https://svcauth.dev/problems/role_not_assignable');
    });

    it('lets only a groups administrator set groups_admin or issue its credentials', async () => {
      const groupsAdmin = await accountWith([{ role_id: roleOf.get('service_accounts:write')!.id }]);
      // The first groups administrator comes from the operator (here: the test, through the database).
      await server.database.db
        .updateTable('service_accounts')
        .set({ groups_admin: true })
        .where('id', '=', groupsAdmin.id)
        .execute();
      const asGroupsAdmin = await apiAs(groupsAdmin);
      const created = expectStatus(
        await asGroupsAdmin.post('/service-accounts', {
          name: unique('g'),
          all_locations: true,
          groups_admin: true,
        }),
        201,
      );
      expect(created.groups_admin).toBe(true);
      await expectEscalation(
        api.post(`/service-accounts/${groupsAdmin.id}/credentials`, { name: 'c', type: 'oauth_client' }),
      );
      await expectEscalation(api.patch(`/service-accounts/${created.id}`, { groups_admin: false }));
    });
  });

  describe('another organization', () => {
    let other: AdminApi;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      other = adminApi(server, await adminToken(server, await bootstrapAdmin(server, 'org-b')));
      const account = expectStatus(
        await api.post('/service-accounts', { name: 'Cross-org target', all_locations: true }),
        201,
      );
      const credential = expectStatus(
        await api.post(`/service-accounts/${account.id}/credentials`, { name: 'c', type: 'oauth_client' }),
        201,
      );
      Object.assign(ids, {
        location: paris.id,
        role: reader.id,
        account: account.id,
        credential: credential.id,
      });
    });

    function requests(
      target: Record<string, string>,
    ): Array<[string, (as: AdminApi) => ReturnType<AdminApi['get']>]> {
      const account = `/service-accounts/${target.account}`;
      const credential = `${account}/credentials/${target.credential}`;
      return [
        ['get location', (as) => as.get(`/locations/${target.location}`)],
        ['rename location', (as) => as.patch(`/locations/${target.location}`, { name: 'mine' })],
        ['delete location', (as) => as.delete(`/locations/${target.location}`)],
        ['get role', (as) => as.get(`/roles/${target.role}`)],
        ['edit role', (as) => as.patch(`/roles/${target.role}`, { name: 'mine' })],
        ['delete role', (as) => as.delete(`/roles/${target.role}`)],
        ['get account', (as) => as.get(account)],
        ['edit account', (as) => as.patch(account, { description: 'mine' })],
        ['archive account', (as) => as.post(`${account}:archive`)],
        ['delete account', (as) => as.delete(account)],
        ['list credentials', (as) => as.get(`${account}/credentials`)],
        ['create credential', (as) => as.post(`${account}/credentials`, { name: 'c', type: 'api_key' })],
        ['get credential', (as) => as.get(credential)],
        ['revoke credential', (as) => as.post(`${credential}:revoke`)],
        ['rotate credential', (as) => as.post(`${credential}:rotate`, {})],
        ['regenerate credential', (as) => as.post(`${credential}:regenerate`, {})],
      ];
    }

    it('answers 404 for every object of another organization, exactly like a missing id', async () => {
      const missing = {
        location: randomUUID(),
        role: randomUUID(),
        account: randomUUID(),
        credential: randomUUID(),
      };
      const theirs = requests(ids);
      const nowhere = requests(missing);
      for (const [index, [name, request]] of theirs.entries()) {
        const cross = await request(other);
        const absent = await nowhere[index]![1](other);
        expect(cross.status, name).toBe(404);
        expect(absent.status, name).toBe(404);
        expect(cross.body.type).toBe(absent.body.type);
        const anonymize = (detail: string) => detail.replace(/"[0-9a-f-]{36}"/g, '"<id>"');
        expect(anonymize(cross.body.detail), name).toBe(anonymize(absent.body.detail));
      }
    });

    it('left every object untouched', async () => {
      expect(expectStatus(await api.get(`/locations/${ids.location}`), 200).name).toBe('Paris');
      expect(expectStatus(await api.get(`/roles/${ids.role}`), 200).name).toBe('Reader');
      const account = expectStatus(await api.get(`/service-accounts/${ids.account}`), 200);
      expect(account).toMatchObject({ status: 'disabled', description: '' });
      const credential = expectStatus(
        await api.get(`/service-accounts/${ids.account}/credentials/${ids.credential}`),
        200,
      );
      expect(credential).toMatchObject({ status: 'active', slot: 'primary' });
    });

    it('cannot reference another organization in assignments, imports or audit queries', async () => {
      const response = await other.post('/service-accounts', {
        name: 'borrower',
        location_ids: [ids.location],
        roles: [{ role_id: ids.role }],
      });
      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({ field: 'location_ids[0]' });
      const imported = expectStatus(
        await other.post('/legacy-keys:import', {
          keys: [
            { key: 'cross-org-legacy-key-0001', name: 'borrower', all_locations: true, role_ids: [ids.role] },
          ],
        }),
        200,
      );
      expect(imported.results[0]).toMatchObject({ status: 'failed', error: { code: 'unknown_reference' } });
      const audit = expectStatus(await other.get(`/audit-events?target_id=${ids.account}`), 200);
      expect(audit.items).toEqual([]);
      const lists = await Promise.all(['/locations', '/roles', '/service-accounts'].map((p) => other.get(p)));
      const listed = JSON.stringify(lists.map((l) => l.body));
      for (const id of Object.values(ids)) expect(listed).not.toContain(id);
    });
  });
});
