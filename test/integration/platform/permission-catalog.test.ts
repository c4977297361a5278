import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRODUCT_PERMISSIONS, MANAGEMENT_PERMISSIONS } from '../../../config/permissions.ts';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  RESOURCE_SERVER_SECRET_PREFIX,
  resourceServerEntry,
} from '../../../src/domain/credential-format.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import type { Verifier } from '../../../src/resource-server/index.ts';
import { PermissionCatalog, PermissionCatalogService } from '../../../src/services/permission-catalog.ts';
import { provisionOrganization } from '../../../src/services/bootstrap-service.ts';
import { RoleRepository } from '../../../src/persistence/repositories/role-repository.ts';
import { ChangeNotifier } from '../../../src/state/change-notifier.ts';
import { MemoryStateStore, RedisStateStore, type StateStore } from '../../../src/state/index.ts';
import { eventually } from '../../helpers/eventually.ts';
import { openTestDatabase, type OpenTestDatabase } from '../../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { deleteKeysWithPrefix } from '../revocation/revocation-helpers.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  claimsOf,
  expectStatus,
  productToken,
} from '../admin/admin-helpers.ts';
import {
  basic,
  platformApi,
  type PlatformApi,
  type ProductDeployment,
  servedDocument,
  startProductDeployment,
} from './platform-helpers.ts';

/**
 * The product permission catalog owned by the deployment (issue 15): the platform API lists, adds,
 * describes and removes product permissions; tokens, /introspect, the kit, the metadata's
 * scopes_supported and the admin API's role validation follow it at once. Removing a permission roles
 * hold is refused with the list of them, or (strip=true) takes it from every role: the accounts
 * holding those roles get a new permissions version, so a token minted before is refused at once
 * (/introspect, the kit through the feed) and a new token lacks the permission; each organization's
 * trail says so. PERMISSIONS_FILE, when set, declares the catalog and the API only reads it.
 */
const OPERATOR = { name: 'catalog-ops', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };
const RESOURCE_SERVER = {
  name: 'invoices-api',
  secret: generateDeploymentSecret(RESOURCE_SERVER_SECRET_PREFIX),
};
const DEFAULT_NAMES = DEFAULT_PRODUCT_PERMISSIONS.map((p) => p.name).sort();

/** The problem's code: its type's last segment (https://svcauth.dev/problems/<code>). */
function codeOf(body: { type?: string }): string | undefined {
  return body.type?.split('/').pop();
}

describe('platform API: the product permission catalog', () => {
  let deployment: ProductDeployment;
  let server: TestServer;
  let platform: PlatformApi;
  let kit: Verifier;

  beforeAll(async () => {
    deployment = await startProductDeployment(OPERATOR, RESOURCE_SERVER);
    ({ server, kit } = deployment);
    platform = deployment.platform;
  });

  afterAll(async () => {
    await deployment?.stop();
  });

  const introspect = (token: string) => deployment.introspect(token);

  /** A client-credentials request with an API key, down-scoped to `scope`. */
  async function scopedToken(apiKey: string, scope: string) {
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`api:${apiKey}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** An organization with one location `site-1` and its first admin (holding full product access). */
  async function organization(
    externalId: string,
  ): Promise<{ id: string; admin: AdminApi; site: string; signIn: () => Promise<AdminApi> }> {
    const org = expectStatus(
      await platform('POST', '/organizations', { external_id: externalId, name: externalId }),
      201,
    );
    expectStatus(
      await platform('POST', `/organizations/${org.id}/locations:sync`, {
        locations: [{ external_id: 'site-1', name: 'Site 1' }],
      }),
      200,
    );
    const first = expectStatus(await platform('POST', `/organizations/${org.id}/admins`, {}), 201);
    // The admin holds full product access: a catalog removal makes its tokens stale like any holder's.
    const signIn = async () =>
      adminApi(server, await adminToken(server, { clientId: first.client_id, secret: first.client_secret }));
    const admin = await signIn();
    const site = (expectStatus(await admin.get('/locations'), 200).items as Array<{ id: string }>)[0]!.id;
    return { id: org.id, admin, site, signIn };
  }

  /** A role of `permissions` and an account at the site holding it, with its API key. */
  async function accountWith(org: { admin: AdminApi; site: string }, name: string, permissions: string[]) {
    const role = expectStatus(await org.admin.post('/roles', { name: `${name} role`, permissions }), 201);
    const account = expectStatus(
      await org.admin.post('/service-accounts', {
        name,
        location_ids: [org.site],
        roles: [{ role_id: role.id }],
        credential: { type: 'api_key', name: 'key' },
      }),
      201,
    );
    return { role, account, apiKey: account.credential.api_key as string };
  }

  it('lists the default catalog with descriptions, to operators and (read-only, with management ones) to admins', async () => {
    const listed = expectStatus(await platform('GET', '/permissions'), 200);
    expect(listed.managed_by).toBe('api');
    expect(listed.items.map((p: { name: string }) => p.name)).toEqual(DEFAULT_NAMES);
    expect(listed.items.find((p: { name: string }) => p.name === 'items:read')).toMatchObject({
      description: 'Read items',
      kind: 'product',
    });

    const org = await organization('tenant-list');
    const forAdmins = expectStatus(await org.admin.get('/permissions'), 200).items as Array<{
      name: string;
      kind: string;
      description: string;
    }>;
    expect(forAdmins.map((p) => p.name)).toEqual([...DEFAULT_NAMES, ...MANAGEMENT_PERMISSIONS]);
    expect(forAdmins.every((p) => p.description.length > 0)).toBe(true);
    expect(forAdmins.find((p) => p.name === 'audit:read')?.kind).toBe('management');
  });

  it('adds a permission: roles may hold it, tokens, /introspect, the kit and scopes_supported carry it', async () => {
    const added = await platform('POST', '/permissions', {
      name: 'invoices:read',
      description: 'Read invoices',
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      name: 'invoices:read',
      description: 'Read invoices',
      kind: 'product',
    });
    // The same again changes nothing; a new description is an update.
    expect(
      (await platform('POST', '/permissions', { name: 'invoices:read', description: 'Read invoices' }))
        .status,
    ).toBe(200);
    const described = expectStatus(
      await platform('POST', '/permissions', {
        name: 'invoices:read',
        description: 'Read invoices and credit notes',
      }),
      200,
    );
    expect(described.description).toBe('Read invoices and credit notes');

    const metadata = (await (
      await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)
    ).json()) as { scopes_supported: string[] };
    expect(metadata.scopes_supported).toContain('invoices:read');

    // The first admin holds full product access, which now includes it: it may grant it.
    const org = await organization('tenant-add');
    const { apiKey } = await accountWith(org, 'Billing sync', ['invoices:read', 'items:read']);
    const token = await productToken(server, 'api', apiKey);
    expect(claimsOf(token).permissions).toEqual({ 'site-1': ['invoices:read', 'items:read'] });
    expect((await kit.verify(token)).can('invoices:read', 'site-1')).toBe(true);
    expect(await introspect(token)).toMatchObject({ active: true, scope: 'invoices:read items:read' });
    expect(await introspect(apiKey)).toMatchObject({
      active: true,
      permissions: { 'site-1': ['invoices:read', 'items:read'] },
    });

    // Down-scoping to the new permission goes through oidc-provider, whose scope list is fixed at start.
    const scoped = await scopedToken(apiKey, 'invoices:read');
    expect(scoped.status, JSON.stringify(scoped.body)).toBe(200);
    expect(scoped.body.scope).toBe('invoices:read');
    expect(claimsOf(scoped.body.access_token as string).permissions).toEqual({ 'site-1': ['invoices:read'] });

    const trail = expectStatus(await platform('GET', '/audit?action=permission.added'), 200);
    expect(trail.items[0]).toMatchObject({ actor_operator: OPERATOR.name, organization_id: null });
  });

  it('refuses removing a permission roles hold, listing them in every organization; strip takes it from all at once', async () => {
    expectStatus(
      await platform('POST', '/permissions', { name: 'reports:read', description: 'Read reports' }),
      201,
    );
    const north = await organization('tenant-north');
    const south = await organization('tenant-south');
    const held = await accountWith(north, 'Reports north', ['reports:read', 'items:read']);
    const alsoHeld = await accountWith(south, 'Reports south', ['reports:read']);
    const before = await productToken(server, 'api', held.apiKey);
    expect((await kit.verify(before)).can('reports:read', 'site-1')).toBe(true);

    const refused = await platform('DELETE', '/permissions?name=reports:read');
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(codeOf(refused.body)).toBe('permission_in_use');
    expect(refused.body.detail).toMatch(/2 roles in 2 organizations still hold "reports:read".*strip=true/);
    expect(refused.body.details).toMatchObject({ role_count: 2, organization_count: 2 });
    // The built-in full product access roles follow the catalog: never listed as holders.
    expect(
      (refused.body.details.roles as Array<{ role_id: string; organization_id: string }>)
        .map((r) => `${r.organization_id} ${r.role_id}`)
        .sort(),
    ).toEqual([`${north.id} ${held.role.id}`, `${south.id} ${alsoHeld.role.id}`].sort());
    // Nothing changed: the token still works.
    expect((await introspect(before)).active).toBe(true);

    const stripped = expectStatus(await platform('DELETE', '/permissions?name=reports:read&strip=true'), 200);
    const northResult = stripped.organizations.find(
      (o: { organization_id: string }) => o.organization_id === north.id,
    );
    expect(northResult.role_ids).toContain(held.role.id);
    expect(northResult.affected_service_account_ids).toContain(held.account.id);
    expect(stripped.organizations.map((o: { organization_id: string }) => o.organization_id)).toContain(
      south.id,
    );

    // The token minted before is refused at once: /introspect now, the kit through the feed.
    expect(await introspect(before)).toEqual({ active: false });
    await eventually(async () => {
      await expect(kit.verify(before)).rejects.toMatchObject({ code: 'invalid_token' });
    });
    // The admins' management tokens are stale too (they hold full product access, which lost it).
    expect((await north.admin.get('/roles')).status).toBe(401);
    north.admin = await north.signIn();
    south.admin = await south.signIn();
    // A new token lacks it; the role no longer names it; it cannot be granted again.
    const after = await productToken(server, 'api', held.apiKey);
    expect(claimsOf(after).permissions).toEqual({ 'site-1': ['items:read'] });
    expect((await kit.verify(after)).can('reports:read', 'site-1')).toBe(false);
    expect(expectStatus(await north.admin.get(`/roles/${held.role.id}`), 200).permissions).toEqual([
      'items:read',
    ]);
    const regrant = await north.admin.post('/roles', { name: 'again', permissions: ['reports:read'] });
    expect(regrant.status).toBe(422);
    expect(codeOf(regrant.body)).toBe('unknown_permission');
    expect(regrant.body.field).toBe('permissions');
    const metadata = (await (
      await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)
    ).json()) as { scopes_supported: string[] };
    expect(metadata.scopes_supported).not.toContain('reports:read');
    const scoped = await scopedToken(held.apiKey, 'reports:read');
    expect(scoped.status).toBe(400);
    expect(scoped.body.error).toBe('invalid_scope');

    // Each organization's trail says what the operator did and to whom.
    for (const [org, role, account] of [
      [north, held.role.id, held.account.id],
      [south, alsoHeld.role.id, alsoHeld.account.id],
    ] as const) {
      const trail = expectStatus(await org.admin.get('/audit-events?action=permission.removed'), 200);
      expect(trail.items).toHaveLength(1);
      expect(trail.items[0]).toMatchObject({
        actor_operator: OPERATOR.name,
        target_type: 'permission',
        target_id: 'reports:read',
        diff: { permission: 'reports:read', stripped: true, via: 'platform_api' },
      });
      expect(trail.items[0].diff.role_ids).toContain(role);
      expect(trail.items[0].diff.affected_service_account_ids).toContain(account);
    }
    expect(
      expectStatus(await platform('GET', '/permissions'), 200).items.map((p: { name: string }) => p.name),
    ).not.toContain('reports:read');
  });

  it('removes a permission no role holds without strip (full product access roles follow)', async () => {
    expectStatus(await platform('POST', '/permissions', { name: 'drafts:read' }), 201);
    const org = await organization('tenant-drafts');
    const roles = expectStatus(await org.admin.get('/roles'), 200).items as Array<{
      name: string;
      permissions: string[];
    }>;
    expect(roles.find((r) => r.name === 'Full product access')?.permissions).toContain('drafts:read');
    const removed = expectStatus(await platform('DELETE', '/permissions?name=drafts:read'), 200);
    expect(removed.organizations.map((o: { organization_id: string }) => o.organization_id)).toContain(
      org.id,
    );
    org.admin = await org.signIn();
    const after = expectStatus(await org.admin.get('/roles'), 200).items as Array<{
      name: string;
      permissions: string[];
    }>;
    expect(after.find((r) => r.name === 'Full product access')?.permissions).not.toContain('drafts:read');
  });

  it('refuses bad input with problem+json, never a 500', async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', '/permissions', { name: 'Not A Name' }, 400, 'validation_failed'],
      ['POST', '/permissions', { name: 'x'.repeat(300) }, 400, 'validation_failed'],
      ['POST', '/permissions', { name: 'audit:read', description: 'mine' }, 409, 'management_permission'],
      ['POST', '/permissions', { name: 'ok:name', description: 'nul\u0000' }, 400, 'validation_failed'],
      ['POST', '/permissions', { name: 'ok:name', description: 'x'.repeat(2001) }, 400, 'validation_failed'],
      ['POST', '/permissions', { name: 'ok:name', extra: true }, 400, 'validation_failed'],
      ['POST', '/permissions', ['ok:name'], 400, 'validation_failed'],
      ['DELETE', '/permissions?name=nothing:here', undefined, 404, 'not_found'],
      ['DELETE', '/permissions?name=roles:write', undefined, 409, 'management_permission'],
      ['DELETE', '/permissions', undefined, 400, 'validation_failed'],
      ['DELETE', '/permissions?name=items:read&strip=maybe', undefined, 400, 'validation_failed'],
      ['DELETE', '/permissions?name=%00', undefined, 400, 'validation_failed'],
    ];
    for (const [method, url, body, status, code] of cases) {
      const response = await platform(method, url, body);
      expect(
        response.status,
        `${method} ${url} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`,
      ).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(codeOf(response.body)).toBe(code);
    }
    const raw = await fetch(`${server.issuer}/platform/v1/permissions`, {
      method: 'POST',
      headers: { authorization: basic(OPERATOR.name, OPERATOR.secret), 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect(raw.status).toBe(400);
    // Without an operator secret: 401, like every platform route.
    expect((await platformApi(server, null)('GET', '/permissions')).status).toBe(401);
  });
});

describe('PERMISSIONS_FILE declares the catalog', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-catalog-file-'));
  let server: TestServer | undefined;

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('makes the database catalog the file’s at start, and the platform API only reads it', async () => {
    const file = path.join(dir, 'permissions.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        permissions: [
          { name: 'items:read', description: 'Read the items' },
          { name: 'invoices:read', description: 'Read invoices' },
        ],
      }),
    );
    server = await startTestServer({
      OPERATORS: resourceServerEntry(OPERATOR.name, OPERATOR.secret),
      PERMISSIONS_FILE: file,
    });
    const platform = platformApi(server, basic(OPERATOR.name, OPERATOR.secret), await servedDocument(server));
    const listed = expectStatus(await platform('GET', '/permissions'), 200);
    expect(listed.managed_by).toBe('file');
    expect(listed.items.map((p: { name: string; description: string }) => [p.name, p.description])).toEqual([
      ['invoices:read', 'Read invoices'],
      ['items:read', 'Read the items'],
    ]);
    for (const [method, url, body] of [
      ['POST', '/permissions', { name: 'x:y' }],
      ['DELETE', '/permissions?name=invoices:read', undefined],
    ] as const) {
      const refused = await platform(method, url, body);
      expect(refused.status).toBe(409);
      expect(codeOf(refused.body)).toBe('catalog_managed_by_file');
      expect(refused.body.detail).toMatch(/PERMISSIONS_FILE/);
    }
    const metadata = (await (
      await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)
    ).json()) as { scopes_supported: string[] };
    expect(metadata.scopes_supported).toEqual(['invoices:read', 'items:read', ...MANAGEMENT_PERMISSIONS]);
    // Made so by the deployment, not an operator: logged, and audited as a system action.
    expect(
      server.logLines.some((line) => line.includes('permission catalog made as PERMISSIONS_FILE says')),
    ).toBe(true);
  });
});

/**
 * Two instances over one database and one state store (Redis when REDIS_URL is set; otherwise one
 * in-process store both share): a change made through one is seen by the other's catalog at once.
 */
describe('a catalog change reaches every instance', () => {
  const logger = createLogger({ level: 'silent' });
  const prefix = `svcauth-test:${randomUUID()}:`;
  let database: OpenTestDatabase;
  const stores: StateStore[] = [];
  const notifiers: ChangeNotifier[] = [];
  const catalogs: PermissionCatalog[] = [];

  beforeAll(async () => {
    database = await openTestDatabase('catalog-instances');
    if (process.env.REDIS_URL) {
      stores.push(new RedisStateStore({ url: process.env.REDIS_URL, prefix }));
      stores.push(new RedisStateStore({ url: process.env.REDIS_URL, prefix }));
    } else {
      stores.push(new MemoryStateStore({ prefix }));
    }
    for (const store of [stores[0]!, stores[stores.length - 1]!]) {
      const notifier = new ChangeNotifier(store, logger);
      await notifier.start();
      notifiers.push(notifier);
      const catalog = new PermissionCatalog(database.db);
      await catalog.start(notifier, (error) => {
        throw error;
      });
      catalogs.push(catalog);
    }
    await eventually(async () => {
      if (!notifiers.every((n) => n.healthy)) throw new Error('notifiers not healthy yet');
    });
  }, 120_000);

  afterAll(async () => {
    for (const notifier of notifiers) await notifier.close();
    for (const store of stores) await store.close();
    if (process.env.REDIS_URL) await deleteKeysWithPrefix(process.env.REDIS_URL, prefix);
    await database?.destroy();
  });

  it('adds on instance A, removes on instance B: each sees the other’s change', async () => {
    const [a, b] = catalogs as [PermissionCatalog, PermissionCatalog];
    const operator = { name: 'ops', sourceIp: null, requestId: null };
    const onA = new PermissionCatalogService(database.db, notifiers[0]!, a, { managedByFile: false });
    const onB = new PermissionCatalogService(database.db, notifiers[1]!, b, { managedByFile: false });
    expect(b.isProduct('shipments:read')).toBe(false);
    await onA.put(operator, 'shipments:read', 'Read shipments');
    expect(a.isProduct('shipments:read')).toBe(true);
    await eventually(async () => expect(b.isProduct('shipments:read')).toBe(true));
    expect(b.views().find((p) => p.name === 'shipments:read')?.description).toBe('Read shipments');
    await onB.remove(operator, 'shipments:read', false);
    await eventually(async () => expect(a.isProduct('shipments:read')).toBe(false));
    expect(a.known.has('items:read')).toBe(true);
  });

  it('refuses to make the catalog a PERMISSIONS_FILE that drops a permission roles hold', async () => {
    const [a] = catalogs as [PermissionCatalog];
    const service = new PermissionCatalogService(database.db, notifiers[0]!, a, { managedByFile: true });
    const { organization } = await provisionOrganization(database.db, 'file-org', 'File org');
    await new RoleRepository(database.db).create(organization.id, {
      name: 'Writers',
      permissions: ['items:write'],
    });
    const kept = DEFAULT_PRODUCT_PERMISSIONS.filter((p) => p.name !== 'items:write');
    await expect(
      service.applyFile({ path: '/etc/svcauth/permissions.json', permissions: kept }),
    ).rejects.toThrow(
      /1 role in 1 organization still hold "items:write"; take it from those roles first .*or keep it in \/etc\/svcauth\/permissions.json/,
    );
    // Nothing was applied: the catalog is as before.
    expect(a.isProduct('items:write')).toBe(true);
    await expect(
      service.applyFile({ path: 'f.json', permissions: DEFAULT_PRODUCT_PERMISSIONS }),
    ).resolves.toEqual([]);
  });
});
