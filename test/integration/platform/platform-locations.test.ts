import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  RESOURCE_SERVER_SECRET_PREFIX,
  resourceServerEntry,
} from '../../../src/domain/credential-format.ts';
import { createVerifier, type Verifier } from '../../../src/resource-server/index.ts';
import { eventually } from '../../helpers/eventually.ts';
import { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  claimsOf,
  expectStatus,
  productToken,
} from '../admin/admin-helpers.ts';

/**
 * Locations mirrored from the product over the platform API, keyed by the product's location id:
 * upsert and full-set sync are idempotent (the same list twice changes and records nothing), tokens,
 * /introspect and the kit's can() speak the product's ids, and a location the product deletes leaves
 * every token at once (the kit through the revocation feed, /introspect at once).
 */
const OPERATOR = { name: 'ops', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };
const RESOURCE_SERVER = {
  name: 'items-api',
  secret: generateDeploymentSecret(RESOURCE_SERVER_SECRET_PREFIX),
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function basic(name: string, secret: string): string {
  return `Basic ${Buffer.from(`${name}:${secret}`).toString('base64')}`;
}

describe('platform API: locations keyed by the product’s ids', () => {
  let server: TestServer;
  let documented: OpenApiResponseValidator;
  let kit: Verifier;
  let orgId: string;
  let admin: AdminApi;
  let adminCredential: { clientId: string; secret: string };

  beforeAll(async () => {
    server = await startTestServer({
      OPERATORS: resourceServerEntry(OPERATOR.name, OPERATOR.secret),
      RESOURCE_SERVERS: resourceServerEntry(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
    });
    documented = new OpenApiResponseValidator(
      await (await fetch(`${server.issuer}/admin/v1/openapi.json`)).json(),
    );
    kit = createVerifier({
      issuer: server.issuer,
      audience: `${server.issuer}/api`,
      credentials: RESOURCE_SERVER,
      revocation: { mode: 'feed' },
    });
    await kit.ready();
    const org = expectStatus(
      await platform('POST', '/organizations', { external_id: 'tenant-loc', name: 'Locations Co' }),
      201,
    );
    orgId = org.id;
    const provisioned = expectStatus(await platform('POST', `/organizations/${orgId}/admins`, {}), 201);
    adminCredential = { clientId: provisioned.client_id, secret: provisioned.client_secret };
    admin = adminApi(server, await adminToken(server, adminCredential), (method, path, response) =>
      documented.validate(method, path, response.status, response.headers.get('content-type'), response.body),
    );
  });

  afterAll(async () => {
    await kit?.close();
    await server?.stop();
  });

  async function platform(method: string, path: string, body?: unknown) {
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
    documented?.validate(
      method,
      `/platform/v1${path.split('?')[0]}`,
      result.status,
      result.headers.get('content-type'),
      result.body,
    );
    return result;
  }

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

  async function auditActions(action: string): Promise<number> {
    const page = expectStatus(await admin.get(`/audit-events?action=${action}&limit=200`), 200);
    return page.items.length;
  }

  /** An account at the given svcauth location ids with a role of `permissions`, and its oauth client. */
  async function accountAt(name: string, locationIds: string[], permissions: string[]) {
    const role = expectStatus(await admin.post('/roles', { name: `${name} role`, permissions }), 201);
    const account = expectStatus(
      await admin.post('/service-accounts', {
        name,
        location_ids: locationIds,
        roles: [{ role_id: role.id }],
      }),
      201,
    );
    const credential = expectStatus(
      await admin.post(`/service-accounts/${account.id}/credentials`, { name: 'main', type: 'oauth_client' }),
      201,
    );
    return {
      account,
      role,
      clientId: credential.client_id as string,
      secret: credential.client_secret as string,
    };
  }

  it('upserts and syncs idempotently: the same list twice changes nothing and audits nothing', async () => {
    const list = {
      locations: [
        { external_id: 'store-1', name: 'Store 1' },
        { external_id: 'store-2', name: 'Store 2' },
      ],
    };
    const first = expectStatus(await platform('POST', `/organizations/${orgId}/locations:upsert`, list), 200);
    expect(first.summary).toEqual({ created: 2, updated: 0, deleted: 0, unchanged: 0 });
    expect(first.created.map((l: { external_id: string }) => l.external_id).sort()).toEqual([
      'store-1',
      'store-2',
    ]);
    const created = await auditActions('location.created');

    for (const route of ['locations:upsert', 'locations:sync']) {
      const again = expectStatus(await platform('POST', `/organizations/${orgId}/${route}`, list), 200);
      expect(again.summary).toEqual({ created: 0, updated: 0, deleted: 0, unchanged: 2 });
      expect(again.affected_service_account_ids).toEqual([]);
    }
    expect(await auditActions('location.created')).toBe(created);
    expect(await auditActions('location.updated')).toBe(0);

    // A rename is an update, audited as the operator's action; listed with the product's ids.
    const renamed = expectStatus(
      await platform('POST', `/organizations/${orgId}/locations:upsert`, {
        locations: [{ external_id: 'store-2', name: 'Store Two' }],
      }),
      200,
    );
    expect(renamed.summary).toEqual({ created: 0, updated: 1, deleted: 0, unchanged: 0 });
    const trail = expectStatus(await admin.get('/audit-events?action=location.updated'), 200);
    expect(trail.items[0]).toMatchObject({ actor_kind: 'operator', actor_operator: 'ops' });
    expect(trail.items[0].diff).toMatchObject({ before: { name: 'Store 2' }, after: { name: 'Store Two' } });
    const listed = expectStatus(await platform('GET', `/organizations/${orgId}/locations?limit=10`), 200);
    expect(
      listed.items.map((l: { external_id: string; name: string }) => [l.external_id, l.name]).sort(),
    ).toEqual([
      ['store-1', 'Store 1'],
      ['store-2', 'Store Two'],
    ]);
    // The management API shows the product's id too.
    const adminList = expectStatus(await admin.get('/locations'), 200);
    expect(adminList.items.map((l: { external_id: string }) => l.external_id).sort()).toEqual([
      'store-1',
      'store-2',
    ]);
  });

  it("tokens, /introspect and the kit's can() speak the product's location ids", async () => {
    const locations = expectStatus(await admin.get('/locations'), 200).items as Array<{
      id: string;
      external_id: string;
    }>;
    const store1 = locations.find((l) => l.external_id === 'store-1')!;
    const store2 = locations.find((l) => l.external_id === 'store-2')!;
    const { clientId, secret } = await accountAt('Reader', [store1.id, store2.id], ['items:read']);
    const token = await productToken(server, clientId, secret);
    expect(claimsOf(token).permissions).toEqual({ 'store-1': ['items:read'], 'store-2': ['items:read'] });
    expect(await introspect(token)).toMatchObject({
      active: true,
      permissions: { 'store-1': ['items:read'], 'store-2': ['items:read'] },
    });
    const principal = await kit.verify(token);
    expect(principal.can('items:read', 'store-1')).toBe(true);
    expect(principal.can('items:read', 'store-2')).toBe(true);
    expect(principal.can('items:read', store1.id)).toBe(false);
    expect(principal.can('items:write', 'store-1')).toBe(false);

    // A location svcauth alone knows keeps its svcauth id, in the same token.
    const own = expectStatus(await admin.post('/locations', { name: 'Back office' }), 201);
    expect(own.external_id).toBeNull();
    const mixed = await accountAt('Mixed', [store1.id, own.id], ['items:read']);
    const mixedToken = await productToken(server, mixed.clientId, mixed.secret);
    expect(Object.keys(claimsOf(mixedToken).permissions).sort()).toEqual([own.id, 'store-1'].sort());
    expect((await kit.verify(mixedToken)).can('items:read', own.id)).toBe(true);
  });

  it('a location the full-set sync leaves out is deleted and its tokens are refused at once', async () => {
    const store3 = expectStatus(
      await platform('POST', `/organizations/${orgId}/locations:upsert`, {
        locations: [{ external_id: 'store-3', name: 'Store 3' }],
      }),
      200,
    ).created[0];
    const store1 = (
      expectStatus(await admin.get('/locations'), 200).items as Array<{ id: string; external_id: string }>
    ).find((l) => l.external_id === 'store-1')!;
    const placed = await accountAt('Store 3 clerk', [store1.id, store3.id], ['items:write']);
    const token = await productToken(server, placed.clientId, placed.secret);
    expect(claimsOf(token).permissions).toEqual({ 'store-1': ['items:write'], 'store-3': ['items:write'] });
    expect((await kit.verify(token)).can('items:write', 'store-3')).toBe(true);

    const synced = expectStatus(
      await platform('POST', `/organizations/${orgId}/locations:sync`, {
        locations: [
          { external_id: 'store-1', name: 'Store 1' },
          { external_id: 'store-2', name: 'Store Two' },
        ],
      }),
      200,
    );
    expect(synced.summary).toEqual({ created: 0, updated: 0, deleted: 1, unchanged: 2 });
    expect(synced.deleted[0]).toMatchObject({ id: store3.id, external_id: 'store-3' });
    expect(synced.affected_service_account_ids).toEqual([placed.account.id]);

    // Refused at once: /introspect on the next request, the kit as soon as the feed tells it.
    expect(await introspect(token)).toEqual({ active: false });
    await eventually(async () => {
      await expect(kit.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
    });
    // A new token no longer names the deleted location; the account keeps its other one.
    const fresh = await productToken(server, placed.clientId, placed.secret);
    expect(claimsOf(fresh).permissions).toEqual({ 'store-1': ['items:write'] });
    const account = expectStatus(await admin.get(`/service-accounts/${placed.account.id}`), 200);
    expect(account.location_ids).toEqual([store1.id]);

    // Audited: the operator deleted it, naming the accounts whose tokens stopped.
    const deleted = expectStatus(await admin.get(`/audit-events?action=location.deleted`), 200).items[0];
    expect(deleted).toMatchObject({ actor_operator: 'ops', target_id: store3.id });
    expect(deleted.diff.affected_service_account_ids).toEqual([placed.account.id]);
    const platformTrail = expectStatus(
      await platform('GET', `/audit?organization_id=${orgId}&action=location.deleted`),
      200,
    );
    expect(platformTrail.items).toHaveLength(1);
  });

  it('adopts a location of the same name svcauth made, re-keying its tokens', async () => {
    const own = expectStatus(await admin.post('/locations', { name: 'Warehouse' }), 201);
    const clerk = await accountAt('Warehouse clerk', [own.id], ['items:read']);
    const before = await productToken(server, clerk.clientId, clerk.secret);
    expect(Object.keys(claimsOf(before).permissions)).toEqual([own.id]);

    const adopted = expectStatus(
      await platform('POST', `/organizations/${orgId}/locations:upsert`, {
        locations: [{ external_id: 'wh-9', name: 'Warehouse' }],
      }),
      200,
    );
    expect(adopted.summary).toMatchObject({ created: 0, updated: 1 });
    expect(adopted.updated[0]).toMatchObject({ id: own.id, external_id: 'wh-9' });
    expect(adopted.affected_service_account_ids).toEqual([clerk.account.id]);
    // Tokens naming the old key are stale; new ones carry the product's id.
    expect(await introspect(before)).toEqual({ active: false });
    const after = await productToken(server, clerk.clientId, clerk.secret);
    expect(claimsOf(after).permissions).toEqual({ 'wh-9': ['items:read'] });
  });

  it('the management API gives and shows a location’s product id, one location per id', async () => {
    const made = expectStatus(await admin.post('/locations', { name: 'Kiosk', external_id: 'kiosk-1' }), 201);
    expect(made).toMatchObject({ name: 'Kiosk', external_id: 'kiosk-1' });
    const clash = await admin.post('/locations', { name: 'Kiosk two', external_id: 'kiosk-1' });
    expect(clash.status).toBe(409);
    expect(clash.body.type).toMatch(/\/location_id_taken$/);
    // A product id equal to another location's svcauth id would make one key name two locations.
    const plain = expectStatus(await admin.post('/locations', { name: 'Plain' }), 201);
    const shadow = await admin.post('/locations', { name: 'Shadow', external_id: plain.id });
    expect(shadow.status).toBe(409);
    expect(shadow.body.type).toMatch(/\/location_id_taken$/);
    const cleared = expectStatus(await admin.patch(`/locations/${made.id}`, { external_id: null }), 200);
    expect(cleared.external_id).toBeNull();
    const star = await admin.post('/locations', { name: 'Everywhere', external_id: '*' });
    expect(star.status).toBe(400);
  });

  it('refuses a list it cannot apply whole, naming the entry, and unknown or archived organizations', async () => {
    const path = `/organizations/${orgId}/locations:sync`;
    const twice = await platform('POST', path, {
      locations: [
        { external_id: 'dup', name: 'A' },
        { external_id: 'dup', name: 'B' },
      ],
    });
    expect(twice.status).toBe(422);
    expect(twice.body).toMatchObject({ field: 'locations[1].external_id' });
    const sameName = await platform('POST', path, {
      locations: [
        { external_id: 'x-1', name: 'Same' },
        { external_id: 'x-2', name: 'same' },
      ],
    });
    expect(sameName.status).toBe(422);
    // A name another kept location carries (Kiosk has no product id any more, so a new id cannot
    // rename it: it adopts it; "Store 1" belongs to store-1, kept).
    const taken = await platform('POST', `/organizations/${orgId}/locations:upsert`, {
      locations: [{ external_id: 'store-9', name: 'store 1' }],
    });
    expect(taken.status).toBe(409);
    expect(taken.body.type).toMatch(/\/name_taken$/);
    const star = await platform('POST', path, { locations: [{ external_id: '*', name: 'All' }] });
    expect(star.status).toBe(400);
    const unknownOrg = await platform('POST', `/organizations/${crypto.randomUUID()}/locations:upsert`, {
      locations: [],
    });
    expect(unknownOrg.status).toBe(404);
    expect((await platform('GET', `/organizations/${crypto.randomUUID()}/locations`)).status).toBe(404);
    // Nothing of the refused lists was written.
    const listed = expectStatus(await platform('GET', `/organizations/${orgId}/locations?limit=100`), 200);
    expect(listed.items.map((l: { external_id: string | null }) => l.external_id)).not.toContain('dup');

    const gone = expectStatus(
      await platform('POST', '/organizations', { external_id: 'tenant-loc-gone', name: 'Gone' }),
      201,
    );
    expectStatus(await platform('DELETE', `/organizations/${gone.id}`), 200);
    const archived = await platform('POST', `/organizations/${gone.id}/locations:upsert`, {
      locations: [{ external_id: 'a', name: 'A' }],
    });
    expect(archived.status).toBe(409);
    expect(archived.body.type).toMatch(/\/organization_archived$/);
    expect(UUID.test(gone.id)).toBe(true);
  });

  it('checked every location operation of the platform API against the document', () => {
    const covered = new Set([...documented.covered].map((entry) => entry.split(' ')[0]));
    for (const operation of ['platformListLocations', 'platformUpsertLocations', 'platformSyncLocations']) {
      expect(covered).toContain(operation);
    }
  });
});
