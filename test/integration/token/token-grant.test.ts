import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fixtures, type TestCredential } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { discover, grant, grantWithApiKey, postToken, verifyAccessToken } from './token-helpers.ts';

const LEGACY_KEY = 'some-old-legacy-key-1234567890';

let server: TestServer;
let apiAudience: string;
let adminAudience: string;

/** Account with two locations, a product role and a management role, groups_admin set; org TTL 600 s. */
let orgId: string;
let accountId: string;
let locationA: string;
let locationB: string;
let oauthClient: TestCredential;
let jwtClient: TestCredential;
let apiKey: TestCredential;
let legacyKey: TestCredential;

/** Account in an organization with default settings, without groups_admin. */
let plainOrgId: string;
let plainAccountId: string;
let plainClient: TestCredential;

let productPermissions: Record<string, string[]>;

beforeAll(async () => {
  server = await startTestServer();
  apiAudience = `${server.issuer}/api`;
  adminAudience = `${server.issuer}/admin`;
  const fixtures = new Fixtures(server.database.db);

  const org = await fixtures.organization({ access_token_ttl_seconds: 600 });
  orgId = org.id;
  locationA = (await fixtures.location(orgId)).id;
  locationB = (await fixtures.location(orgId)).id;
  const product = await fixtures.role(orgId, ['items:write', 'items:read', 'people:read']);
  const management = await fixtures.role(orgId, ['service_accounts:read', 'audit:read']);
  const account = await fixtures.account(orgId, {
    locationIds: [locationA, locationB],
    roles: [{ roleId: product.id }, { roleId: management.id }],
    groupsAdmin: true,
  });
  accountId = account.id;
  [oauthClient, jwtClient, apiKey, legacyKey] = await Promise.all([
    fixtures.credential(orgId, accountId, 'oauth_client'),
    fixtures.credential(orgId, accountId, 'private_key_jwt'),
    fixtures.credential(orgId, accountId, 'api_key'),
    fixtures.credential(orgId, accountId, 'api_key', { legacyKey: LEGACY_KEY }),
  ]);
  productPermissions = {
    [locationA]: ['items:read', 'items:write', 'people:read'],
    [locationB]: ['items:read', 'items:write', 'people:read'],
  };

  const plainOrg = await fixtures.organization();
  plainOrgId = plainOrg.id;
  const reader = await fixtures.role(plainOrgId, ['charts:read']);
  const plainAccount = await fixtures.account(plainOrgId, {
    allLocations: true,
    roles: [{ roleId: reader.id }],
  });
  plainAccountId = plainAccount.id;
  plainClient = await fixtures.credential(plainOrgId, plainAccountId, 'oauth_client');
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

/** Checks everything every token for the main account carries on the default audience. */
async function expectProductToken(token: string, clientId: string) {
  const { payload, protectedHeader } = await verifyAccessToken(server, token, apiAudience);
  expect(protectedHeader.alg).toBe('ES256');
  expect(protectedHeader.typ).toBe('at+jwt');
  expect(protectedHeader.kid).toEqual(expect.any(String));
  expect(payload.iss).toBe(server.issuer);
  expect(payload.aud).toBe(apiAudience);
  expect(payload.sub).toBe(accountId);
  expect(payload.client_id).toBe(clientId);
  expect(payload.org_id).toBe(orgId);
  expect(payload.jti).toEqual(expect.any(String));
  expect(payload.iat).toEqual(expect.any(Number));
  expect(payload.exp! - payload.iat!).toBe(600);
  expect(payload.scope).toBe('items:read items:write people:read');
  expect(payload.permissions).toEqual(productPermissions);
  expect(payload.permissions_version).toEqual(expect.any(Number));
  expect(payload.groups_admin).toBe(true);
  return { payload, protectedHeader };
}

describe('client authentication methods (openid-client, via discovery)', () => {
  it('client_secret_basic', async () => {
    const config = await discover(server, oauthClient, 'basic');
    expect(config.serverMetadata().token_endpoint).toBe(`${server.issuer}/token`);
    const response = await client.clientCredentialsGrant(config);
    expect(response.token_type.toLowerCase()).toBe('bearer');
    expect(response.expires_in).toBe(600);
    await expectProductToken(response.access_token, oauthClient.clientId);
  });

  it('client_secret_post', async () => {
    const token = await grant(server, oauthClient, {}, 'post');
    await expectProductToken(token, oauthClient.clientId);
  });

  it('private_key_jwt', async () => {
    const token = await grant(server, jwtClient, {}, 'private_key_jwt');
    await expectProductToken(token, jwtClient.clientId);
  });

  it('gives every token its own jti, and the header kid names a key in /jwks', async () => {
    const first = await grant(server, oauthClient);
    const second = await grant(server, oauthClient);
    const { payload: a, protectedHeader } = await expectProductToken(first, oauthClient.clientId);
    const { payload: b } = await expectProductToken(second, oauthClient.clientId);
    expect(a.jti).not.toBe(b.jti);
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toContain(protectedHeader.kid);
  });
});

describe('API keys (oauth4webapi, HTTP Basic api:<key>)', () => {
  it('an svcauth API key obtains the same token', async () => {
    const response = await grantWithApiKey(server, apiKey.secret!);
    expect(response.expires_in).toBe(600);
    await expectProductToken(response.access_token, apiKey.clientId);
  });

  it('a key imported from the legacy system works unchanged', async () => {
    const response = await grantWithApiKey(server, LEGACY_KEY);
    await expectProductToken(response.access_token, legacyKey.clientId);
    expect(legacyKey.clientId).toMatch(/^legacy_/);
  });

  it('down-scopes an API key token with scope', async () => {
    const response = await grantWithApiKey(server, apiKey.secret!, { scope: 'people:read' });
    const { payload } = await verifyAccessToken(server, response.access_token, apiAudience);
    expect(payload.scope).toBe('people:read');
    expect(payload.permissions).toEqual({ [locationA]: ['people:read'], [locationB]: ['people:read'] });
  });
});

describe('claims', () => {
  it('uses the default TTL and omits groups_admin when the account does not have it', async () => {
    const token = await grant(server, plainClient);
    const { payload } = await verifyAccessToken(server, token, apiAudience);
    expect(payload.sub).toBe(plainAccountId);
    expect(payload.org_id).toBe(plainOrgId);
    expect(payload.client_id).toBe(plainClient.clientId);
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload.scope).toBe('charts:read');
    expect(payload.permissions).toEqual({ '*': ['charts:read'] });
    expect(payload).not.toHaveProperty('groups_admin');
  });
});

describe('resource indicators and scope', () => {
  it('resource=<issuer>/api is the default audience', async () => {
    const token = await grant(server, oauthClient, { resource: apiAudience });
    await expectProductToken(token, oauthClient.clientId);
  });

  it('resource=<issuer>/admin gives the admin audience and only management permissions', async () => {
    const token = await grant(server, oauthClient, { resource: adminAudience });
    const { payload } = await verifyAccessToken(server, token, adminAudience);
    expect(payload.aud).toBe(adminAudience);
    expect(payload.sub).toBe(accountId);
    expect(payload.scope).toBe('audit:read service_accounts:read');
    expect(payload.permissions).toEqual({ '*': ['audit:read', 'service_accounts:read'] });
    expect(payload.groups_admin).toBe(true);
    // A token for the admin API is not a token for the product API.
    await expect(verifyAccessToken(server, token, apiAudience)).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'aud',
    });
  });

  it('scope down-scopes to a subset: permissions and scope restricted', async () => {
    const token = await grant(server, oauthClient, { scope: 'items:read people:read' });
    const { payload } = await verifyAccessToken(server, token, apiAudience);
    expect(payload.scope).toBe('items:read people:read');
    expect(payload.permissions).toEqual({
      [locationA]: ['items:read', 'people:read'],
      [locationB]: ['items:read', 'people:read'],
    });
  });

  it('scope down-scopes on the admin audience too', async () => {
    const token = await grant(server, oauthClient, { resource: adminAudience, scope: 'audit:read' });
    const { payload } = await verifyAccessToken(server, token, adminAudience);
    expect(payload.scope).toBe('audit:read');
    expect(payload.permissions).toEqual({ '*': ['audit:read'] });
  });

  it('a held permission of another audience is invalid_scope, never a token with everything', async () => {
    // items:read is held but belongs to the product API: on the admin audience it must not be dropped
    // silently (an empty remainder would otherwise mean "no down-scoping": every management permission).
    const config = await discover(server, oauthClient);
    await expect(
      client.clientCredentialsGrant(config, { resource: adminAudience, scope: 'items:read' }),
    ).rejects.toMatchObject({ error: 'invalid_scope', status: 400 });
    await expect(
      client.clientCredentialsGrant(config, { scope: 'items:read audit:read' }),
    ).rejects.toMatchObject({ error: 'invalid_scope', status: 400 });
  });

  it('asking for a permission the account lacks is invalid_scope (400)', async () => {
    const config = await discover(server, oauthClient);
    await expect(
      client.clientCredentialsGrant(config, { scope: 'items:read items:read_private' }),
    ).rejects.toMatchObject({ error: 'invalid_scope', status: 400 });
    await expect(
      client.clientCredentialsGrant(config, { resource: adminAudience, scope: 'settings:write' }),
    ).rejects.toMatchObject({ error: 'invalid_scope', status: 400 });
  });

  it('asking for a name outside the catalog is invalid_scope (400)', async () => {
    const response = await postToken(server, {
      grant_type: 'client_credentials',
      client_id: oauthClient.clientId,
      client_secret: oauthClient.secret!,
      scope: 'everything:please',
    });
    expect(response.status).toBe(400);
    expect(response.json?.error).toBe('invalid_scope');
  });

  it('an unknown resource is invalid_target (400)', async () => {
    const config = await discover(server, oauthClient);
    await expect(
      client.clientCredentialsGrant(config, { resource: 'https://elsewhere.example/api' }),
    ).rejects.toMatchObject({ error: 'invalid_target', status: 400 });
  });
});

describe('private_key_jwt assertions are single-use', () => {
  async function assertion(audience: string, jti = randomUUID()) {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: jwtClient.kid! })
      .setIssuer(jwtClient.clientId)
      .setSubject(jwtClient.clientId)
      .setAudience(audience)
      .setJti(jti)
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(jwtClient.privateKey!);
  }

  function tokenRequest(clientAssertion: string) {
    return postToken(server, {
      grant_type: 'client_credentials',
      client_id: jwtClient.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: clientAssertion,
    });
  }

  for (const [label, audience] of [
    ['token endpoint', () => `${server.issuer}/token`],
    ['issuer', () => server.issuer],
  ] as const) {
    it(`a replayed assertion (aud = ${label}) is invalid_client (401)`, async () => {
      const jwt = await assertion(audience());
      const first = await tokenRequest(jwt);
      expect(first.status).toBe(200);
      const token = String(first.json?.access_token);
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
        issuer: server.issuer,
        audience: apiAudience,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      });
      expect(payload.sub).toBe(accountId);

      const replay = await tokenRequest(jwt);
      expect(replay.status).toBe(401);
      expect(replay.json?.error).toBe('invalid_client');
    });
  }

  it('a fresh assertion with a new jti still works after a replay was refused', async () => {
    const response = await tokenRequest(await assertion(`${server.issuer}/token`));
    expect(response.status).toBe(200);
  });

  it('an assertion signed by another key is invalid_client (401)', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: jwtClient.kid! })
      .setIssuer(jwtClient.clientId)
      .setSubject(jwtClient.clientId)
      .setAudience(`${server.issuer}/token`)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(privateKey);
    const response = await tokenRequest(forged);
    expect(response.status).toBe(401);
    expect(response.json?.error).toBe('invalid_client');
  });
});
