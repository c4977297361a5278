import { createRemoteJWKSet, type JWTPayload, type JWTVerifyResult, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import type { TestCredential } from '../../helpers/fixtures.ts';
import type { TestServer } from '../../helpers/test-server.ts';

/** Claims svcauth puts in its access tokens (DESIGN.md, "The access token"). */
export interface AccessTokenClaims extends JWTPayload {
  client_id: string;
  scope?: string;
  org_id: string;
  permissions: Record<string, string[]>;
  permissions_version: number;
  groups_admin?: true;
}

/** Verifies an access token the way a resource server would: remote JWKS, RFC 9068 header, ES256. */
export async function verifyAccessToken(
  server: TestServer,
  token: string,
  audience: string,
): Promise<JWTVerifyResult<AccessTokenClaims>> {
  // A fresh JWKS per call: tests that rotate keys must not be answered from a stale cache.
  const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
  return jwtVerify<AccessTokenClaims>(token, jwks, {
    issuer: server.issuer,
    audience,
    typ: 'at+jwt',
    algorithms: ['ES256'],
  });
}

/** openid-client, configured through discovery, for one credential. */
export async function discover(
  server: TestServer,
  credential: TestCredential,
  method: 'basic' | 'post' | 'private_key_jwt' = 'basic',
): Promise<client.Configuration> {
  const auth =
    method === 'basic'
      ? client.ClientSecretBasic(credential.secret!)
      : method === 'post'
        ? client.ClientSecretPost(credential.secret!)
        : client.PrivateKeyJwt({ key: credential.privateKey!, kid: credential.kid! });
  return client.discovery(new URL(server.issuer), credential.clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
    algorithm: 'oauth2',
  });
}

/** An access token through openid-client's client-credentials grant. */
export async function grant(
  server: TestServer,
  credential: TestCredential,
  parameters: Record<string, string> = {},
  method: 'basic' | 'post' | 'private_key_jwt' = 'basic',
): Promise<string> {
  const config = await discover(server, credential, method);
  const response = await client.clientCredentialsGrant(config, parameters);
  return response.access_token;
}

/**
 * An access token for an API key through oauth4webapi: HTTP Basic with username `api` and the key as
 * password (form-urlencoded per RFC 6749 2.3.1 by the library), grant_type=client_credentials.
 */
export async function grantWithApiKey(
  server: TestServer,
  apiKey: string,
  parameters: Record<string, string> = {},
): Promise<oauth.TokenEndpointResponse> {
  const issuer = new URL(server.issuer);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }),
  );
  const apiClient: oauth.Client = { client_id: 'api' };
  const response = await oauth.clientCredentialsGrantRequest(
    as,
    apiClient,
    oauth.ClientSecretBasic(apiKey),
    parameters,
    { [oauth.allowInsecureRequests]: true },
  );
  return oauth.processClientCredentialsResponse(as, apiClient, response);
}

/** RFC 6749 2.3.1: client id and secret are form-urlencoded, then joined and base64-encoded. */
export function basicAuthorization(username: string, password: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(username)}:${encode(password)}`).toString('base64')}`;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | null;
}

/** A raw token request, for refusals a well-behaved client library would never send. */
export async function postToken(
  server: TestServer,
  body: Record<string, string> | string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
  });
  return readResponse(response);
}

export async function readResponse(response: Response): Promise<RawResponse> {
  const text = await response.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json };
}
