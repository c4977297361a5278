import { DPOP_ALGORITHMS } from '../../../src/resource-server/dpop.ts';
/** The koa middleware and the node:http helper answer refusals per RFC 6750. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createVerifier,
  koaMiddleware,
  nodeHttpAuthenticate,
  type Principal,
  type Verifier,
} from '../../../src/resource-server/index.ts';
import {
  accessToken,
  type LocalIssuer,
  type SigningKey,
  signingKey,
  startLocalIssuer,
} from './local-issuer.ts';

let local: LocalIssuer;
let key: SigningKey;
let verifier: Verifier;
const servers: http.Server[] = [];
const urls: Record<'koa' | 'node', string> = { koa: '', node: '' };

async function listen(server: http.Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  key = await signingKey();
  local = await startLocalIssuer([key]);
  verifier = createVerifier({ issuer: local.issuer, audience: local.audience, revocation: { mode: 'none' } });

  const app = new Koa();
  app.use(koaMiddleware(verifier, { required: ['items:read'], realm: 'items' }));
  app.use((ctx) => {
    const principal = ctx.state.principal as Principal;
    ctx.body = { account: principal.serviceAccountId };
  });
  urls.koa = await listen(http.createServer(app.callback()));

  urls.node = await listen(
    http.createServer(async (req, res) => {
      const principal = await nodeHttpAuthenticate(verifier, req, res, {
        required: ['items:read'],
        realm: 'items',
      });
      if (!principal) return;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ account: principal.serviceAccountId }));
    }),
  );
});

afterAll(async () => {
  await verifier.close();
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await local.close();
});

async function call(url: string, authorization?: string) {
  const response = await fetch(url, { headers: authorization ? { authorization } : {} });
  return {
    status: response.status,
    challenges: response.headers.get('www-authenticate') ?? '',
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe.each(['koa', 'node'] as const)('%s adapter', (adapter) => {
  it('lets a valid token through with its principal', async () => {
    const response = await call(urls[adapter], `Bearer ${await accessToken(local, key)}`);
    expect(response).toMatchObject({ status: 200, body: { account: 'account-1' } });
  });

  it('answers a request without credentials with bare challenges (no error code)', async () => {
    const response = await call(urls[adapter]);
    expect(response.status).toBe(401);
    expect(response.challenges).toBe(
      `Bearer realm="items", DPoP realm="items", algs="${DPOP_ALGORITHMS.join(' ')}", Basic realm="items", charset="UTF-8"`,
    );
  });

  it('answers a bad token with 401 invalid_token and a description', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await accessToken(local, key, { claims: { iat: now - 600, exp: now - 300 } });
    const response = await call(urls[adapter], `Bearer ${expired}`);
    expect(response.status).toBe(401);
    expect(response.challenges).toBe(
      `Bearer realm="items", error="invalid_token", error_description="the token has expired", DPoP realm="items", algs="${DPOP_ALGORITHMS.join(' ')}"`,
    );
    expect(response.body).toEqual({ error: 'invalid_token', error_description: 'the token has expired' });
  });

  it('answers a token without the required permission with 403 insufficient_scope', async () => {
    const token = await accessToken(local, key, {
      claims: { permissions: { 'location-a': ['people:read'] } },
    });
    const response = await call(urls[adapter], `Bearer ${token}`);
    expect(response.status).toBe(403);
    expect(response.challenges).toMatch(
      /^Bearer realm="items", error="insufficient_scope", error_description="[^"]+"/,
    );
    expect(response.challenges).toContain('scope="items:read"');
    expect(response.body.error).toBe('insufficient_scope');
  });

  it('adds the Basic challenge when an API key was refused', async () => {
    const response = await call(
      urls[adapter],
      `Basic ${Buffer.from('api:not-a-real-key').toString('base64')}`,
    );
    expect(response.status).toBe(401);
    expect(response.challenges).toMatch(
      /^Bearer realm="items", error="invalid_token", error_description="[^"]+"/,
    );
    expect(response.challenges).toContain('Basic realm="items"');
  });

  it('answers no credentials without an error code in the body (RFC 6750 3.1)', async () => {
    const response = await call(urls[adapter]);
    expect(response.body).not.toHaveProperty('error');
  });

  it('answers a malformed Authorization header with 400 invalid_request (RFC 6750 3.1)', async () => {
    for (const header of ['Bearer a b c', 'Bearer', 'Basic !!!']) {
      const response = await call(urls[adapter], header);
      expect(response.status, header).toBe(400);
      expect(response.body.error, header).toBe('invalid_request');
    }
  });

  it('answers two Authorization headers with 400 invalid_request', async () => {
    const token = await accessToken(local, key);
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(urls[adapter], { method: 'GET' }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += String(chunk)));
        response.on('end', () => resolve({ status: response.statusCode!, body }));
      });
      request.setHeader('authorization', [`Bearer ${token}`, `Bearer ${token}`]);
      request.on('error', reject);
      request.end();
    });
    expect(status.status).toBe(400);
    expect(JSON.parse(status.body)).toMatchObject({ error: 'invalid_request' });
  });

  it('answers a token in both the header and the query with 400 invalid_request', async () => {
    const token = await accessToken(local, key);
    const response = await call(`${urls[adapter]}/?access_token=${token}`, `Bearer ${token}`);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
  });

  it('refuses Basic credentials with another username, and unknown schemes', async () => {
    const basic = await call(urls[adapter], `Basic ${Buffer.from('svcc_x:secret').toString('base64')}`);
    expect(basic.status).toBe(401);
    expect(basic.body.error_description).toMatch(/username "api"/);
    const digest = await call(urls[adapter], 'Digest username="x"');
    expect(digest.status).toBe(401);
    expect(digest.challenges).toMatch(/error="invalid_token"/);
  });
});
