import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  RESOURCE_SERVER_SECRET_PREFIX,
} from '../../../src/domain/credential-format.ts';
import type { Verifier } from '../../../src/resource-server/index.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  claimsOf,
  expectStatus,
  productToken,
} from '../admin/admin-helpers.ts';
import { type PlatformApi, type ProductDeployment, startProductDeployment } from './platform-helpers.ts';

/**
 * A product location id is any printable ASCII string, so it may be the name of an Object.prototype
 * member (`__proto__`, `constructor`, `toString`, ...). Such a key must go into the token's
 * `permissions`, /introspect answers and the kit's `can()` like any other, and never be mistaken for
 * an inherited member (a missing grant found on the prototype, or a grant lost to the prototype).
 */
const OPERATOR = { name: 'ops', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };
const RESOURCE_SERVER = {
  name: 'items-api',
  secret: generateDeploymentSecret(RESOURCE_SERVER_SECRET_PREFIX),
};
const PROTOTYPE_IDS = ['__proto__', 'constructor', 'hasOwnProperty', 'toString'];

describe('product location ids named like Object.prototype members', () => {
  let deployment: ProductDeployment;
  let server: TestServer;
  let platform: PlatformApi;
  let kit: Verifier;
  let admin: AdminApi;
  let locationIdOf: Map<string, string>;

  beforeAll(async () => {
    deployment = await startProductDeployment(OPERATOR, RESOURCE_SERVER);
    ({ server, kit } = deployment);
    platform = deployment.platform;
    const org = expectStatus(
      await platform('POST', '/organizations', { external_id: 'tenant-proto', name: 'Proto Co' }),
      201,
    );
    expectStatus(
      await platform('POST', `/organizations/${org.id}/locations:sync`, {
        locations: [...PROTOTYPE_IDS, 'site-1'].map((id) => ({ external_id: id, name: `Site ${id}` })),
      }),
      200,
    );
    const provisioned = expectStatus(await platform('POST', `/organizations/${org.id}/admins`, {}), 201);
    admin = adminApi(
      server,
      await adminToken(server, { clientId: provisioned.client_id, secret: provisioned.client_secret }),
    );
    const locations = expectStatus(await admin.get('/locations?limit=100'), 200).items as Array<{
      id: string;
      external_id: string | null;
    }>;
    locationIdOf = new Map(locations.map((location) => [location.external_id ?? location.id, location.id]));
  });

  afterAll(async () => {
    await deployment?.stop();
  });

  const introspect = (token: string) => deployment.introspect(token);

  /** An API key of a new account at the given product location ids, holding `permissions` there. */
  async function keyAt(name: string, productIds: string[], permissions: string[]): Promise<string> {
    const role = expectStatus(await admin.post('/roles', { name: `${name} role`, permissions }), 201);
    const account = expectStatus(
      await admin.post('/service-accounts', {
        name,
        location_ids: productIds.map((id) => locationIdOf.get(id)!),
        roles: [{ role_id: role.id }],
        credential: { type: 'api_key', name: 'key' },
      }),
      201,
    );
    return account.credential.api_key as string;
  }

  it('puts every such location in the token, /introspect and can() as its own key', async () => {
    const key = await keyAt('Prototype sites', PROTOTYPE_IDS, ['items:read']);
    const token = await productToken(server, 'api', key);

    const { permissions } = claimsOf(token);
    expect(Object.keys(permissions).sort()).toEqual([...PROTOTYPE_IDS].sort());
    for (const id of PROTOTYPE_IDS) {
      expect(Object.hasOwn(permissions, id)).toBe(true);
      expect(permissions[id]).toEqual(['items:read']);
    }

    const answer = await introspect(token);
    expect(answer.active).toBe(true);
    expect(Object.keys(answer.permissions as object).sort()).toEqual([...PROTOTYPE_IDS].sort());

    const principal = await kit.verify(token);
    for (const id of PROTOTYPE_IDS) expect(principal.can('items:read', id)).toBe(true);
    expect(principal.can('items:write', '__proto__')).toBe(false);
    expect(principal.can('items:read', 'valueOf')).toBe(false);
  });

  it('never finds a grant at a prototype-named location the account is not placed at', async () => {
    const key = await keyAt('Site one only', ['site-1'], ['items:read']);
    const token = await productToken(server, 'api', key);
    expect(Object.keys(claimsOf(token).permissions)).toEqual(['site-1']);
    const principal = await kit.verify(token);
    for (const id of PROTOTYPE_IDS) expect(principal.can('items:read', id)).toBe(false);
    expect(principal.can('items:read', 'site-1')).toBe(true);
  });
});
