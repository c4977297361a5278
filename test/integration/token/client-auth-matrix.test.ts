import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../../src/domain/credential-format.ts';
import { Fixtures, type TestCredential } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

/**
 * Every client authentication method x every endpoint that authenticates clients, through
 * oauth4webapi: /token and /revoke take the same methods under one policy (client-authentication.ts),
 * so each method either works at both or at neither. /introspect authenticates resource servers only
 * (RESOURCE_SERVERS); tenants' credentials are refused there whatever the method.
 */

const RESOURCE_SERVER = { name: 'matrix-rs', secret: randomBytes(24).toString('base64url') };
const insecure = { [oauth.allowInsecureRequests]: true } as const;

let server: TestServer;
let as: oauth.AuthorizationServer;
let oauthClient: TestCredential;
let jwtClient: TestCredential;
let apiKey: TestCredential;

beforeAll(async () => {
  server = await startTestServer({
    RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
    // Every refusal here comes from 127.0.0.1; the per-IP limit is not what this file is about.
    LOCKOUT_MAX_FAILURES_PER_IP: '100000',
  });
  const fixtures = new Fixtures(server.database.db);
  const orgId = (await fixtures.organization()).id;
  const role = await fixtures.role(orgId, ['items:read']);
  const account = await fixtures.account(orgId, { allLocations: true, roles: [{ roleId: role.id }] });
  [oauthClient, jwtClient, apiKey] = await Promise.all([
    fixtures.credential(orgId, account.id, 'oauth_client'),
    fixtures.credential(orgId, account.id, 'private_key_jwt'),
    fixtures.credential(orgId, account.id, 'api_key'),
  ]);
  const issuer = new URL(server.issuer);
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
  );
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

/** How one method presents a client, rightly or wrongly. */
interface Method {
  name: string;
  client: () => oauth.Client;
  auth: () => oauth.ClientAuth;
  /** The same method with a proof that does not match the credential. */
  wrongAuth: () => Promise<oauth.ClientAuth>;
}

const methods: Method[] = [
  {
    name: 'client_secret_basic',
    client: () => ({ client_id: oauthClient.clientId }),
    auth: () => oauth.ClientSecretBasic(oauthClient.secret!),
    wrongAuth: async () => oauth.ClientSecretBasic(`${oauthClient.secret!}x`),
  },
  {
    name: 'client_secret_post',
    client: () => ({ client_id: oauthClient.clientId }),
    auth: () => oauth.ClientSecretPost(oauthClient.secret!),
    wrongAuth: async () => oauth.ClientSecretPost(`${oauthClient.secret!}x`),
  },
  {
    name: 'private_key_jwt',
    client: () => ({ client_id: jwtClient.clientId }),
    auth: () => oauth.PrivateKeyJwt({ key: jwtClient.privateKey!, kid: jwtClient.kid! }),
    // Signed by a key the credential never registered, under the registered key's id.
    wrongAuth: async () =>
      oauth.PrivateKeyJwt({ key: (await generateKeyPair('ES256')).privateKey, kid: jwtClient.kid! }),
  },
  {
    name: 'API key as HTTP Basic api:<key>',
    client: () => ({ client_id: 'api' }),
    auth: () => oauth.ClientSecretBasic(apiKey.secret!),
    // A well-formed key (valid checksum) that was never issued.
    wrongAuth: async () => oauth.ClientSecretBasic(generateApiKey().key),
  },
];

async function accessToken(method: Method): Promise<string> {
  const response = await oauth.clientCredentialsGrantRequest(
    as,
    method.client(),
    method.auth(),
    new URLSearchParams(),
    insecure,
  );
  return (await oauth.processClientCredentialsResponse(as, method.client(), response)).access_token;
}

async function introspect(token: string): Promise<Record<string, unknown>> {
  const rs: oauth.Client = { client_id: RESOURCE_SERVER.name };
  const response = await oauth.introspectionRequest(
    as,
    rs,
    oauth.ClientSecretBasic(RESOURCE_SERVER.secret),
    token,
    insecure,
  );
  return await oauth.processIntrospectionResponse(as, rs, response);
}

async function expectInvalidClient(response: Response): Promise<void> {
  expect(response.status).toBe(401);
  expect(await response.json()).toMatchObject({ error: 'invalid_client' });
}

describe.each(methods)('$name', (method) => {
  it('/token: the right proof obtains an access token', async () => {
    const token = await accessToken(method);
    expect(await introspect(token)).toMatchObject({ active: true, client_id: expect.any(String) });
  });

  it('/token: a wrong proof is invalid_client (401)', async () => {
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      method.client(),
      await method.wrongAuth(),
      new URLSearchParams(),
      insecure,
    );
    await expectInvalidClient(response);
  });

  it('/revoke: the right proof revokes the client’s own token (200), and it is inactive from then on', async () => {
    const token = await accessToken(method);
    const response = await oauth.revocationRequest(as, method.client(), method.auth(), token, insecure);
    await oauth.processRevocationResponse(response);
    expect(response.status).toBe(200);
    expect(await introspect(token)).toEqual({ active: false });
  });

  it('/revoke: a wrong proof is invalid_client (401) and revokes nothing', async () => {
    const token = await accessToken(method);
    const response = await oauth.revocationRequest(
      as,
      method.client(),
      await method.wrongAuth(),
      token,
      insecure,
    );
    await expectInvalidClient(response);
    expect(await introspect(token)).toMatchObject({ active: true });
  });

  it('/introspect: a tenant credential is refused (401) even with the right proof', async () => {
    const token = await accessToken(method);
    const response = await oauth.introspectionRequest(as, method.client(), method.auth(), token, insecure);
    await expectInvalidClient(response);
  });
});

describe('a credential presenting another type’s method is refused at /token and /revoke alike', () => {
  const mismatches: Array<[string, () => oauth.Client, () => oauth.ClientAuth]> = [
    [
      'a client_secret credential sending a client assertion',
      () => ({ client_id: oauthClient.clientId }),
      () => oauth.PrivateKeyJwt({ key: jwtClient.privateKey!, kid: jwtClient.kid! }),
    ],
    [
      'a private_key_jwt credential sending a client secret',
      () => ({ client_id: jwtClient.clientId }),
      () => oauth.ClientSecretBasic(oauthClient.secret!),
    ],
  ];
  for (const [label, client, auth] of mismatches) {
    it(`${label}: 401 invalid_client at /token`, async () => {
      await expectInvalidClient(
        await oauth.clientCredentialsGrantRequest(as, client(), auth(), new URLSearchParams(), insecure),
      );
    });

    it(`${label}: 401 invalid_client at /revoke`, async () => {
      await expectInvalidClient(await oauth.revocationRequest(as, client(), auth(), 'not-a-token', insecure));
    });
  }
});

describe('/introspect: the resource server method', () => {
  it('the listed name and secret over HTTP Basic introspect; a wrong secret is invalid_client (401)', async () => {
    const token = await accessToken(methods[0]!);
    expect(await introspect(token)).toMatchObject({ active: true });
    const rs: oauth.Client = { client_id: RESOURCE_SERVER.name };
    await expectInvalidClient(
      await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic('wrong'), token, insecure),
    );
  });
});

describe('the discovery document names what the endpoints accept', () => {
  it('the same methods and algorithms for /token and /revoke', () => {
    expect(as.token_endpoint_auth_methods_supported).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
    ]);
    expect(as.revocation_endpoint_auth_methods_supported).toEqual(as.token_endpoint_auth_methods_supported);
    expect(as.revocation_endpoint_auth_signing_alg_values_supported).toEqual(
      as.token_endpoint_auth_signing_alg_values_supported,
    );
    expect(as.introspection_endpoint_auth_methods_supported).toEqual(['client_secret_basic']);
  });
});

describe('malformed client authentication is answered alike at /token and /revoke', () => {
  it('private_key_jwt whose client_id differs from the assertion’s sub: 400 invalid_request at both', async () => {
    const sign = () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: jwtClient.kid! })
        .setIssuer(jwtClient.clientId)
        .setSubject(jwtClient.clientId)
        .setAudience(server.issuer)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('60s')
        .sign(jwtClient.privateKey!);
    const params = async () => ({
      client_id: oauthClient.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await sign(),
    });
    for (const [path, extra] of [
      ['/token', { grant_type: 'client_credentials' }],
      ['/revoke', { token: 'not-a-token' }],
    ] as const) {
      const response = await fetch(`${server.issuer}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...extra, ...(await params()) }).toString(),
      });
      expect({ path, status: response.status }).toEqual({ path, status: 400 });
      expect(await response.json()).toMatchObject({ error: 'invalid_request' });
    }
  });
});
