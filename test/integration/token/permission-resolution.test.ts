import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fixtures } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { discover, grant, verifyAccessToken } from './token-helpers.ts';

/**
 * The permission-resolution table, end to end: rows seeded through the repositories, a token obtained
 * over HTTP with openid-client, the `permissions` claim compared exactly.
 */

let server: TestServer;
let fixtures: Fixtures;

beforeAll(async () => {
  server = await startTestServer();
  fixtures = new Fixtures(server.database.db);
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

async function orgWithLocations(count: number) {
  const org = await fixtures.organization();
  const locations: string[] = [];
  for (let i = 0; i < count; i++) locations.push((await fixtures.location(org.id)).id);
  return { orgId: org.id, locations };
}

async function tokenClaims(
  orgId: string,
  accountId: string,
  audience: 'api' | 'admin' = 'api',
): Promise<{ permissions: Record<string, string[]>; scope: string | undefined }> {
  const credential = await fixtures.credential(orgId, accountId, 'oauth_client');
  const resource = `${server.issuer}/${audience}`;
  const token = await grant(server, credential, audience === 'admin' ? { resource } : {});
  const { payload } = await verifyAccessToken(server, token, resource);
  expect(payload.sub).toBe(accountId);
  return { permissions: payload.permissions, scope: payload.scope };
}

describe('resolved permissions in the token', () => {
  it('several roles: the union, per location, sorted', async () => {
    const { orgId, locations } = await orgWithLocations(1);
    const [a] = locations as [string];
    const reader = await fixtures.role(orgId, ['items:read', 'people:read']);
    const writer = await fixtures.role(orgId, ['items:write', 'items:read']);
    const account = await fixtures.account(orgId, {
      locationIds: [a],
      roles: [{ roleId: reader.id }, { roleId: writer.id }],
    });
    const { permissions, scope } = await tokenClaims(orgId, account.id);
    expect(permissions).toEqual({ [a]: ['items:read', 'items:write', 'people:read'] });
    expect(scope).toBe('items:read items:write people:read');
  });

  it('several locations: each location carries the role', async () => {
    const { orgId, locations } = await orgWithLocations(3);
    const [a, b, c] = locations as [string, string, string];
    const role = await fixtures.role(orgId, ['people:read', 'charts:read']);
    const account = await fixtures.account(orgId, { locationIds: [a, b, c], roles: [{ roleId: role.id }] });
    const { permissions } = await tokenClaims(orgId, account.id);
    expect(permissions).toEqual({
      [a]: ['charts:read', 'people:read'],
      [b]: ['charts:read', 'people:read'],
      [c]: ['charts:read', 'people:read'],
    });
  });

  it('role x location matrix: a ticked role applies only where it is ticked', async () => {
    const { orgId, locations } = await orgWithLocations(3);
    const [a, b, c] = locations as [string, string, string];
    const writer = await fixtures.role(orgId, ['items:write']);
    const privateReader = await fixtures.role(orgId, ['items:read', 'items:read_private']);
    const everywhere = await fixtures.role(orgId, ['charts:read']);
    const account = await fixtures.account(orgId, {
      locationIds: [a, b, c],
      roles: [
        { roleId: writer.id, restrictedTo: [a] },
        { roleId: privateReader.id, restrictedTo: [b, c] },
        { roleId: everywhere.id },
      ],
    });
    const { permissions } = await tokenClaims(orgId, account.id);
    expect(permissions).toEqual({
      [a]: ['charts:read', 'items:write'],
      [b]: ['charts:read', 'items:read', 'items:read_private'],
      [c]: ['charts:read', 'items:read', 'items:read_private'],
    });
  });

  it('an all-locations account resolves to "*", including locations created later', async () => {
    const { orgId } = await orgWithLocations(2);
    const role = await fixtures.role(orgId, ['items:read', 'people:read']);
    const account = await fixtures.account(orgId, { allLocations: true, roles: [{ roleId: role.id }] });
    expect((await tokenClaims(orgId, account.id)).permissions).toEqual({
      '*': ['items:read', 'people:read'],
    });
    await fixtures.location(orgId);
    expect((await tokenClaims(orgId, account.id)).permissions).toEqual({
      '*': ['items:read', 'people:read'],
    });
  });

  it('a role without permissions adds nothing', async () => {
    const { orgId, locations } = await orgWithLocations(1);
    const [a] = locations as [string];
    const empty = await fixtures.role(orgId, []);
    const reader = await fixtures.role(orgId, ['items:read']);
    const account = await fixtures.account(orgId, {
      locationIds: [a],
      roles: [{ roleId: empty.id }, { roleId: reader.id }],
    });
    expect((await tokenClaims(orgId, account.id)).permissions).toEqual({ [a]: ['items:read'] });
  });

  it('an account whose only role has no permissions gets a token that grants nothing', async () => {
    const { orgId, locations } = await orgWithLocations(1);
    const empty = await fixtures.role(orgId, []);
    const account = await fixtures.account(orgId, { locationIds: locations, roles: [{ roleId: empty.id }] });
    const { permissions, scope } = await tokenClaims(orgId, account.id);
    expect(permissions).toEqual({});
    expect(scope).toBeUndefined();
  });

  it('a role removed from the organization grants nothing any more', async () => {
    const { orgId, locations } = await orgWithLocations(2);
    const [a, b] = locations as [string, string];
    const kept = await fixtures.role(orgId, ['items:read']);
    const removed = await fixtures.role(orgId, ['items:write', 'people:read']);
    const account = await fixtures.account(orgId, {
      locationIds: [a, b],
      roles: [{ roleId: kept.id }, { roleId: removed.id, restrictedTo: [b] }],
    });
    expect((await tokenClaims(orgId, account.id)).permissions).toEqual({
      [a]: ['items:read'],
      [b]: ['items:read', 'items:write', 'people:read'],
    });
    await server.database.db
      .updateTable('roles')
      .set({ deleted_at: new Date() })
      .where('id', '=', removed.id)
      .execute();
    expect((await tokenClaims(orgId, account.id)).permissions).toEqual({
      [a]: ['items:read'],
      [b]: ['items:read'],
    });
  });

  it('an account whose only role was removed is disabled (unauthorized_client)', async () => {
    const { orgId, locations } = await orgWithLocations(1);
    const role = await fixtures.role(orgId, ['items:read']);
    const account = await fixtures.account(orgId, { locationIds: locations, roles: [{ roleId: role.id }] });
    const credential = await fixtures.credential(orgId, account.id, 'oauth_client');
    await server.database.db
      .updateTable('roles')
      .set({ deleted_at: new Date() })
      .where('id', '=', role.id)
      .execute();
    const config = await discover(server, credential);
    await expect(client.clientCredentialsGrant(config)).rejects.toMatchObject({
      error: 'unauthorized_client',
      status: 400,
    });
  });

  it('a role not assignable to service accounts grants nothing even if linked', async () => {
    const { orgId, locations } = await orgWithLocations(1);
    const [a] = locations as [string];
    const owner = await fixtures.role(orgId, ['items:write', 'settings:write'], { assignable: false });
    const reader = await fixtures.role(orgId, ['items:read']);
    const account = await fixtures.account(orgId, {
      locationIds: [a],
      roles: [{ roleId: owner.id }, { roleId: reader.id }],
    });
    expect((await tokenClaims(orgId, account.id)).permissions).toEqual({ [a]: ['items:read'] });
    expect((await tokenClaims(orgId, account.id, 'admin')).permissions).toEqual({});
  });

  it('an account whose only role is not assignable to service accounts is disabled', async () => {
    const { orgId, locations } = await orgWithLocations(1);
    const owner = await fixtures.role(orgId, ['items:write'], { assignable: false });
    const account = await fixtures.account(orgId, { locationIds: locations, roles: [{ roleId: owner.id }] });
    const credential = await fixtures.credential(orgId, account.id, 'oauth_client');
    const config = await discover(server, credential);
    await expect(client.clientCredentialsGrant(config)).rejects.toMatchObject({
      error: 'unauthorized_client',
      status: 400,
    });
  });

  it('a deleted location grants nothing', async () => {
    const { orgId, locations } = await orgWithLocations(2);
    const [a, b] = locations as [string, string];
    const reader = await fixtures.role(orgId, ['items:read']);
    const account = await fixtures.account(orgId, { locationIds: [a, b], roles: [{ roleId: reader.id }] });
    await server.database.db
      .updateTable('locations')
      .set({ deleted_at: new Date() })
      .where('id', '=', b)
      .execute();
    expect((await tokenClaims(orgId, account.id)).permissions).toEqual({ [a]: ['items:read'] });
  });

  it('management permissions are org-wide and only on the admin audience', async () => {
    const { orgId, locations } = await orgWithLocations(2);
    const [a, b] = locations as [string, string];
    const mixed = await fixtures.role(orgId, ['service_accounts:write', 'items:read', 'roles:write']);
    const auditor = await fixtures.role(orgId, ['audit:read']);
    const account = await fixtures.account(orgId, {
      locationIds: [a, b],
      roles: [
        { roleId: mixed.id, restrictedTo: [a] },
        { roleId: auditor.id, restrictedTo: [b] },
      ],
    });
    const admin = await tokenClaims(orgId, account.id, 'admin');
    expect(admin.permissions).toEqual({ '*': ['audit:read', 'roles:write', 'service_accounts:write'] });
    expect(admin.scope).toBe('audit:read roles:write service_accounts:write');
    const api = await tokenClaims(orgId, account.id, 'api');
    expect(api.permissions).toEqual({ [a]: ['items:read'] });
    expect(api.scope).toBe('items:read');
  });

  it("the organization's API Admin role gives every management permission org-wide", async () => {
    const { orgId, locations } = await orgWithLocations(1);
    const apiAdmin = await server.database.db
      .selectFrom('roles')
      .select('id')
      .where('org_id', '=', orgId)
      .where('name', '=', 'API Admin')
      .executeTakeFirstOrThrow();
    const account = await fixtures.account(orgId, {
      locationIds: locations,
      roles: [{ roleId: apiAdmin.id }],
    });
    expect((await tokenClaims(orgId, account.id, 'admin')).permissions).toEqual({
      '*': [
        'audit:read',
        'roles:write',
        'service_accounts:delete',
        'service_accounts:read',
        'service_accounts:write',
        'settings:write',
      ],
    });
  });
});
