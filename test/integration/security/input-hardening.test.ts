import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  type ApiResponse,
  bootstrapAdmin,
  expectStatus,
} from '../admin/admin-helpers.ts';

/**
 * Hostile input from issue 13 (items 13 and 14, 16): characters Postgres cannot store, cursors of
 * another list, bodies larger than announced, and what every response tells a browser.
 */

const PROBLEM = 'https://svcauth.dev/problems/';
const NUL = '\u0000';

function expectValidationProblem(response: ApiResponse, field?: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(400);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ type: `${PROBLEM}validation_failed`, status: 400 });
  if (field !== undefined) {
    expect(response.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  }
}

describe('hostile input', () => {
  let server: TestServer;
  let api: AdminApi;
  let account: { id: string };

  beforeAll(async () => {
    server = await startTestServer();
    const admin = await bootstrapAdmin(server, 'acme');
    api = adminApi(server, await adminToken(server, admin));
    account = expectStatus(
      await api.post('/service-accounts', { name: 'Integration', all_locations: true }),
      201,
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('a NUL character', () => {
    it('in names and descriptions is a 400 naming the field', async () => {
      expectValidationProblem(await api.post('/locations', { name: `Par${NUL}is` }), 'name');
      expectValidationProblem(
        await api.post('/roles', { name: 'R', description: `x${NUL}`, permissions: [] }),
        'description',
      );
      expectValidationProblem(
        await api.post('/service-accounts', { name: `a${NUL}`, all_locations: true }),
        'name',
      );
      expectValidationProblem(
        await api.patch(`/service-accounts/${account.id}`, { description: `${NUL}` }),
        'description',
      );
      expectValidationProblem(
        await api.post(`/service-accounts/${account.id}/credentials`, { name: `c${NUL}`, type: 'api_key' }),
        'name',
      );
    });

    it('in a JWK member is a 400', async () => {
      const response = await api.post(`/service-accounts/${account.id}/credentials`, {
        name: 'jwt',
        type: 'private_key_jwt',
        jwks: {
          keys: [
            {
              kty: 'EC',
              crv: 'P-256',
              x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
              y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
              kid: `k${NUL}`,
            },
          ],
        },
      });
      expect(response.status, JSON.stringify(response.body)).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });

    it('in a legacy key row is a 400, or that row refused for a key', async () => {
      const badKey = expectStatus(
        await api.post('/legacy-keys:import', {
          keys: [
            { key: `old-system-key-${NUL}-aaaaaaaa`, name: 'Old', all_locations: true, role_names: ['x'] },
          ],
        }),
        200,
      );
      expect(badKey.results[0]).toMatchObject({ status: 'failed', error: { field: 'key' } });
      expectValidationProblem(
        await api.post('/legacy-keys:import', {
          keys: [
            { key: 'old-system-key-0001-aaaaaaaaaa', name: 'Old', description: NUL, all_locations: true },
          ],
        }),
      );
      expectValidationProblem(
        await api.post('/legacy-keys:import', {
          keys: [
            {
              key: 'old-system-key-0001-aaaaaaaaaa',
              name: 'Old',
              location_names: [`p${NUL}`],
              role_names: ['x'],
            },
          ],
        }),
      );
      expectValidationProblem(
        await api.post('/legacy-keys:import', {
          keys: [
            {
              key: 'old-system-key-0001-aaaaaaaaaa',
              name: `Old${NUL}`,
              all_locations: true,
              role_names: ['x'],
            },
          ],
        }),
      );
    });

    it('in an audit filter is a 400', async () => {
      expectValidationProblem(await api.get('/audit-events?target_id=a%00b'), 'target_id');
      expectValidationProblem(await api.get('/audit-events?action=service_account.created%00'), 'action');
    });

    it('as a client id at /token is refused as a client error, not as an outage', async () => {
      for (const clientId of [`svcc_${NUL}`, NUL, `abc${NUL}def`]) {
        const viaPost = await fetch(`${server.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: clientId,
            client_secret: 'svcs_whatever',
          }).toString(),
        });
        const body = (await viaPost.json()) as { error: string };
        expect(viaPost.status, JSON.stringify(body)).toBeLessThan(500);
        expect([400, 401]).toContain(viaPost.status);
        expect(['invalid_client', 'invalid_request']).toContain(body.error);

        const viaBasic = await fetch(`${server.issuer}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:secret`).toString('base64')}`,
          },
          body: 'grant_type=client_credentials',
        });
        const basicBody = (await viaBasic.json()) as { error: string };
        expect(viaBasic.status, JSON.stringify(basicBody)).toBeLessThan(500);
        expect(['invalid_client', 'invalid_request']).toContain(basicBody.error);
      }
    });
  });

  describe('a cursor of another list', () => {
    it('is a 400 naming the cursor, for every list', async () => {
      expectStatus(await api.post('/locations', { name: 'Paris' }), 201);
      expectStatus(await api.post('/locations', { name: 'Lyon' }), 201);
      expectStatus(await api.post('/roles', { name: 'Reader', permissions: [] }), 201);
      expectStatus(await api.post('/service-accounts', { name: 'Second', all_locations: true }), 201);
      for (const name of ['a', 'b']) {
        expectStatus(
          await api.post(`/service-accounts/${account.id}/credentials`, { name, type: 'api_key' }),
          201,
        );
      }
      const lists = [
        '/locations',
        '/roles',
        '/service-accounts',
        `/service-accounts/${account.id}/credentials`,
        '/audit-events',
      ];
      const cursors = new Map<string, string>();
      for (const list of lists) {
        const page = expectStatus(await api.get(`${list}?limit=1`), 200);
        expect(page.next_cursor, list).toEqual(expect.any(String));
        cursors.set(list, page.next_cursor);
      }
      let refused = 0;
      for (const [origin, cursor] of cursors) {
        for (const list of lists) {
          if (list === origin) continue;
          expectValidationProblem(await api.get(`${list}?cursor=${cursor}`), 'cursor');
          refused += 1;
        }
        // The cursor still works on its own list.
        expectStatus(await api.get(`${origin}?cursor=${cursor}`), 200);
      }
      expect(refused).toBe(20);
    });
  });
});
