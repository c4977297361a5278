import { expect } from 'vitest';
import { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  type BootstrappedAdmin,
  bootstrapAdmin,
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
}

export async function startDocumentedAdmin(slug: string): Promise<DocumentedAdmin> {
  const server = await startTestServer();
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
    reconnect: async () => {
      result.api = adminApi(server, await adminToken(server, admin), check);
      return result.api;
    },
  };
  return result;
}
