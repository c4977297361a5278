/**
 * End to end: svcauth issues credentials, an integration obtains a token with openid-client (or uses
 * an API key), and the example items API, protected by the resource-server kit, shows exactly the
 * items the account's permissions allow.
 *
 * The revocation cases use svcauth's POST /introspect and GET /revocations and the management API:
 * they always run, so a server that stops serving the feed fails them (it is not a reason to skip).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createItemsApi } from '../../../examples/items-api/app.ts';
import type { Item } from '../../../examples/items-api/items.ts';
import { createVerifier, type Verifier } from '../../../src/resource-server/index.ts';
import { Fixtures, type TestCredential } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

const RESOURCE_SERVER = { name: 'items-api', secret: randomBytes(24).toString('base64url') };

let server: TestServer;

let fixtures: Fixtures;
let orgId: string;
let locationA: string;
let locationB: string;
let locationC: string;
let publicReader: string;
let privateReader: string;
let items: Item[];

/** locations A and B; items:read in both, items:read_private in A only. */
let readerId: string;
let reader: TestCredential;

interface RunningApi {
  url: string;
  verifier: Verifier;
  close(): Promise<void>;
}

async function startItemsApi(verifier: Verifier): Promise<RunningApi> {
  const httpServer = http.createServer(createItemsApi({ verifier, items }).callback());
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`,
    verifier,
    close: async () => {
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
      await verifier.close();
    },
  };
}

/** An access token through openid-client's discovery and client-credentials grant. */
async function grant(credential: TestCredential, parameters: Record<string, string> = {}): Promise<string> {
  const config = await client.discovery(
    new URL(server.issuer),
    credential.clientId,
    undefined,
    client.ClientSecretBasic(credential.secret!),
    { execute: [client.allowInsecureRequests], algorithm: 'oauth2' },
  );
  return (await client.clientCredentialsGrant(config, parameters)).access_token;
}

const bearer = (token: string) => `Bearer ${token}`;
const apiKey = (key: string) => `Basic ${Buffer.from(`api:${key}`).toString('base64')}`;

async function get(api: RunningApi, path: string, authorization?: string) {
  const response = await fetch(`${api.url}${path}`, { headers: authorization ? { authorization } : {} });
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

async function visibleIds(api: RunningApi, authorization: string): Promise<string[]> {
  const response = await get(api, '/items', authorization);
  expect(response.status).toBe(200);
  return (response.body.items as Array<{ id: string }>).map((item) => item.id).sort();
}

beforeAll(async () => {
  server = await startTestServer({
    RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
  });
  fixtures = new Fixtures(server.database.db);
  const org = await fixtures.organization();
  orgId = org.id;
  [locationA, locationB, locationC] = await Promise.all([
    fixtures.location(orgId, 'Plant A').then((l) => l.id),
    fixtures.location(orgId, 'Plant B').then((l) => l.id),
    fixtures.location(orgId, 'Plant C').then((l) => l.id),
  ]);
  publicReader = (await fixtures.role(orgId, ['items:read'])).id;
  privateReader = (await fixtures.role(orgId, ['items:read', 'items:read_private'])).id;
  const otherOrg = await fixtures.organization();
  const elsewhere = (await fixtures.location(otherOrg.id)).id;

  items = [
    { id: 'a-public', orgId, locationId: locationA, title: 'A, public', private: false },
    { id: 'a-private', orgId, locationId: locationA, title: 'A, private', private: true },
    { id: 'b-public', orgId, locationId: locationB, title: 'B, public', private: false },
    { id: 'b-private', orgId, locationId: locationB, title: 'B, private', private: true },
    { id: 'c-public', orgId, locationId: locationC, title: 'C, public', private: false },
    {
      id: 'other-org',
      orgId: otherOrg.id,
      locationId: elsewhere,
      title: 'another organization',
      private: false,
    },
  ];

  const account = await fixtures.account(orgId, {
    locationIds: [locationA, locationB],
    roles: [{ roleId: publicReader }, { roleId: privateReader, restrictedTo: [locationA] }],
  });
  readerId = account.id;
  reader = await fixtures.credential(orgId, readerId, 'oauth_client');
}, 120_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

describe('items API with local JWT verification', () => {
  let api: RunningApi;

  beforeAll(async () => {
    const verifier = createVerifier({
      issuer: server.issuer,
      audience: `${server.issuer}/api`,
      revocation: { mode: 'none' },
    });
    await verifier.ready();
    api = await startItemsApi(verifier);
  });

  afterAll(async () => {
    await api?.close();
  });

  it('shows exactly the items the token allows: per location, private only with items:read_private', async () => {
    const token = await grant(reader);
    expect(await visibleIds(api, bearer(token))).toEqual(['a-private', 'a-public', 'b-public']);
  });

  it('answers 404 for an item the account may not view, as for one that does not exist', async () => {
    const token = await grant(reader);
    expect(await get(api, '/items/a-private', bearer(token))).toMatchObject({
      status: 200,
      body: { id: 'a-private', location_id: locationA, private: true },
    });
    for (const id of ['b-private', 'c-public', 'other-org', 'no-such-item']) {
      const response = await get(api, `/items/${id}`, bearer(token));
      expect(response.status).toBe(404);
      expect(response.body.error).toBe('not_found');
    }
  });

  it('follows the role x location matrix and organization-wide grants', async () => {
    const narrow = await fixtures.account(orgId, {
      locationIds: [locationB],
      roles: [{ roleId: publicReader }],
    });
    const everywhere = await fixtures.account(orgId, {
      allLocations: true,
      roles: [{ roleId: publicReader }],
    });
    const [narrowToken, everywhereToken] = await Promise.all([
      fixtures.credential(orgId, narrow.id).then(grant),
      fixtures.credential(orgId, everywhere.id).then(grant),
    ]);
    expect(await visibleIds(api, bearer(narrowToken))).toEqual(['b-public']);
    expect(await visibleIds(api, bearer(everywhereToken))).toEqual(['a-public', 'b-public', 'c-public']);
  });

  it('sees fewer items with a down-scoped token', async () => {
    const token = await grant(reader, { scope: 'items:read' });
    expect(await visibleIds(api, bearer(token))).toEqual(['a-public', 'b-public']);
  });

  it('answers 403 insufficient_scope to an account without items:read anywhere', async () => {
    const peopleRole = await fixtures.role(orgId, ['people:read']);
    const account = await fixtures.account(orgId, { allLocations: true, roles: [{ roleId: peopleRole.id }] });
    const token = await grant(await fixtures.credential(orgId, account.id));
    const response = await get(api, '/items', bearer(token));
    expect(response.status).toBe(403);
    expect(response.challenge).toMatch(/error="insufficient_scope"/);
  });

  it('answers 401 with an RFC 6750 challenge without a token, or with a token for another audience', async () => {
    const anonymous = await get(api, '/items');
    expect(anonymous.status).toBe(401);
    expect(anonymous.challenge).toMatch(/^Bearer realm="[^"]+"/);

    const adminRole = await fixtures.role(orgId, ['service_accounts:read']);
    const admin = await fixtures.account(orgId, { allLocations: true, roles: [{ roleId: adminRole.id }] });
    const adminToken = await grant(await fixtures.credential(orgId, admin.id), {
      resource: `${server.issuer}/admin`,
    });
    const wrongAudience = await get(api, '/items', bearer(adminToken));
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.challenge).toMatch(/error="invalid_token", error_description="[^"]*aud/);
  });
});

describe('items API with the revocation feed', () => {
  let api: RunningApi;
  let adminToken: string;

  beforeAll(async () => {
    const verifier = createVerifier({
      issuer: server.issuer,
      audience: `${server.issuer}/api`,
      credentials: RESOURCE_SERVER,
      revocation: { mode: 'feed' },
    });
    await verifier.ready();
    api = await startItemsApi(verifier);

    const adminRole = await fixtures.role(orgId, [
      'items:read',
      'items:read_private',
      'service_accounts:read',
      'service_accounts:write',
    ]);
    const admin = await fixtures.account(orgId, { allLocations: true, roles: [{ roleId: adminRole.id }] });
    adminToken = await grant(await fixtures.credential(orgId, admin.id), {
      resource: `${server.issuer}/admin`,
    });
  });

  afterAll(async () => {
    await api?.close();
  });

  /**
   * A management API URL found in its OpenAPI document (issue 4 names the paths), with its
   * {parameters} filled in order.
   */
  async function managementUrl(pattern: RegExp, method: string, values: string[]): Promise<string> {
    const document = (await (await fetch(`${server.issuer}/admin/v1/openapi.json`)).json()) as {
      paths?: Record<string, Record<string, unknown>>;
      servers?: Array<{ url: string }>;
    };
    const path = Object.keys(document.paths ?? {}).find(
      (p) => pattern.test(p) && document.paths![p]![method],
    );
    if (!path)
      throw new Error(`the management API documents no ${method.toUpperCase()} path matching ${pattern}`);
    const base = path.startsWith('/admin/')
      ? ''
      : new URL(document.servers?.[0]?.url ?? '/admin/v1', server.issuer).pathname;
    // Parameters are filled from the end: /credentials/{id}/revoke takes only the credential id.
    let index = values.length - (path.match(/\{[^}]+\}/g) ?? []).length;
    const filled = path.replace(/\{[^}]+\}/g, () => encodeURIComponent(values[index++]!));
    return `${server.issuer}${base.replace(/\/$/, '')}${filled}`;
  }

  async function manage(method: 'post' | 'patch', url: string, body: unknown = {}): Promise<void> {
    const response = await fetch(url, {
      method: method.toUpperCase(),
      headers: { authorization: bearer(adminToken), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status, await response.clone().text()).toBeLessThan(300);
  }

  /** Polls until the API refuses the credential; returns how long that took after the change. */
  async function msUntilRefused(authorization: string, since: number): Promise<number> {
    for (;;) {
      const { status } = await get(api, '/items', authorization);
      if (status === 401) return Date.now() - since;
      if (Date.now() - since > 5_000) throw new Error('still accepted 5 s after the change');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('shows the same items through an API key', async () => {
    const key = await fixtures.credential(orgId, readerId, 'api_key');
    expect(await visibleIds(api, apiKey(key.secret!))).toEqual(['a-private', 'a-public', 'b-public']);
    expect((await get(api, '/items/b-private', apiKey(key.secret!))).status).toBe(404);
  });

  it('answers 401 within one second after the credential is revoked', async () => {
    const credential = await fixtures.credential(orgId, readerId, 'oauth_client');
    const token = await grant(credential);
    expect(await visibleIds(api, bearer(token))).toEqual(['a-private', 'a-public', 'b-public']);
    const url = await managementUrl(/credentials\/\{[^}]+\}[/:]revoke$/, 'post', [readerId, credential.id]);
    await manage('post', url);
    expect(await msUntilRefused(bearer(token), Date.now())).toBeLessThan(1_000);
  });

  it('answers 401 within one second after an API key is revoked', async () => {
    const key = await fixtures.credential(orgId, readerId, 'api_key');
    expect(await visibleIds(api, apiKey(key.secret!))).toHaveLength(3);
    const url = await managementUrl(/credentials\/\{[^}]+\}[/:]revoke$/, 'post', [readerId, key.id]);
    await manage('post', url);
    expect(await msUntilRefused(apiKey(key.secret!), Date.now())).toBeLessThan(1_000);
  });

  it('refuses the old token after a permissions edit; a new token sees the new items', async () => {
    const account = await fixtures.account(orgId, {
      locationIds: [locationA, locationB],
      roles: [{ roleId: publicReader }],
    });
    const credential = await fixtures.credential(orgId, account.id);
    const before = await grant(credential);
    expect(await visibleIds(api, bearer(before))).toEqual(['a-public', 'b-public']);

    const url = await managementUrl(/service[-_]accounts\/\{[^}]+\}$/, 'patch', [account.id]);
    await manage('patch', url, { roles: [{ role_id: privateReader }] });
    expect(await msUntilRefused(bearer(before), Date.now())).toBeLessThan(1_000);

    const after = await grant(credential);
    expect(await visibleIds(api, bearer(after))).toEqual(['a-private', 'a-public', 'b-private', 'b-public']);
  });
});
