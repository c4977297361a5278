import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCT_PERMISSIONS } from '../../../config/permissions.ts';
import { createVerifier, type Verifier } from '../../../src/resource-server/index.ts';
import { Fixtures, type TestCredential } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { basicAuthorization, grant, postToken, verifyAccessToken } from './token-helpers.ts';

/**
 * An account on 1,000 explicit locations (issue 19): its token carries the permissions packed
 * (README, "The access token"), stays under 8 KB, and the kit and /introspect read exactly the
 * permissions the roles grant, location by location. Seeded through the database (the locations in
 * one statement, as the platform sync would leave them: with the product's ids), asked for over HTTP.
 */

const RESOURCE_SERVER = { name: 'many-locations-api', secret: randomBytes(24).toString('base64url') };
const LOCATION_COUNT = 1000;
const ALL = [...PRODUCT_PERMISSIONS].sort();

let server: TestServer;
let fixtures: Fixtures;
let verifier: Verifier;
let credential: TestCredential;
let apiKey: TestCredential;
/** What the roles grant, keyed as tokens key it: the product's location id -> sorted permissions. */
let expected: Record<string, string[]>;

/**
 * Location i's permissions: all five at most locations, four (one of four sets) at every 7th, and at
 * every 97th a pair of its own, so the token holds several shared sets and some held by one location.
 */
function permissionsAt(i: number): string[] {
  if (i % 97 === 0) return [ALL[i % 5]!, ALL[(i + 1 + (i % 3)) % 5]!].sort();
  if (i % 7 === 0) return ALL.filter((_, j) => j !== i % 4);
  return [...ALL];
}

beforeAll(async () => {
  server = await startTestServer({
    RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
  });
  fixtures = new Fixtures(server.database.db);
  const org = await fixtures.organization();
  const rows = await server.database.db
    .insertInto('locations')
    .values(
      Array.from({ length: LOCATION_COUNT }, (_, n) => ({
        org_id: org.id,
        name: `Store ${n + 1}`,
        external_id: `store-${n + 1}`,
      })),
    )
    .returning(['id', 'external_id'])
    .execute();
  const ids = new Map(rows.map((row) => [Number(row.external_id!.slice('store-'.length)), row.id]));
  expected = {};
  for (let i = 1; i <= LOCATION_COUNT; i++) expected[`store-${i}`] = permissionsAt(i);
  // One role per permission, ticked exactly at the locations that hold it (the role x location matrix).
  const roles = await Promise.all(ALL.map((permission) => fixtures.role(org.id, [permission])));
  const account = await fixtures.account(org.id, {
    locationIds: [...ids.values()],
    roles: roles.map((role, r) => ({
      roleId: role.id,
      restrictedTo: [...ids].filter(([i]) => permissionsAt(i).includes(ALL[r]!)).map(([, id]) => id),
    })),
  });
  credential = await fixtures.credential(org.id, account.id, 'oauth_client');
  apiKey = await fixtures.credential(org.id, account.id, 'api_key');
  verifier = createVerifier({
    issuer: server.issuer,
    audience: `${server.issuer}/api`,
    credentials: RESOURCE_SERVER,
    revocation: { mode: 'feed' },
  });
  await verifier.ready();
}, 120_000);

afterAll(async () => {
  await verifier?.close();
  await server?.stop();
}, 60_000);

async function introspect(token: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.issuer}/introspect`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuthorization(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
    },
    body: new URLSearchParams({ token }).toString(),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe('an account on 1,000 explicit locations', () => {
  let token: string;

  beforeAll(async () => {
    token = await grant(server, credential);
  });

  it('gets a token under 8 KB, its permissions packed', async () => {
    expect(token.length).toBeLessThan(8192);
    const { payload } = await verifyAccessToken(server, token, `${server.issuer}/api`);
    expect(payload).not.toHaveProperty('permissions');
    expect(typeof payload.permissions_packed).toBe('string');
    expect(new Set(Object.values(expected).map((names) => names.join(' '))).size).toBeGreaterThan(8);
  });

  it("the kit's can() answers exactly, for every permission at every location", async () => {
    const principal = await verifier.verify(token);
    expect(principal.permissions).toEqual(expected);
    const wrong: string[] = [];
    for (const [location, held] of Object.entries(expected)) {
      for (const permission of ALL) {
        if (principal.can(permission, location) !== held.includes(permission)) {
          wrong.push(`${permission} at ${location}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    // Locations the account is not on, and the organization-wide key, grant nothing.
    for (const location of ['store-0', `store-${LOCATION_COUNT + 1}`, 'STORE-1', '*']) {
      expect(ALL.some((permission) => principal.can(permission, location))).toBe(false);
    }
  });

  it('/introspect answers exactly the same permissions, in the plain form', async () => {
    const answer = await introspect(token);
    expect(answer).toMatchObject({ active: true, sub: decodeJwt(token).sub });
    expect(answer).not.toHaveProperty('permissions_packed');
    expect(answer.permissions).toEqual(expected);
  });

  it("/introspect of the account's API key answers exactly the same permissions", async () => {
    const answer = await introspect(apiKey.secret!);
    expect(answer.active).toBe(true);
    expect(answer.permissions).toEqual(expected);
  });

  it('a down-scoped token of the account stays exact', async () => {
    const narrow = await grant(server, credential, { scope: 'items:write' });
    const principal = await verifier.verify(narrow);
    const writable = Object.entries(expected).filter(([, held]) => held.includes('items:write'));
    expect(Object.keys(principal.permissions)).toEqual(writable.map(([location]) => location).sort());
    for (const [location] of writable) expect(principal.can('items:write', location)).toBe(true);
    expect(principal.can('items:read', writable[0]![0])).toBe(false);
    expect((await introspect(narrow)).permissions).toEqual(principal.permissions);
  });
});

describe('the claims limit still holds for packed permissions', () => {
  it("1,000 locations keyed by svcauth's UUIDs (no product ids) are refused with what to do", async () => {
    // A UUID is 16 random bytes: no encoding carries 1,000 of them exactly in 8 KB.
    const org = await fixtures.organization();
    const rows = await server.database.db
      .insertInto('locations')
      .values(Array.from({ length: LOCATION_COUNT }, (_, n) => ({ org_id: org.id, name: `Site ${n}` })))
      .returning('id')
      .execute();
    const role = await fixtures.role(org.id, ['items:read']);
    const account = await fixtures.account(org.id, {
      locationIds: rows.map((row) => row.id),
      roles: [{ roleId: role.id }],
    });
    const refused = await postToken(
      server,
      { grant_type: 'client_credentials' },
      { authorization: await basicFor(org.id, account.id) },
    );
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ error: 'invalid_request' });
    expect(String(refused.json?.error_description)).toMatch(/bytes of claims, more than the 8192 allowed/);
  });
});

async function basicFor(orgId: string, accountId: string): Promise<string> {
  const credential = await fixtures.credential(orgId, accountId, 'oauth_client');
  return basicAuthorization(credential.clientId, credential.secret!);
}
