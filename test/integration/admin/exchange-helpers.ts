import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import * as client from 'openid-client';
import type { TestServer } from '../../helpers/test-server.ts';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const PRODUCT_ISSUER = 'https://product.example';

/** A signing key of the product, made in the test: the private half signs, the public half is published. */
export interface ProductKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function productKey(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<ProductKey> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const kid = `product-${randomUUID()}`;
  return {
    kid,
    privateKey: pair.privateKey,
    jwk: { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' },
  };
}

/** The product's JWKS endpoint: a real HTTP server whose key set a test can rotate. */
export async function jwksServer(keys: ProductKey[]) {
  const published = { keys: keys.map((k) => k.jwk) };
  let fetches = 0;
  const server = http.createServer((_req, res) => {
    fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(published));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    publish: (key: ProductKey) => published.keys.push(key.jwk),
    get fetches() {
      return fetches;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface PersonClaims {
  sub?: string;
  tenant_id?: string;
  name?: string;
  email?: string;
  permissions?: string[];
  service_accounts_level?: string;
  groups_admin?: boolean;
  grantable_roles?: string[];
  [claim: string]: unknown;
}

/** What the product signs for its logged-in admin: who, which tenant, what they may administer. */
export async function subjectToken(
  key: ProductKey,
  claims: PersonClaims,
  options: {
    issuer?: string;
    audience?: string;
    lifetimeSeconds?: number;
    issuedAt?: number;
    jti?: string | null;
    alg?: string;
  } = {},
  audienceDefault?: string,
): Promise<string> {
  const now = options.issuedAt ?? Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ sub: 'person-1', name: 'Ada Admin', ...claims })
    .setProtectedHeader({ alg: options.alg ?? key.jwk.alg!, kid: key.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? PRODUCT_ISSUER)
    .setAudience(options.audience ?? audienceDefault ?? '')
    .setIssuedAt(now)
    .setExpirationTime(now + (options.lifetimeSeconds ?? 60));
  if (options.jti !== null) jwt.setJti(options.jti ?? randomUUID());
  return jwt.sign(key.privateKey);
}

/** openid-client configured for the delegating client (client_secret_basic), by RFC 8414 discovery. */
export function delegatingClient(server: TestServer, clientId: string, secret: string) {
  return client.discovery(new URL(server.issuer), clientId, undefined, client.ClientSecretBasic(secret), {
    execute: [client.allowInsecureRequests],
    algorithm: 'oauth2',
  });
}

/** RFC 8693 through openid-client's generic grant support. */
export function exchange(
  config: client.Configuration,
  token: string,
  extra: Record<string, string> = {},
): ReturnType<typeof client.genericGrantRequest> {
  return client.genericGrantRequest(config, TOKEN_EXCHANGE, {
    subject_token: token,
    subject_token_type: JWT_TYPE,
    ...extra,
  });
}

export function basic(name: string, secret: string): string {
  return `Basic ${Buffer.from(`${name}:${secret}`).toString('base64')}`;
}
