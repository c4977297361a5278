import { decodeJwt } from 'jose';
import { DEFAULT_PRODUCT_PERMISSIONS } from '../../../config/permissions.ts';
import { RoleRepository } from '../../../src/persistence/repositories/role-repository.ts';
import { ServiceAccountRepository } from '../../../src/persistence/repositories/service-account-repository.ts';
import { bootstrapOrganization } from '../../../src/services/bootstrap-service.ts';
import { SecretHasher } from '../../../src/keys/secret-hasher.ts';
import { documentedResponses } from '../../helpers/openapi-responses.ts';
import { TEST_BCRYPT_COST } from '../../helpers/test-env.ts';
import type { TestServer } from '../../helpers/test-server.ts';

export interface ClientSecretPair {
  clientId: string;
  secret: string;
}

export interface BootstrappedAdmin extends ClientSecretPair {
  orgId: string;
  accountId: string;
  credentialId: string;
}

/**
 * `svcauth bootstrap` for a new organization, then (test setup straight through the repositories) the
 * admin account also gets every product permission org-wide: an admin can only grant what it holds,
 * and the bootstrap admin holds management permissions only.
 */
export async function bootstrapAdmin(server: TestServer, slug: string): Promise<BootstrappedAdmin> {
  const db = server.database.db;
  const result = await bootstrapOrganization(db, new SecretHasher(TEST_BCRYPT_COST), { slug });
  const roles = new RoleRepository(db);
  const productRole = await roles.create(result.org_id, {
    name: 'Everything in the product',
    permissions: DEFAULT_PRODUCT_PERMISSIONS.map((p) => p.name),
  });
  const adminRole = (await roles.findLiveByName(result.org_id, 'API Admin'))!;
  await new ServiceAccountRepository(db).replaceAssignments(result.org_id, result.admin_account_id, {
    locationIds: [],
    roles: [
      { roleId: adminRole.id, restrictedTo: null },
      { roleId: productRole.id, restrictedTo: null },
    ],
  });
  return {
    orgId: result.org_id,
    accountId: result.admin_account_id,
    credentialId: result.credential_id,
    clientId: result.client_id,
    secret: result.client_secret,
  };
}

export interface TokenResponse {
  status: number;
  body: Record<string, unknown>;
}

function basic(username: string, password: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(username)}:${encode(password)}`).toString('base64')}`;
}

/** A raw client-credentials request with HTTP Basic authentication. */
export async function requestToken(
  server: TestServer,
  username: string,
  password: string,
  resource?: string,
): Promise<TokenResponse> {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(username, password),
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      ...(resource ? { resource } : {}),
    }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function tokenOrThrow(server: TestServer, username: string, password: string, resource: string) {
  const response = await requestToken(server, username, password, resource);
  if (response.status !== 200) {
    throw new Error(`token request failed: ${response.status} ${JSON.stringify(response.body)}`);
  }
  return response.body.access_token as string;
}

/** An access token for the management API. */
export function adminToken(server: TestServer, credential: ClientSecretPair): Promise<string> {
  return tokenOrThrow(server, credential.clientId, credential.secret, `${server.issuer}/admin`);
}

/** An access token for the product API, with a client id and secret or (username `api`) an API key. */
export function productToken(server: TestServer, username: string, password: string): Promise<string> {
  return tokenOrThrow(server, username, password, `${server.issuer}/api`);
}

export function claimsOf(token: string) {
  return decodeJwt(token) as {
    permissions: Record<string, string[]>;
    permissions_version: number;
    sub: string;
  };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  // Tests read whatever the API answered; each asserts the fields it cares about.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** Sees every response the management API gives (e.g. to check it against the OpenAPI document). */
export type ResponseCheck = (method: string, path: string, response: ApiResponse) => void;

/** Every admin response a test sees is first checked against the OpenAPI document (issue 18). */
const asDocumented: ResponseCheck = (method, path, response) =>
  documentedResponses().validate(
    method,
    path,
    response.status,
    response.headers.get('content-type'),
    response.body,
  );

/**
 * The management API as one admin sees it; `check` (by default: the response is one the OpenAPI
 * document describes) sees each response before the caller does.
 */
export function adminApi(server: TestServer, token: string, check: ResponseCheck = asDocumented) {
  const call = async (method: string, path: string, body?: unknown): Promise<ApiResponse> => {
    const response = await fetch(`${server.issuer}/admin/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const result = {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : null,
    };
    check(method, `/admin/v1${path.split('?')[0]}`, result);
    return result;
  };
  return {
    get: (path: string) => call('GET', path),
    post: (path: string, body?: unknown) => call('POST', path, body),
    patch: (path: string, body: unknown) => call('PATCH', path, body),
    delete: (path: string) => call('DELETE', path),
  };
}

export type AdminApi = ReturnType<typeof adminApi>;

/** Asserts the status and returns the body, with the response in the message when it differs. */
export function expectStatus(response: ApiResponse, status: number) {
  if (response.status !== status) {
    throw new Error(`expected ${status}, got ${response.status}: ${JSON.stringify(response.body)}`);
  }
  return response.body;
}
