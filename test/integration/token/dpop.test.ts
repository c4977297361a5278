import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, nodeHttpAuthenticate, type Verifier } from '../../../src/resource-server/index.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { type BootstrappedAdmin, bootstrapAdmin } from '../admin/admin-helpers.ts';

/**
 * Issue 13, item 17: DPoP (RFC 9449) end to end. oidc-provider binds a token to the key of the DPoP
 * proof sent to /token (token_type DPoP, cnf.jkt); every place that accepts the token must then ask
 * for a proof of that key, or a stolen bound token is as good as a Bearer one.
 */

const RESOURCE_SERVER = { name: 'dpop-rs', secret: 'svcrs_dpop-test-secret-00000000000000000' };
const RESOURCE_SERVERS = `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`;
const options = { [oauth.allowInsecureRequests]: true };

describe('DPoP-bound access tokens', () => {
  let server: TestServer;
  let admin: BootstrappedAdmin;
  let as: oauth.AuthorizationServer;
  let client: oauth.Client;
  let keyPair: oauth.CryptoKeyPair;
  let kit: { verifier: Verifier; url: string; close(): Promise<void> };

  async function boundToken(resource: string, pair = keyPair): Promise<string> {
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(admin.secret),
      new URLSearchParams({ resource }),
      { ...options, DPoP: oauth.DPoP(client, pair) },
    );
    const result = await oauth.processClientCredentialsResponse(as, client, response);
    expect(result.token_type).toBe('dpop');
    return result.access_token;
  }

  beforeAll(async () => {
    server = await startTestServer({ RESOURCE_SERVERS });
    admin = await bootstrapAdmin(server, 'dpop-org');
    as = await oauth.processDiscoveryResponse(
      new URL(server.issuer),
      await oauth.discoveryRequest(new URL(server.issuer), { ...options, algorithm: 'oauth2' }),
    );
    client = { client_id: admin.clientId };
    keyPair = await oauth.generateKeyPair('ES256');

    const verifier = createVerifier({
      issuer: server.issuer,
      audience: `${server.issuer}/api`,
      revocation: { mode: 'none' },
    });
    await verifier.ready();
    const api = http.createServer(async (req, res) => {
      const principal = await nodeHttpAuthenticate(verifier, req, res);
      if (!principal) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sub: principal.serviceAccountId }));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    kit = {
      verifier,
      url: `http://127.0.0.1:${(api.address() as AddressInfo).port}/items`,
      close: async () => {
        await verifier.close();
        await new Promise((resolve) => api.close(resolve));
      },
    };
  });

  afterAll(async () => {
    await kit?.close();
    await server?.stop();
  });

  it('are advertised in the metadata', () => {
    expect(as.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
  });

  it('are reported as DPoP with their key thumbprint by /introspect', async () => {
    const token = await boundToken(`${server.issuer}/api`);
    const jkt = (decodeJwt(token).cnf as { jkt: string }).jkt;
    expect(jkt).toEqual(expect.any(String));
    const response = await fetch(`${server.issuer}/introspect`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${RESOURCE_SERVER.name}:${RESOURCE_SERVER.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(await response.json()).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });
  });

  describe('at the management API', () => {
    it('are refused as Bearer tokens, with a DPoP challenge', async () => {
      const token = await boundToken(`${server.issuer}/admin`);
      const response = await fetch(`${server.issuer}/admin/v1/roles`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^DPoP /);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });

    it('are refused with the DPoP scheme but no proof, or a proof of another key', async () => {
      const token = await boundToken(`${server.issuer}/admin`);
      const url = new URL(`${server.issuer}/admin/v1/roles`);
      const bare = await fetch(url, { headers: { authorization: `DPoP ${token}` } });
      expect(bare.status).toBe(401);
      expect(await dpopRequest(token, 'GET', url, await oauth.generateKeyPair('ES256'))).toBe(401);
    });

    it('are accepted with a proof of their key, once per proof', async () => {
      const token = await boundToken(`${server.issuer}/admin`);
      const url = new URL(`${server.issuer}/admin/v1/roles`);
      expect(await dpopRequest(token, 'GET', url)).toBe(200);

      // The same proof again is a replay; a proof for another URL or method does not fit this request.
      const proof = await proofFor(token, 'GET', url);
      const first = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
      expect(first.status).toBe(200);
      const replay = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
      expect(replay.status).toBe(401);
      const elsewhere = await fetch(`${server.issuer}/admin/v1/locations`, {
        headers: { authorization: `DPoP ${token}`, dpop: await proofFor(token, 'GET', url) },
      });
      expect(elsewhere.status).toBe(401);
      const otherMethod = await fetch(url, {
        headers: { authorization: `DPoP ${token}`, dpop: await proofFor(token, 'POST', url) },
      });
      expect(otherMethod.status).toBe(401);
    });
  });

  describe('at a resource server using the kit', () => {
    it('are refused as Bearer tokens, with a DPoP challenge', async () => {
      const token = await boundToken(`${server.issuer}/api`);
      const response = await fetch(kit.url, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/DPoP /);
    });

    it('are accepted with a proof of their key, and refused with a replayed or foreign one', async () => {
      const token = await boundToken(`${server.issuer}/api`);
      const url = new URL(kit.url);
      expect(await dpopRequest(token, 'GET', url)).toBe(200);
      const proof = await proofFor(token, 'GET', url);
      expect((await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } })).status).toBe(
        200,
      );
      expect((await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } })).status).toBe(
        401,
      );
      expect(await dpopRequest(token, 'GET', url, await oauth.generateKeyPair('ES256'))).toBe(401);
    });
  });

  /** A request with a DPoP proof made by oauth4webapi; its status (a 401 challenge included). */
  async function dpopRequest(token: string, method: string, url: URL, pair = keyPair): Promise<number> {
    try {
      const response = await oauth.protectedResourceRequest(token, method, url, new Headers(), null, {
        ...options,
        DPoP: oauth.DPoP(client, pair),
      });
      return response.status;
    } catch (error) {
      if (error instanceof oauth.WWWAuthenticateChallengeError) return error.response.status;
      throw error;
    }
  }

  /** One DPoP proof for a request, made by oauth4webapi, captured from the request it would send. */
  async function proofFor(token: string, method: string, url: URL): Promise<string> {
    let captured = '';
    await oauth.protectedResourceRequest(token, method, url, new Headers(), null, {
      ...options,
      DPoP: oauth.DPoP(client, keyPair),
      [oauth.customFetch]: async (_input, init) => {
        captured = new Headers(init?.headers).get('dpop') ?? '';
        return new Response(null, { status: 204 });
      },
    });
    return captured;
  }
});
