import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSigningKeyFile } from '../../../src/keys/signing-keys.ts';
import { runCli } from '../../helpers/cli.ts';
import { eventually } from '../../helpers/eventually.ts';
import { Fixtures, type TestCredential } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { postToken, readResponse } from '../token/token-helpers.ts';

/**
 * What strict outside clients check (issue 18): each item over HTTP, through openid-client or
 * oauth4webapi where they cover it, with fetch otherwise.
 */

const RESOURCE_SERVER = { name: 'standards-rs', secret: randomBytes(24).toString('base64url') };
const insecure = { [oauth.allowInsecureRequests]: true } as const;

let server: TestServer;
let as: oauth.AuthorizationServer;
let orgId: string;
let accountId: string;
let oauthClient: TestCredential;
let apiKey: TestCredential;
let fixtures: Fixtures;

beforeAll(async () => {
  server = await startTestServer({
    RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
    LOCKOUT_MAX_FAILURES_PER_IP: '100000',
    LOCKOUT_MAX_FAILURES: '10000',
  });
  fixtures = new Fixtures(server.database.db);
  orgId = (await fixtures.organization()).id;
  const role = await fixtures.role(orgId, ['items:read', 'items:write']);
  const account = await fixtures.account(orgId, { allLocations: true, roles: [{ roleId: role.id }] });
  accountId = account.id;
  [oauthClient, apiKey] = await Promise.all([
    fixtures.credential(orgId, account.id, 'oauth_client'),
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

const basic = (name: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(name)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function introspect(token: string) {
  const response = await fetch(`${server.issuer}/introspect`, {
    method: 'POST',
    headers: {
      authorization: basic(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }).toString(),
  });
  return readResponse(response);
}

describe('RFC 6749 5.1: the token response', () => {
  it('carries the granted scope when nothing was requested (it differs from the requested one)', async () => {
    const config = await client.discovery(
      new URL(server.issuer),
      oauthClient.clientId,
      undefined,
      client.ClientSecretBasic(oauthClient.secret!),
      { execute: [client.allowInsecureRequests], algorithm: 'oauth2' },
    );
    const response = await client.clientCredentialsGrant(config);
    expect(response.scope).toBe('items:read items:write');
  });

  it('carries the granted scope when a subset was requested', async () => {
    const response = await oauth.processClientCredentialsResponse(
      as,
      { client_id: oauthClient.clientId },
      await oauth.clientCredentialsGrantRequest(
        as,
        { client_id: oauthClient.clientId },
        oauth.ClientSecretBasic(oauthClient.secret!),
        { scope: 'items:read' },
        insecure,
      ),
    );
    expect(response.scope).toBe('items:read');
  });
});

describe('RFC 6749 5.2 / RFC 9110: refused client authentication at /token', () => {
  it('a request with no client authentication is invalid_client with a challenge', async () => {
    const answer = await postToken(server, { grant_type: 'client_credentials' });
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ error: 'invalid_client' });
    expect(answer.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
  });

  it('a failed client_secret_post gets a 401 with a WWW-Authenticate header', async () => {
    const answer = await postToken(server, {
      grant_type: 'client_credentials',
      client_id: oauthClient.clientId,
      client_secret: `${oauthClient.secret!}x`,
    });
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ error: 'invalid_client' });
    expect(answer.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
  });

  it('a bare client_id gets a 401 with a WWW-Authenticate header', async () => {
    const answer = await postToken(server, {
      grant_type: 'client_credentials',
      client_id: oauthClient.clientId,
    });
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ error: 'invalid_client' });
    expect(answer.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
  });

  it('oauth4webapi reads the refusal of a wrong client_secret_post as invalid_client', async () => {
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      { client_id: oauthClient.clientId },
      oauth.ClientSecretPost(`${oauthClient.secret!}x`),
      {},
      insecure,
    );
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBeTruthy();
    await expect(
      oauth.processClientCredentialsResponse(as, { client_id: oauthClient.clientId }, response),
    ).rejects.toMatchObject({
      // oauth4webapi reports a 401 with a challenge as the challenge it parsed.
      cause: [{ scheme: 'basic', parameters: { error: 'invalid_client' } }],
    });
  });
});

describe('RFC 8414: metadata', () => {
  it('omits empty members (no response_types_supported: [])', async () => {
    const response = await fetch(`${server.issuer}/.well-known/oauth-authorization-server`);
    const metadata = (await response.json()) as Record<string, unknown>;
    for (const [name, value] of Object.entries(metadata)) {
      if (Array.isArray(value)) expect(value.length, name).toBeGreaterThan(0);
    }
    expect(metadata).not.toHaveProperty('response_types_supported');
    expect(as.issuer).toBe(server.issuer);
  });

  it('serves no OpenID discovery document: svcauth is no OpenID Provider', async () => {
    const response = await fetch(`${server.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(404);
    // openid-client's OpenID discovery fails; its OAuth 2.0 discovery works.
    await expect(
      client.discovery(new URL(server.issuer), oauthClient.clientId, undefined, undefined, {
        execute: [client.allowInsecureRequests],
      }),
    ).rejects.toThrow();
  });
});

describe('RFC 7662: introspection of API keys', () => {
  it('uses no made-up token_type; the credential type is a member of its own', async () => {
    const answer = await introspect(apiKey.secret!);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ active: true, svcauth_credential_type: 'api_key', sub: accountId });
    expect(answer.json).not.toHaveProperty('token_type');
    // oauth4webapi accepts the answer.
    const response = await oauth.introspectionRequest(
      as,
      { client_id: RESOURCE_SERVER.name },
      oauth.ClientSecretBasic(RESOURCE_SERVER.secret),
      apiKey.secret!,
      insecure,
    );
    const claims = await oauth.processIntrospectionResponse(
      as,
      { client_id: RESOURCE_SERVER.name },
      response,
    );
    expect(claims.active).toBe(true);
    expect(claims.token_type).toBeUndefined();
    expect(orgId).toBeTruthy();
  });
});

describe('RFC 7009: an API key at /revoke', () => {
  it('a key revoking itself is a kill switch: revoked like the admin API does it, audited, in the feed', async () => {
    const key = await fixtures.credential(orgId, accountId, 'api_key');
    const apiClient: oauth.Client = { client_id: 'api' };
    const tokenRequest = () =>
      oauth.clientCredentialsGrantRequest(as, apiClient, oauth.ClientSecretBasic(key.secret!), {}, insecure);
    expect((await tokenRequest()).status).toBe(200);

    const response = await oauth.revocationRequest(
      as,
      apiClient,
      oauth.ClientSecretBasic(key.secret!),
      key.secret!,
      insecure,
    );
    await oauth.processRevocationResponse(response);

    expect((await tokenRequest()).status).toBe(401);
    expect((await introspect(key.secret!)).json).toEqual({ active: false });
    const credential = await server.database.db
      .selectFrom('credentials')
      .selectAll()
      .where('id', '=', key.id)
      .executeTakeFirstOrThrow();
    expect(credential.revoked_at).not.toBeNull();
    const audit = await server.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('target_id', '=', key.id)
      .where('action', '=', 'credential.revoked')
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ org_id: orgId, actor_credential_id: key.id, outcome: 'success' });
    await eventually(async () => {
      const feed = await fetch(`${server.issuer}/revocations`, {
        headers: {
          authorization: basic(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
          accept: 'application/json',
        },
      });
      expect(JSON.stringify(await feed.json())).toContain(key.clientId);
    });
  });

  it('another credential presenting the key revokes nothing', async () => {
    const key = await fixtures.credential(orgId, accountId, 'api_key');
    const response = await oauth.revocationRequest(
      as,
      { client_id: oauthClient.clientId },
      oauth.ClientSecretBasic(oauthClient.secret!),
      key.secret!,
      insecure,
    );
    await oauth.processRevocationResponse(response);
    expect((await introspect(key.secret!)).json).toMatchObject({ active: true });
  });
});

describe('RFC 9864: Ed25519 client assertions', () => {
  /** A private_key_jwt credential whose registered key is an Ed25519 public key (no alg: either name fits). */
  async function ed25519Client() {
    const credential = await fixtures.credential(orgId, accountId, 'private_key_jwt');
    const pair = await generateKeyPair('Ed25519', { extractable: true });
    const kid = `ed-${credential.id}`;
    await server.database.db
      .updateTable('credentials')
      .set({ jwks: JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid, use: 'sig' }] }) })
      .where('id', '=', credential.id)
      .execute();
    return { clientId: credential.clientId, privateKey: pair.privateKey, kid };
  }

  it('advertises Ed25519 next to EdDSA', () => {
    expect(as.token_endpoint_auth_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['EdDSA', 'Ed25519']),
    );
    expect(as.revocation_endpoint_auth_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['EdDSA', 'Ed25519']),
    );
  });

  it("/token accepts openid-client's own PrivateKeyJwt with an Ed25519 key (alg Ed25519)", async () => {
    const ed = await ed25519Client();
    const config = await client.discovery(
      new URL(server.issuer),
      ed.clientId,
      undefined,
      client.PrivateKeyJwt({ key: ed.privateKey, kid: ed.kid }),
      { execute: [client.allowInsecureRequests], algorithm: 'oauth2' },
    );
    const response = await client.clientCredentialsGrant(config);
    expect(response.access_token).toBeTruthy();
  });

  it("/revoke accepts oauth4webapi's PrivateKeyJwt with an Ed25519 key", async () => {
    const ed = await ed25519Client();
    const edClient: oauth.Client = { client_id: ed.clientId };
    const auth = () => oauth.PrivateKeyJwt({ key: ed.privateKey, kid: ed.kid });
    const token = await oauth.processClientCredentialsResponse(
      as,
      edClient,
      await oauth.clientCredentialsGrantRequest(as, edClient, auth(), {}, insecure),
    );
    const response = await oauth.revocationRequest(as, edClient, auth(), token.access_token, insecure);
    expect(response.status).toBe(200);
    expect((await introspect(token.access_token)).json).toEqual({ active: false });
  });
});

describe('RFC 9068 3 / RFC 8707: a scope without resource', () => {
  async function tokenFor(scope: string) {
    const admin = await fixtures.account(orgId, {
      allLocations: true,
      roles: [{ roleId: (await fixtures.role(orgId, ['items:read', 'audit:read'])).id }],
    });
    const credential = await fixtures.credential(orgId, admin.id, 'oauth_client');
    const oauthClientOf: oauth.Client = { client_id: credential.clientId };
    return oauth.processClientCredentialsResponse(
      as,
      oauthClientOf,
      await oauth.clientCredentialsGrantRequest(
        as,
        oauthClientOf,
        oauth.ClientSecretBasic(credential.secret!),
        { scope },
        insecure,
      ),
    );
  }

  it('that only the management audience carries picks that audience', async () => {
    const response = await tokenFor('audit:read');
    expect(response.scope).toBe('audit:read');
    expect(decodeJwt(response.access_token).aud).toBe(`${server.issuer}/admin`);
  });

  it('that only the product audience carries keeps the default audience', async () => {
    const response = await tokenFor('items:read');
    expect(decodeJwt(response.access_token).aud).toBe(`${server.issuer}/api`);
  });

  it('spanning both audiences is invalid_scope and says to pick a resource', async () => {
    await expect(tokenFor('items:read audit:read')).rejects.toMatchObject({ error: 'invalid_scope' });
  });
});

describe('key rotation against cached key sets', () => {
  // Last in this file: the rotation adds a key to the shared server's set.
  it('by default, a new key signs only after every /jwks cache of the set before it has expired', async () => {
    const jwks = await fetch(`${server.issuer}/jwks`);
    const maxAge = Number(/max-age=(\d+)/.exec(jwks.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    // A resource server fetched the set just now; the operator rotates with the default delay.
    const rotatedAt = Date.now();
    const result = await runCli(['keys', 'rotate'], { ...process.env, KEYS_DIR: server.config.keysDir });
    expect(result.code, result.stderr).toBe(0);
    const keys = readSigningKeyFile(server.config.keysDir)!.keys;
    const added = keys.at(-1)!;
    expect(Date.parse(added.activates_at) - rotatedAt).toBeGreaterThanOrEqual(maxAge * 1000);
  });
});
