import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  bootstrapAdmin,
  expectStatus,
  type ResponseCheck,
} from './admin-helpers.ts';

type Document = { paths: Record<string, Record<string, { operationId?: string; responses: object }>> };

/**
 * Every operation of /admin/v1 once, each success checked against the schema the served document
 * gives it: a response shape that drifts from the document, or an operation added without a success
 * exercised here, fails this file. (Every other admin test checks its responses too, through
 * adminApi; this walk is the one that guarantees none is left out.)
 */
describe('the admin API answers as its OpenAPI document says, operation by operation', () => {
  let server: TestServer;
  let api: AdminApi;
  let document: Document;
  let documented: OpenApiResponseValidator;

  beforeAll(async () => {
    server = await startTestServer();
    const served = await fetch(`${server.issuer}/admin/v1/openapi.json`);
    expect(served.status).toBe(200);
    document = (await served.json()) as Document;
    documented = new OpenApiResponseValidator(document);
    const asDocumented: ResponseCheck = (method, path, response) =>
      documented.validate(method, path, response.status, response.headers.get('content-type'), response.body);
    api = adminApi(server, await adminToken(server, await bootstrapAdmin(server, 'walk')), asDocumented);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('exercises a documented success of every admin operation', async () => {
    expectStatus(await api.get('/settings'), 200);
    expectStatus(await api.patch('/settings', { access_token_ttl_seconds: 600 }), 200);

    const paris = expectStatus(await api.post('/locations', { name: 'Paris' }), 201);
    const lyon = expectStatus(await api.post('/locations', { name: 'Lyon' }), 201);
    expectStatus(await api.get('/locations'), 200);
    expectStatus(await api.get(`/locations/${paris.id}`), 200);
    expectStatus(await api.patch(`/locations/${paris.id}`, { name: 'Paris HQ' }), 200);
    expectStatus(await api.delete(`/locations/${lyon.id}`), 204);

    const reader = expectStatus(
      await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }),
      201,
    );
    const spare = expectStatus(
      await api.post('/roles', { name: 'Spare', permissions: ['people:read'] }),
      201,
    );
    expectStatus(await api.get('/roles'), 200);
    expectStatus(await api.get('/permissions'), 200);
    expectStatus(await api.get(`/roles/${reader.id}`), 200);
    expectStatus(
      await api.patch(`/roles/${reader.id}`, { permissions: ['items:read', 'items:read_private'] }),
      200,
    );
    expectStatus(await api.delete(`/roles/${spare.id}`), 204);

    const account = expectStatus(
      await api.post('/service-accounts', {
        name: 'Zapier',
        location_ids: [paris.id],
        roles: [{ role_id: reader.id }],
      }),
      201,
    );
    const accountPath = `/service-accounts/${account.id}`;
    expectStatus(await api.get('/service-accounts'), 200);
    expectStatus(await api.get(`/roles/${reader.id}/service-accounts`), 200);
    expectStatus(await api.get(accountPath), 200);
    expectStatus(await api.patch(accountPath, { description: 'Nightly sync' }), 200);

    const key = expectStatus(
      await api.post(`${accountPath}/credentials`, { type: 'api_key', name: 'k' }),
      201,
    );
    expectStatus(await api.get(`${accountPath}/credentials`), 200);
    expectStatus(await api.get(`${accountPath}/credentials/${key.id}`), 200);
    const rotated = expectStatus(await api.post(`${accountPath}/credentials/${key.id}:rotate`, {}), 201);
    expectStatus(await api.post(`${accountPath}/credentials/${rotated.id}:regenerate`), 200);
    expectStatus(await api.post(`${accountPath}/credentials/${key.id}:revoke`), 200);
    expectStatus(await api.post(`${accountPath}:archive`), 200);

    const other = expectStatus(
      await api.post('/service-accounts', {
        name: 'Old BI',
        all_locations: true,
        roles: [{ role_id: reader.id }],
      }),
      201,
    );
    expectStatus(await api.delete(`/service-accounts/${other.id}`), 200);
    expectStatus(await api.post(`/service-accounts/${other.id}:purge`), 204);

    expectStatus(
      await api.post('/legacy-keys:import', {
        keys: [
          {
            key: 'walk-legacy-key-0001-aaaaaaaaaaaa',
            name: 'Old',
            all_locations: true,
            role_names: ['Reader'],
          },
        ],
      }),
      200,
    );
    expectStatus(await api.get('/audit-events'), 200);

    const withSuccess = new Set(
      [...documented.covered].filter((entry) => /\s2\d\d$/.test(entry)).map((entry) => entry.split(' ')[0]),
    );
    const adminOperations = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/admin/v1/'))
      .flatMap(([, operations]) => Object.values(operations).map((operation) => operation.operationId));
    expect(adminOperations.length).toBeGreaterThan(20);
    expect(adminOperations.filter((operationId) => !withSuccess.has(operationId))).toEqual([]);
  });
});
