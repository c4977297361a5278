import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base62Checksum, generateApiKey } from '../../../src/domain/credential-format.ts';
import { Fixtures, type TestCredential } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { basicAuthorization, postToken, type RawResponse, readResponse } from './token-helpers.ts';

/**
 * Every refusal of the token endpoint: the RFC 6749 error code and HTTP status, and no difference
 * between "this client does not exist" and "this client cannot authenticate". Reasons a credential
 * may not obtain tokens (unauthorized_client) are only told to a caller that proved the secret.
 */

const GRANT = { grant_type: 'client_credentials' };
/** A well-formed client id that names nothing. */
const UNKNOWN_CLIENT_ID = 'svcc_0000000000000000000000';
const WRONG_SECRET = 'svcs_thisisnotthesecretthisisnotthesecret0000000';

let server: TestServer;
let fixtures: Fixtures;
let orgId: string;
let roleId: string;
let good: TestCredential;
let goodApiKey: TestCredential;
/** The answer to a wrong secret for a client that exists: every 401 below must be this exact body. */
let genericRefusal: RawResponse;

beforeAll(async () => {
  server = await startTestServer();
  fixtures = new Fixtures(server.database.db);
  orgId = (await fixtures.organization()).id;
  roleId = (await fixtures.role(orgId, ['items:read'])).id;
  const account = await activeAccount(orgId);
  [good, goodApiKey] = await Promise.all([
    fixtures.credential(orgId, account, 'oauth_client'),
    fixtures.credential(orgId, account, 'api_key'),
  ]);
  genericRefusal = await basic(good.clientId, WRONG_SECRET);
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

async function activeAccount(inOrg: string, withRole = roleId): Promise<string> {
  return (await fixtures.account(inOrg, { allLocations: true, roles: [{ roleId: withRole }] })).id;
}

function basic(clientId: string, secret: string, extra: Record<string, string> = {}): Promise<RawResponse> {
  return postToken(server, { ...GRANT, ...extra }, { authorization: basicAuthorization(clientId, secret) });
}

function apiKeyRequest(key: string): Promise<RawResponse> {
  return postToken(server, GRANT, { authorization: basicAuthorization('api', key) });
}

function expectInvalidClient(response: RawResponse) {
  expect(response.status).toBe(401);
  expect(response.json?.error).toBe('invalid_client');
  expect(response.headers.get('cache-control')).toMatch(/no-store/);
}

function expectUnauthorizedClient(response: RawResponse) {
  expect(response.status).toBe(400);
  expect(response.json?.error).toBe('unauthorized_client');
  expect(response.json?.error_description).toEqual(expect.any(String));
}

describe('authentication failures: 401 invalid_client, one answer for all', () => {
  it('the right secret works (control)', async () => {
    const response = await basic(good.clientId, good.secret!);
    expect(response.status).toBe(200);
    expect(response.json?.access_token).toEqual(expect.any(String));
  });

  it('wrong secret', () => {
    expectInvalidClient(genericRefusal);
  });

  it('unknown client: the same body as a wrong secret', async () => {
    const response = await basic(UNKNOWN_CLIENT_ID, WRONG_SECRET);
    expectInvalidClient(response);
    expect(response.json).toEqual(genericRefusal.json);
  });

  it('unknown client with client_secret_post: the same body', async () => {
    const post = await postToken(server, {
      ...GRANT,
      client_id: UNKNOWN_CLIENT_ID,
      client_secret: WRONG_SECRET,
    });
    expectInvalidClient(post);
    expect(post.json).toEqual(genericRefusal.json);
    const wrong = await postToken(server, {
      ...GRANT,
      client_id: good.clientId,
      client_secret: WRONG_SECRET,
    });
    expectInvalidClient(wrong);
    expect(wrong.json).toEqual(genericRefusal.json);
  });

  it('API key with a bad checksum', async () => {
    const key = goodApiKey.secret!;
    const last = key.at(-1) === 'A' ? 'B' : 'A';
    const response = await apiKeyRequest(`${key.slice(0, -1)}${last}`);
    expectInvalidClient(response);
    expect(response.json).toEqual(genericRefusal.json);
    // Refused before any lookup, yet indistinguishable by its headers too.
    expect(response.headers.get('www-authenticate')).toBe(genericRefusal.headers.get('www-authenticate'));
  });

  it('API key with a wrong secret but a valid checksum', async () => {
    // Same key id, same shape, checksum recomputed by the format module: only bcrypt can tell.
    const key = goodApiKey.secret!;
    const body = `${key.slice(0, -7)}${key.at(-7) === 'A' ? 'B' : 'A'}`;
    const forged = body + base62Checksum(body);
    expect(forged).not.toBe(key);
    const response = await apiKeyRequest(forged);
    expectInvalidClient(response);
    expect(response.json).toEqual(genericRefusal.json);
  });

  it('unknown API key (valid format, no such key id)', async () => {
    const response = await apiKeyRequest(generateApiKey().key);
    expectInvalidClient(response);
    expect(response.json).toEqual(genericRefusal.json);
  });

  it('revoked credential', async () => {
    const account = await activeAccount(orgId);
    const [client, key] = await Promise.all([
      fixtures.credential(orgId, account, 'oauth_client'),
      fixtures.credential(orgId, account, 'api_key'),
    ]);
    expect((await basic(client.clientId, client.secret!)).status).toBe(200);
    await server.database.db
      .updateTable('credentials')
      .set({ revoked_at: new Date(), revoked_reason: 'test' })
      .where('id', 'in', [client.id, key.id])
      .execute();
    // Written behind the management API's back: announce it as the management services do.
    for (const c of [client, key]) {
      await server.notifier.publish({
        type: 'credential',
        orgId,
        accountId: account,
        credentialId: c.id,
        clientId: c.clientId,
      });
    }
    const response = await basic(client.clientId, client.secret!);
    expectInvalidClient(response);
    expect(response.json).toEqual(genericRefusal.json);
    const viaKey = await apiKeyRequest(key.secret!);
    expectInvalidClient(viaKey);
    expect(viaKey.json).toEqual(genericRefusal.json);
  });

  it('revoked private_key_jwt credential', async () => {
    const account = await activeAccount(orgId);
    const credential = await fixtures.credential(orgId, account, 'private_key_jwt');
    await server.database.db
      .updateTable('credentials')
      .set({ revoked_at: new Date() })
      .where('id', '=', credential.id)
      .execute();
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: credential.kid! })
      .setIssuer(credential.clientId)
      .setSubject(credential.clientId)
      .setAudience(`${server.issuer}/token`)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(credential.privateKey!);
    const response = await postToken(server, {
      ...GRANT,
      client_id: credential.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    expectInvalidClient(response);
    expect(response.json).toEqual(genericRefusal.json);
  });

  it('expired credential', async () => {
    const account = await activeAccount(orgId);
    const client = await fixtures.credential(orgId, account, 'oauth_client', {
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect((await basic(client.clientId, client.secret!)).status).toBe(200);
    // The schema wants expires_at > created_at, so the whole life of the credential moves to the past.
    await server.database.db
      .updateTable('credentials')
      .set({ created_at: new Date(Date.now() - 7_200_000), expires_at: new Date(Date.now() - 60_000) })
      .where('id', '=', client.id)
      .execute();
    await server.notifier.publish({
      type: 'credential',
      orgId,
      accountId: account,
      credentialId: client.id,
      clientId: client.clientId,
    });
    const response = await basic(client.clientId, client.secret!);
    expectInvalidClient(response);
    expect(response.json).toEqual(genericRefusal.json);
  });

  it('archived account', async () => {
    const account = await activeAccount(orgId);
    const client = await fixtures.credential(orgId, account, 'oauth_client');
    await server.database.db
      .updateTable('service_accounts')
      .set({ archived_at: new Date() })
      .where('id', '=', account)
      .execute();
    const response = await basic(client.clientId, client.secret!);
    expectInvalidClient(response);
    expect(response.json).toEqual(genericRefusal.json);
  });

  it('no client authentication at all (RFC 6749 5.2: invalid_client, with a challenge)', async () => {
    const response = await postToken(server, GRANT);
    expect(response.status).toBe(401);
    expect(response.json?.error).toBe('invalid_client');
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
  });
});

describe('malformed Basic header: 400 invalid_request', () => {
  // Documented behaviour: an Authorization header that cannot be read as Basic "<id>:<secret>"
  // (RFC 6749 2.3.1) is a malformed request, 400 invalid_request, answered before any lookup. It says
  // nothing about any client. A well-formed header naming the `api` user with a value that is not an
  // API key is a failed authentication instead (401 invalid_client, below).
  const malformed: Array<[string, () => string]> = [
    ['not base64', () => 'Basic !!!not-base64!!!'],
    ['no colon', () => `Basic ${Buffer.from('justoneword').toString('base64')}`],
    ['empty client id', () => `Basic ${Buffer.from(':secret').toString('base64')}`],
    ['empty secret', () => `Basic ${Buffer.from(`${good.clientId}:`).toString('base64')}`],
    ['nothing after Basic', () => 'Basic '],
    ['not Basic at all', () => 'Bearer abc'],
    ['bad percent-encoding', () => `Basic ${Buffer.from(`${good.clientId}:%E0%A4%A`).toString('base64')}`],
  ];
  for (const [label, header] of malformed) {
    it(label, async () => {
      const response = await postToken(server, GRANT, { authorization: header() });
      expect(response.status).toBe(400);
      expect(response.json?.error).toBe('invalid_request');
    });
  }

  it('the same malformed header gets the same answer for an unknown client', async () => {
    const known = await postToken(server, GRANT, {
      authorization: `Basic ${Buffer.from(`${good.clientId}:%E0%A4%A`).toString('base64')}`,
    });
    const unknown = await postToken(server, GRANT, {
      authorization: `Basic ${Buffer.from(`${UNKNOWN_CLIENT_ID}:%E0%A4%A`).toString('base64')}`,
    });
    expect(unknown.status).toBe(known.status);
    expect(unknown.json).toEqual(known.json);
  });
});

describe('the api user with something that is not an API key: 401 invalid_client', () => {
  it('the api user with a value that is not an API key is invalid_client (401)', async () => {
    const response = await apiKeyRequest('not-a-key');
    expectInvalidClient(response);
    expect(response.json).toEqual(genericRefusal.json);
  });

  it('the api user with an empty key is invalid_client (401)', async () => {
    const response = await apiKeyRequest('');
    expectInvalidClient(response);
  });
});

describe('credentials that authenticate but may not obtain tokens: 400 unauthorized_client', () => {
  /** The refusal must only be told to the holder of the secret: a wrong secret stays the generic 401. */
  async function expectRefusedOnlyWithSecret(client: TestCredential, viaApiKey = false) {
    const right = viaApiKey
      ? await apiKeyRequest(client.secret!)
      : await basic(client.clientId, client.secret!);
    expectUnauthorizedClient(right);
    const wrong = viaApiKey
      ? await apiKeyRequest(`${client.secret!.slice(0, -1)}${client.secret!.endsWith('A') ? 'B' : 'A'}`)
      : await basic(client.clientId, WRONG_SECRET);
    expectInvalidClient(wrong);
    expect(wrong.json).toEqual(genericRefusal.json);
    return right;
  }

  it('disabled account (no roles)', async () => {
    const account = (await fixtures.account(orgId, { allLocations: true })).id;
    const [client, key] = await Promise.all([
      fixtures.credential(orgId, account, 'oauth_client'),
      fixtures.credential(orgId, account, 'api_key'),
    ]);
    const right = await expectRefusedOnlyWithSecret(client);
    expect(String(right.json?.error_description)).toMatch(/disabled|no roles/);
    await expectRefusedOnlyWithSecret(key, true);
  });

  it('organization with the API turned off', async () => {
    const org = await fixtures.organization({ api_enabled: false });
    const role = await fixtures.role(org.id, ['items:read']);
    const account = await activeAccount(org.id, role.id);
    const [client, key] = await Promise.all([
      fixtures.credential(org.id, account, 'oauth_client'),
      fixtures.credential(org.id, account, 'api_key'),
    ]);
    const right = await expectRefusedOnlyWithSecret(client);
    expect(String(right.json?.error_description)).toMatch(/API/);
    await expectRefusedOnlyWithSecret(key, true);
  });

  it('the API switch does not lock admins out of the management API (so they can turn it back on)', async () => {
    const org = await fixtures.organization({ api_enabled: false });
    const role = await fixtures.role(org.id, ['settings:write', 'items:read']);
    const account = await activeAccount(org.id, role.id);
    const client = await fixtures.credential(org.id, account, 'oauth_client');
    const admin = await basic(client.clientId, client.secret!, { resource: `${server.issuer}/admin` });
    expect(admin.status).toBe(200);
    const product = await basic(client.clientId, client.secret!, { resource: `${server.issuer}/api` });
    expectUnauthorizedClient(product);
  });

  it("credential type not allowed by the organization's settings", async () => {
    const org = await fixtures.organization({ allowed_credential_types: ['private_key_jwt'] });
    const role = await fixtures.role(org.id, ['items:read']);
    const account = await activeAccount(org.id, role.id);
    const [client, key] = await Promise.all([
      fixtures.credential(org.id, account, 'oauth_client'),
      fixtures.credential(org.id, account, 'api_key'),
    ]);
    const right = await expectRefusedOnlyWithSecret(client);
    expect(String(right.json?.error_description)).toMatch(/oauth_client/);
    const viaKey = await expectRefusedOnlyWithSecret(key, true);
    expect(String(viaKey.json?.error_description)).toMatch(/api_key/);
  });

  it('an allowed type in the same organization still works (control)', async () => {
    const org = await fixtures.organization({ allowed_credential_types: ['api_key'] });
    const role = await fixtures.role(org.id, ['items:read']);
    const account = await activeAccount(org.id, role.id);
    const key = await fixtures.credential(org.id, account, 'api_key');
    expect((await apiKeyRequest(key.secret!)).status).toBe(200);
  });
});

describe('request-level refusals', () => {
  it('unsupported grant type: 400 unsupported_grant_type', async () => {
    for (const grantType of ['password', 'authorization_code', 'refresh_token', 'urn:example:nonsense']) {
      const response = await postToken(
        server,
        { grant_type: grantType },
        { authorization: basicAuthorization(good.clientId, good.secret!) },
      );
      expect(response.status, grantType).toBe(400);
      expect(response.json?.error, grantType).toBe('unsupported_grant_type');
    }
  });

  it('missing grant type: 400 invalid_request', async () => {
    const response = await postToken(
      server,
      {},
      { authorization: basicAuthorization(good.clientId, good.secret!) },
    );
    expect(response.status).toBe(400);
    expect(response.json?.error).toBe('invalid_request');
  });

  it('oversized body (Content-Length over 16 KiB): 413 invalid_request', async () => {
    const body = new URLSearchParams({ ...GRANT, scope: 'items:read '.repeat(2000) }).toString();
    expect(Buffer.byteLength(body)).toBeGreaterThan(16 * 1024);
    const response = await postToken(server, body, {
      authorization: basicAuthorization(good.clientId, good.secret!),
      'content-length': String(Buffer.byteLength(body)),
    });
    expect(response.status).toBe(413);
    expect(response.json?.error).toBe('invalid_request');
  });

  it('GET /token: 405 with Allow: POST', async () => {
    const response = await readResponse(await fetch(`${server.issuer}/token`));
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(response.json?.error).toBe('invalid_request');
  });

  it('a body that is not form-urlencoded is refused', async () => {
    const response = await postToken(server, JSON.stringify(GRANT), {
      'content-type': 'application/json',
      authorization: basicAuthorization(good.clientId, good.secret!),
    });
    expect(response.status).toBe(400);
    expect(response.json?.error).toBe('invalid_request');
  });
});
