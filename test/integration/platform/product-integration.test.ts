import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  RESOURCE_SERVER_SECRET_PREFIX,
} from '../../../src/domain/credential-format.ts';
import type { Verifier } from '../../../src/resource-server/index.ts';
import { eventually } from '../../helpers/eventually.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import {
  adminApi,
  adminToken,
  claimsOf,
  expectStatus,
  productToken,
  requestToken,
} from '../admin/admin-helpers.ts';
import { type PlatformApi, type ProductDeployment, startProductDeployment } from './platform-helpers.ts';

const OPERATOR = { name: 'product-backend', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };
const RESOURCE_SERVER = {
  name: 'items-api',
  secret: generateDeploymentSecret(RESOURCE_SERVER_SECRET_PREFIX),
};

/**
 * Issue 15's "done when": a SaaS product wires svcauth in over HTTP alone (no CLI, no SQL). It makes an
 * organization from its own tenant id, mirrors its locations with its own ids, loads its permission
 * catalog (a permission of its own, with a description), provisions the first
 * admin; the admin makes an account and a key; the key's token and the kit speak the product's
 * location ids; suspend refuses the token, resume lets it work; the operator recovers an organization
 * whose admin lost its secret; deleting the organization ends it all.
 */
/** The verbs over the shared platform call, as adminApi has them. */
function operatorApi(call: PlatformApi) {
  return {
    get: (path: string) => call('GET', path),
    post: (path: string, body?: unknown) => call('POST', path, body),
    delete: (path: string) => call('DELETE', path),
  };
}

describe("a product's whole integration over HTTP", () => {
  let deployment: ProductDeployment;
  let server: TestServer;
  let platform: ReturnType<typeof operatorApi>;
  let kit: Verifier;

  beforeAll(async () => {
    deployment = await startProductDeployment(OPERATOR, RESOURCE_SERVER);
    ({ server, kit } = deployment);
    platform = operatorApi(deployment.platform);
  });

  afterAll(async () => {
    await deployment?.stop();
  });

  const introspect = (token: string) => deployment.introspect(token);

  it('provisions, integrates, suspends, resumes, recovers and deletes an organization', async () => {
    // The product's tenant "acme-42" becomes an organization; asking again is the same one.
    const organization = expectStatus(
      await platform.post('/organizations', { external_id: 'acme-42', name: 'Acme' }),
      201,
    );
    const again = expectStatus(
      await platform.post('/organizations', { external_id: 'acme-42', name: 'Acme' }),
      200,
    );
    expect(again.id).toBe(organization.id);
    const org = `/organizations/${organization.id}`;

    // Its locations, keyed by the product's own ids.
    const synced = expectStatus(
      await platform.post(`${org}/locations:sync`, {
        locations: [
          { external_id: 'site-paris', name: 'Paris' },
          { external_id: 'site-lyon', name: 'Lyon' },
        ],
      }),
      200,
    );
    expect(synced.summary).toMatchObject({ created: 2 });

    // The product's permission catalog: a permission of its own, which admins see described.
    const loaded = await platform.post('/permissions', {
      name: 'stock:read',
      description: 'Read stock levels',
    });
    expect([200, 201]).toContain(loaded.status);
    const catalog = expectStatus(await platform.get('/permissions'), 200);
    expect(catalog.items).toContainEqual(
      expect.objectContaining({ name: 'stock:read', description: 'Read stock levels' }),
    );

    // The first admin: its secret is shown once, to the product.
    const firstAdmin = expectStatus(await platform.post(`${org}/admins`, { name: 'Acme admin' }), 201);
    const admin = adminApi(
      server,
      await adminToken(server, { clientId: firstAdmin.client_id, secret: firstAdmin.client_secret }),
    );

    // The admin sees the product's permission with its description (the console's roles screen).
    expect(expectStatus(await admin.get('/permissions'), 200).items).toContainEqual(
      expect.objectContaining({ name: 'stock:read', description: 'Read stock levels', kind: 'product' }),
    );

    // The admin makes a role, an account on Paris, and its API key in the same request (seed 003).
    const locations = expectStatus(await admin.get('/locations'), 200).items as Array<{
      id: string;
      external_id: string;
    }>;
    const paris = locations.find((location) => location.external_id === 'site-paris')!;
    const reader = expectStatus(
      await admin.post('/roles', { name: 'Item reader', permissions: ['items:read', 'stock:read'] }),
      201,
    );
    const account = expectStatus(
      await admin.post('/service-accounts', {
        name: 'Warehouse sync',
        location_ids: [paris.id],
        roles: [{ role_id: reader.id }],
        credential: { type: 'api_key', name: 'first key' },
      }),
      201,
    );
    const apiKey = account.credential.api_key as string;

    // The key's token speaks the product's location ids, and so does the kit.
    const token = await productToken(server, 'api', apiKey);
    expect(claimsOf(token)).toMatchObject({
      org_id: organization.id,
      permissions: { 'site-paris': ['items:read', 'stock:read'] },
    });
    const principal = await kit.verify(token);
    expect(principal.can('items:read', 'site-paris')).toBe(true);
    expect(principal.can('stock:read', 'site-paris')).toBe(true);
    expect(principal.can('stock:read', 'site-lyon')).toBe(false);
    expect(principal.can('items:read', 'site-lyon')).toBe(false);

    // Suspended: the token is refused at once (the kit through the feed), no new token is issued.
    expectStatus(await platform.post(`${org}:suspend`), 200);
    expect(await introspect(token)).toEqual({ active: false });
    await eventually(async () => {
      await expect(kit.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
    });
    const refused = await requestToken(server, 'api', apiKey);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'unauthorized_client' });
    expect(refused.body.error_description).toMatch(/suspended/);

    // Resumed: the key works again.
    expectStatus(await platform.post(`${org}:resume`), 200);
    const resumed = await productToken(server, 'api', apiKey);
    await eventually(async () => {
      expect((await kit.verify(resumed)).can('items:read', 'site-paris')).toBe(true);
    });

    // The admin's secret is lost: the organization cannot manage itself. The operator gives API Admin
    // to an account whose key the customer still has, and management works again through it.
    const restored = expectStatus(
      await platform.post(`${org}/admins:restore`, { service_account_id: account.id }),
      200,
    );
    expect(restored).toMatchObject({ service_account_id: account.id, changed: true });
    const recovered = adminApi(server, await adminToken(server, { clientId: 'api', secret: apiKey }));
    expectStatus(await recovered.get('/service-accounts'), 200);
    const trail = expectStatus(await recovered.get('/audit-events?action=organization.admin_restored'), 200);
    expect(trail.items[0]).toMatchObject({ actor_operator: OPERATOR.name, target_id: account.id });

    // Deleted: archived, every credential revoked and its tokens refused, the audit kept.
    const fresh = await productToken(server, 'api', apiKey);
    expectStatus(await platform.delete(org), 200);
    expect(await introspect(fresh)).toEqual({ active: false });
    await eventually(async () => {
      await expect(kit.verify(fresh)).rejects.toMatchObject({ code: 'invalid_token' });
    });
    expect((await requestToken(server, 'api', apiKey)).status).toBe(401);
    const archived = expectStatus(await platform.get(org), 200);
    expect(archived.status).toBe('archived');
    const platformTrail = expectStatus(await platform.get(`/audit?organization_id=${organization.id}`), 200);
    expect(platformTrail.items.map((event: { action: string }) => event.action)).toEqual(
      expect.arrayContaining(['organization.created', 'organization.suspended', 'organization.resumed']),
    );
  });
});
