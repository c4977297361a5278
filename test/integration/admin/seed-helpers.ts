import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  type BootstrappedAdmin,
  bootstrapAdmin,
  expectStatus,
  type ResponseCheck,
} from './admin-helpers.ts';

/** A server, a bootstrapped admin, and its management API whose every answer is checked against the
 * OpenAPI document the server serves. */
export interface DocumentedAdmin {
  server: TestServer;
  admin: BootstrappedAdmin;
  api: AdminApi;
  documented: OpenApiResponseValidator;
  /** A fresh admin token (e.g. after a change made the previous one stale). */
  reconnect(): Promise<AdminApi>;
  check: ResponseCheck;
  /** POST /introspect as a resource server (RESOURCE_SERVERS names it): the parsed answer. */
  introspect(token: string): Promise<Record<string, unknown>>;
  /** HTTP Basic of the resource server, for the revocation feed and the kit. */
  resourceServer: { name: string; secret: string };
}

export async function startDocumentedAdmin(
  slug: string,
  env: Record<string, string> = {},
): Promise<DocumentedAdmin> {
  const resourceServer = { name: 'seeds-rs', secret: randomBytes(24).toString('base64url') };
  const server = await startTestServer({
    RESOURCE_SERVERS: `${resourceServer.name}:${createHash('sha256').update(resourceServer.secret).digest('hex')}`,
    ...env,
  });
  const served = await fetch(`${server.issuer}/admin/v1/openapi.json`);
  expect(served.status).toBe(200);
  const documented = new OpenApiResponseValidator(await served.json());
  const check: ResponseCheck = (method, path, response) =>
    documented.validate(method, path, response.status, response.headers.get('content-type'), response.body);
  const admin = await bootstrapAdmin(server, slug);
  const result: DocumentedAdmin = {
    server,
    admin,
    documented,
    check,
    api: adminApi(server, await adminToken(server, admin), check),
    resourceServer,
    introspect: async (token) => {
      const response = await fetch(`${server.issuer}/introspect`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${resourceServer.name}:${resourceServer.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }).toString(),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, unknown>;
    },
    reconnect: async () => {
      result.api = adminApi(server, await adminToken(server, admin), check);
      return result.api;
    },
  };
  return result;
}

/**
 * Through the management API: a role reading items, and an account named `name` on every location
 * holding it. Returns the account's path, e.g. for its credentials.
 */
export async function createReaderAccount(api: AdminApi, name: string): Promise<string> {
  const role = expectStatus(await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201);
  const account = expectStatus(
    await api.post('/service-accounts', { name, all_locations: true, roles: [{ role_id: role.id }] }),
    201,
  );
  return `/service-accounts/${account.id}`;
}
