import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  resourceServerEntry,
  RESOURCE_SERVER_SECRET_PREFIX,
} from '../../../src/domain/credential-format.ts';
import { eventually } from '../../helpers/eventually.ts';
import { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  adminApi,
  adminToken,
  claimsOf,
  expectStatus,
  productToken,
  requestToken,
} from '../admin/admin-helpers.ts';

/**
 * The platform API over HTTP: operators from OPERATORS (two at once, Basic or Bearer), organizations
 * made from the product's tenant id, listed, renamed, suspended (every token refused at /token, the
 * management API and /introspect), resumed, archived (credentials revoked), admins provisioned and
 * restored, and every change audited with the operator's name.
 */
const OPERATOR_A = { name: 'ops-a', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };
const OPERATOR_B = { name: 'ops-b', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };
const RESOURCE_SERVER = {
  name: 'items-api',
  secret: generateDeploymentSecret(RESOURCE_SERVER_SECRET_PREFIX),
};

/** The platform API's tags whose every operation this file exercises. */
const COVERED_TAGS = ['Platform: organizations', 'Platform: recovery', 'Platform: audit'];

function basic(name: string, secret: string): string {
  return `Basic ${Buffer.from(`${name}:${secret}`).toString('base64')}`;
}

describe('platform API', () => {
  let server: TestServer;
  // Every platform response below is checked against the document the server serves (issue 18).
  let documented: OpenApiResponseValidator;
  let platformOperations: string[];

  beforeAll(async () => {
    server = await startTestServer({
      OPERATORS: [OPERATOR_A, OPERATOR_B].map((o) => resourceServerEntry(o.name, o.secret)).join(','),
      RESOURCE_SERVERS: resourceServerEntry(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
    });
    const served = await fetch(`${server.issuer}/admin/v1/openapi.json`);
    expect(served.status).toBe(200);
    const document = (await served.json()) as {
      paths: Record<string, Record<string, { operationId: string; tags: string[] }>>;
    };
    documented = new OpenApiResponseValidator(document);
    // The operations of the tags this file covers; other files cover the others (e.g. tenancy.test.ts).
    platformOperations = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/platform/v1/'))
      .flatMap(([, operations]) => Object.values(operations))
      .filter((operation) => operation.tags.some((tag) => COVERED_TAGS.includes(tag)))
      .map((operation) => operation.operationId);
  });

  afterAll(async () => {
    await server?.stop();
  });

  function platform(authorization: string | null) {
    return async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.issuer}/platform/v1${path}`, {
        method,
        headers: {
          ...(authorization ? { authorization } : {}),
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
      documented.validate(
        method,
        `/platform/v1${path.split('?')[0]}`,
        result.status,
        result.headers.get('content-type'),
        result.body,
      );
      return result;
    };
  }
  const asA = () => platform(basic(OPERATOR_A.name, OPERATOR_A.secret));
  const asB = () => platform(`Bearer ${OPERATOR_B.secret}`);

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

  /** The feed's current entries, as a resource server reads them (JSON snapshot). */
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

  it('accepts either configured operator (Basic or Bearer) and refuses others with a challenge', async () => {
    expect((await asA()('GET', '/organizations')).status).toBe(200);
    expect((await asB()('GET', '/organizations')).status).toBe(200);
    // Operator A's secret under Bearer works too; under B's name it does not.
    expect((await platform(`Bearer ${OPERATOR_A.secret}`)('GET', '/organizations')).status).toBe(200);
    for (const authorization of [
      null,
      basic(OPERATOR_B.name, OPERATOR_A.secret),
      `Bearer ${generateDeploymentSecret(OPERATOR_SECRET_PREFIX)}`,
      basic(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
    ]) {
      const response = await platform(authorization)('GET', '/organizations');
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="svcauth-platform"/);
      expect(response.body).toMatchObject({ status: 401, type: expect.stringMatching(/\/unauthorized$/) });
      expect(response.body.detail).toMatch(/OPERATORS/);
    }
  });

  it('creates organizations idempotently on external_id, lists, filters, pages and renames them', async () => {
    const first = await asA()('POST', '/organizations', { external_id: 'tenant-001', name: 'Kizen One' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ external_id: 'tenant-001', name: 'Kizen One', status: 'active' });
    const again = await asB()('POST', '/organizations', { external_id: 'tenant-001', name: 'Other name' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const second = expectStatus(
      await asA()('POST', '/organizations', { external_id: 'tenant-002', name: 'Kizen Two' }),
      201,
    );
    expect(second.id).not.toBe(first.body.id);

    const got = expectStatus(await asA()('GET', `/organizations/${first.body.id}`), 200);
    expect(got).toEqual(first.body);
    const byExternal = expectStatus(await asA()('GET', '/organizations?external_id=tenant-002'), 200);
    expect(byExternal.items.map((o: { id: string }) => o.id)).toEqual([second.id]);
    expect((await asA()('GET', `/organizations/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await asA()('GET', '/organizations/not-an-id')).status).toBe(404);
    expect((await asA()('POST', '/organizations', { external_id: '', name: 'x' })).status).toBe(400);

    // Pages of one: both organizations, each once, in creation order.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${cursor}` : '';
      const page = expectStatus(await asA()('GET', `/organizations?limit=1${query}`), 200);
      seen.push(...page.items.map((o: { id: string }) => o.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([first.body.id, second.id]);

    const renamed = expectStatus(
      await asA()('PATCH', `/organizations/${second.id}`, { name: 'Kizen Two Renamed' }),
      200,
    );
    expect(renamed.name).toBe('Kizen Two Renamed');

    // Reads are uses too: a get in the organization's trail, a list in the platform list.
    const reads = expectStatus(
      await asA()('GET', `/audit?organization_id=${first.body.id}&action=organization.read`),
      200,
    );
    expect(reads.items[0]).toMatchObject({ actor_kind: 'operator', actor_operator: 'ops-a' });
    const lists = expectStatus(await asA()('GET', '/audit?action=organizations.listed&operator=ops-b'), 200);
    expect(lists.items[0]).toMatchObject({ organization_id: null, actor_operator: 'ops-b' });

    expectStatus(await asA()('POST', `/organizations/${second.id}:suspend`), 200);
    const suspended = expectStatus(await asA()('GET', '/organizations?status=suspended'), 200);
    expect(suspended.items.map((o: { id: string }) => o.id)).toEqual([second.id]);
    const active = expectStatus(await asA()('GET', '/organizations?status=active'), 200);
    expect(active.items.map((o: { id: string }) => o.id)).toEqual([first.body.id]);
  });

  it('suspend refuses every token of the organization at once; resume lets them work again', async () => {
    const org = expectStatus(
      await asA()('POST', '/organizations', { external_id: 'tenant-suspend', name: 'Suspended Co' }),
      201,
    );
    const admin = expectStatus(await asA()('POST', `/organizations/${org.id}/admins`, {}), 201);
    expect(admin.client_secret).toMatch(/^svcs_/);
    const credential = { clientId: admin.client_id, secret: admin.client_secret };
    const token = await adminToken(server, credential);
    const product = await productToken(server, credential.clientId, credential.secret);
    expect((await adminApi(server, token).get('/service-accounts')).status).toBe(200);
    expect(await introspect(product)).toMatchObject({ active: true });

    const suspended = expectStatus(await asB()('POST', `/organizations/${org.id}:suspend`), 200);
    expect(suspended.status).toBe('suspended');
    const refused = await requestToken(
      server,
      credential.clientId,
      credential.secret,
      `${server.issuer}/admin`,
    );
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(refused.body)).toMatch(/suspended/);
    const adminCall = await adminApi(server, token).get('/service-accounts');
    expect(adminCall.status).toBe(401);
    expect(adminCall.body.detail).toMatch(/suspended/);
    expect(await introspect(product)).toEqual({ active: false });
    // Resource servers verifying locally hear it from the feed.
    await eventually(async () =>
      expect(await feedEntries()).toContainEqual(
        expect.objectContaining({ type: 'organization', org_id: org.id, enabled: false }),
      ),
    );

    expectStatus(await asA()('POST', `/organizations/${org.id}:resume`), 200);
    await eventually(async () =>
      expect(await feedEntries()).toContainEqual(
        expect.objectContaining({ type: 'organization', org_id: org.id, enabled: true }),
      ),
    );
    const again = await adminToken(server, credential);
    expect((await adminApi(server, again).get('/service-accounts')).status).toBe(200);
    expect(
      await introspect(await productToken(server, credential.clientId, credential.secret)),
    ).toMatchObject({
      active: true,
    });
  });

  it('makes an account a groups administrator, which no one in the organization could, and back', async () => {
    const org = expectStatus(
      await asA()('POST', '/organizations', { external_id: 'tenant-groups', name: 'Groups Co' }),
      201,
    );
    const admin = expectStatus(await asA()('POST', `/organizations/${org.id}/admins`, {}), 201);
    const credential = { clientId: admin.client_id, secret: admin.client_secret };
    const before = await adminToken(server, credential);
    // Only a groups administrator may grant groups_admin, and nobody is one yet.
    const refused = await adminApi(server, before).post('/service-accounts', {
      name: 'Groups bot',
      all_locations: true,
      groups_admin: true,
    });
    expect(refused.status).toBe(403);

    const granted = expectStatus(
      await asB()('POST', `/organizations/${org.id}/groups-admins:grant`, {
        service_account_id: admin.service_account_id,
      }),
      200,
    );
    expect(granted).toEqual({
      service_account_id: admin.service_account_id,
      groups_admin: true,
      changed: true,
    });
    const again = expectStatus(
      await asB()('POST', `/organizations/${org.id}/groups-admins:grant`, {
        service_account_id: admin.service_account_id,
      }),
      200,
    );
    expect(again.changed).toBe(false);
    // Tokens issued before the change are stale; a new one carries the flag and the power.
    expect((await adminApi(server, before).get('/service-accounts')).status).toBe(401);
    const after = await adminToken(server, credential);
    expect(claimsOf(after)).toMatchObject({ groups_admin: true });
    expectStatus(
      await adminApi(server, after).post('/service-accounts', {
        name: 'Groups bot',
        all_locations: true,
        groups_admin: true,
      }),
      201,
    );

    const revoked = expectStatus(
      await asA()('POST', `/organizations/${org.id}/groups-admins:revoke`, {
        service_account_id: admin.service_account_id,
      }),
      200,
    );
    expect(revoked).toMatchObject({ groups_admin: false, changed: true });
    expect(claimsOf(await adminToken(server, credential))).not.toHaveProperty('groups_admin');
    for (const id of [crypto.randomUUID(), 'not-an-id']) {
      const missing = await asA()('POST', `/organizations/${org.id}/groups-admins:grant`, {
        service_account_id: id,
      });
      expect(missing.status).toBe(id === 'not-an-id' ? 400 : 404);
    }
    const trail = expectStatus(await asA()('GET', `/audit?organization_id=${org.id}`), 200);
    expect(trail.items.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['organization.groups_admin_granted', 'organization.groups_admin_revoked']),
    );
    expect(
      trail.items.find((e: { action: string }) => e.action === 'organization.groups_admin_granted'),
    ).toMatchObject({ actor_operator: 'ops-b', target_id: admin.service_account_id });
  });

  it('restores API Admin to a named account and audits every operator action by name', async () => {
    const org = expectStatus(
      await asA()('POST', '/organizations', { external_id: 'tenant-recover', name: 'Recover Co' }),
      201,
    );
    const admin = expectStatus(
      await asA()('POST', `/organizations/${org.id}/admins`, { name: 'First admin' }),
      201,
    );
    const api = adminApi(
      server,
      await adminToken(server, { clientId: admin.client_id, secret: admin.client_secret }),
    );
    // An account without API Admin: the operator gives it the role back.
    const reader = expectStatus(
      await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }),
      201,
    );
    const other = expectStatus(
      await api.post('/service-accounts', {
        name: 'Ops bot',
        roles: [{ role_id: reader.id }],
        all_locations: true,
      }),
      201,
    );
    const restored = expectStatus(
      await asB()('POST', `/organizations/${org.id}/admins:restore`, { service_account_id: other.id }),
      200,
    );
    expect(restored).toMatchObject({ service_account_id: other.id, changed: true });
    const account = expectStatus(await api.get(`/service-accounts/${other.id}`), 200);
    expect(JSON.stringify(account)).toContain(restored.role_id);
    expect(
      (
        await asB()('POST', `/organizations/${org.id}/admins:restore`, {
          service_account_id: crypto.randomUUID(),
        })
      ).status,
    ).toBe(404);
    expect((await asA()('POST', `/organizations/${org.id}/admins`, { name: 'First admin' })).status).toBe(
      409,
    );

    // The organization's own trail names the operator.
    const trail = expectStatus(await api.get('/audit-events'), 200);
    const byAction = new Map(trail.items.map((e: { action: string }) => [e.action, e]));
    expect(byAction.get('organization.created')).toMatchObject({
      actor_kind: 'operator',
      actor_operator: 'ops-a',
    });
    expect(byAction.get('organization.admin_provisioned')).toMatchObject({ actor_operator: 'ops-a' });
    expect(byAction.get('organization.admin_restored')).toMatchObject({
      actor_kind: 'operator',
      actor_operator: 'ops-b',
      target_id: other.id,
    });

    // The platform list, across organizations, filtered by operator and organization.
    const list = expectStatus(await asA()('GET', `/audit?organization_id=${org.id}&operator=ops-b`), 200);
    expect(list.items.map((e: { action: string }) => e.action)).toEqual(['organization.admin_restored']);
    expect(list.items[0]).toMatchObject({ organization_id: org.id, actor_operator: 'ops-b' });
  });

  it('delete archives: every credential revoked, its tokens refused, the audit kept, no more changes', async () => {
    const org = expectStatus(
      await asA()('POST', '/organizations', { external_id: 'tenant-delete', name: 'Gone Co' }),
      201,
    );
    const admin = expectStatus(await asA()('POST', `/organizations/${org.id}/admins`, {}), 201);
    const credential = { clientId: admin.client_id, secret: admin.client_secret };
    const product = await productToken(server, credential.clientId, credential.secret);

    const archived = expectStatus(await asA()('DELETE', `/organizations/${org.id}`), 200);
    expect(archived.status).toBe('archived');
    const refused = await requestToken(
      server,
      credential.clientId,
      credential.secret,
      `${server.issuer}/admin`,
    );
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: 'invalid_client' });
    expect(await introspect(product)).toEqual({ active: false });
    await eventually(async () =>
      expect(await feedEntries()).toContainEqual(
        expect.objectContaining({ type: 'credential', client_id: credential.clientId, org_id: org.id }),
      ),
    );

    for (const [method, path, body] of [
      ['PATCH', `/organizations/${org.id}`, { name: 'Back' }],
      ['POST', `/organizations/${org.id}:resume`, undefined],
      ['POST', `/organizations/${org.id}/admins`, {}],
    ] as const) {
      const response = await asA()(method, path, body);
      expect(response.status).toBe(409);
      expect(response.body.type).toMatch(/\/organization_archived$/);
    }
    // Still there, archived; a create with its external_id answers it rather than making another.
    expect(expectStatus(await asA()('GET', `/organizations/${org.id}`), 200).status).toBe('archived');
    const audit = expectStatus(
      await asA()('GET', `/audit?organization_id=${org.id}&action=organization.archived`),
      200,
    );
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0].diff).toMatchObject({ after: { status: 'archived', revoked_credentials: 1 } });
  });

  it('documents the platform routes in the OpenAPI document', async () => {
    const document = (await (await fetch(`${server.issuer}/admin/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    expect(document.paths['/platform/v1/organizations']?.post?.operationId).toBe(
      'platformCreateOrganization',
    );
    expect(document.paths['/platform/v1/organizations/{organization_id}:suspend']?.post).toBeDefined();
    expect(document.paths['/platform/v1/audit']?.get).toBeDefined();
  });

  // Runs after the tests above (vitest keeps a file's order): their responses were each validated as
  // they arrived; this makes sure they went through the operations, successes and refusals.
  it('checked the responses of every platform operation against the document', () => {
    const covered = new Set(
      [...documented.covered]
        .map((entry) => entry.split(' ')[0]!)
        .filter((operationId) => platformOperations.includes(operationId)),
    );
    expect(platformOperations.length).toBeGreaterThanOrEqual(10);
    expect([...covered].sort()).toEqual([...platformOperations].sort());
    // Refusals too, not only successes.
    expect([...documented.covered].filter((entry) => /\s4\d\d$/.test(entry)).length).toBeGreaterThanOrEqual(
      6,
    );
  });
});
