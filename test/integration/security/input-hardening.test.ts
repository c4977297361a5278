import { createHash } from 'node:crypto';
import http from 'node:http';
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
const RESOURCE_SERVER = { name: 'hardening-rs', secret: 'svcrs_hardening-test-secret-0123456789' };
const RESOURCE_SERVERS = `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`;
const resourceServerBasic = `Basic ${Buffer.from(`${RESOURCE_SERVER.name}:${RESOURCE_SERVER.secret}`).toString('base64')}`;

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A POST whose body is sent in chunks, with no Content-Length: only the bytes tell its size. */
function postChunked(url: string, headers: Record<string, string>, chunks: string[]): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
      response.on('error', reject);
    });
    // The server may answer 413 and close before every chunk is written.
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

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
    server = await startTestServer({ RESOURCE_SERVERS });
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

  describe('every response', () => {
    it('tells browsers not to sniff its content type', async () => {
      const token = await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=svcc_nobody&client_secret=nope',
      });
      const answers: Array<[string, Response]> = [
        ['/token refusal', token],
        ['/token GET', await fetch(`${server.issuer}/token`)],
        ['/jwks', await fetch(`${server.issuer}/jwks`)],
        ['metadata', await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)],
        ['/healthz', await fetch(`${server.issuer}/healthz`)],
        ['/readyz', await fetch(`${server.issuer}/readyz`)],
        ['/metrics', await fetch(`${server.issuer}/metrics`)],
        ['unknown path', await fetch(`${server.issuer}/nothing-here`)],
        ['admin without token', await fetch(`${server.issuer}/admin/v1/roles`)],
        ['openapi', await fetch(`${server.issuer}/admin/v1/openapi.json`)],
        ['/revoke', await fetch(`${server.issuer}/revoke`, { method: 'POST' })],
        [
          '/introspect',
          await fetch(`${server.issuer}/introspect`, {
            method: 'POST',
            headers: {
              authorization: resourceServerBasic,
              'content-type': 'application/x-www-form-urlencoded',
            },
            body: 'token=abc',
          }),
        ],
        ['/revocations', await fetch(`${server.issuer}/revocations`)],
      ];
      for (const [what, response] of answers) {
        expect(response.headers.get('x-content-type-options'), what).toBe('nosniff');
        await response.arrayBuffer();
      }
      const admin = await api.get('/roles');
      expect(admin.headers.get('x-content-type-options')).toBe('nosniff');
    });

    it('echoes no unbounded input in its problem details', async () => {
      const long = 'a'.repeat(4000);
      const refusals = [
        await api.get(`/service-accounts/${long}`),
        await api.get(`/${long}`),
        await api.post('/locations', { name: 'x', [long]: 1 }),
        await api.post('/locations', Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`f${i}`, i]))),
      ];
      for (const refusal of refusals) {
        expect(refusal.status).toBeGreaterThanOrEqual(400);
        expect(refusal.status).toBeLessThan(500);
        expect(JSON.stringify(refusal.body).length, JSON.stringify(refusal.body).slice(0, 200)).toBeLessThan(
          3000,
        );
      }
      const admin = await bootstrapAdmin(server, 'echo-org');
      const oauth = await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${admin.clientId}:${admin.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource: `https://x/${long}`,
        }).toString(),
      });
      const oauthBody = await oauth.text();
      expect(oauth.status).toBe(400);
      expect(oauthBody.length).toBeLessThan(1000);
      const scoped = await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${admin.clientId}:${admin.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: `${long} ${long}x` }).toString(),
      });
      const scopedBody = await scoped.text();
      expect(scoped.status).toBe(400);
      expect(scopedBody.length).toBeLessThan(1500);
    });
  });

  describe('a body larger than MAX_BODY_BYTES sent without Content-Length', () => {
    const oversized = () => {
      const filler = 'x'.repeat(1000);
      return ['grant_type=client_credentials', ...Array.from({ length: 20 }, (_, i) => `&pad${i}=${filler}`)];
    };

    it('is refused with 413 at /token', async () => {
      const answer = await postChunked(
        `${server.issuer}/token`,
        { 'content-type': 'application/x-www-form-urlencoded' },
        oversized(),
      );
      expect(answer.status, answer.body).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_request' });
    });

    it('is refused with 413 at /revoke and /introspect', async () => {
      for (const [path, headers] of [
        ['/revoke', {}],
        ['/introspect', { authorization: resourceServerBasic }],
      ] as const) {
        const answer = await postChunked(
          `${server.issuer}${path}`,
          { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          oversized(),
        );
        expect(answer.status, `${path}: ${answer.body}`).toBe(413);
      }
    });

    it('still lets a small chunked token request through', async () => {
      const admin = await bootstrapAdmin(server, 'chunked-org');
      const answer = await postChunked(
        `${server.issuer}/token`,
        {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${admin.clientId}:${admin.secret}`).toString('base64')}`,
        },
        ['grant_type=client_', 'credentials'],
      );
      expect(answer.status, answer.body).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ token_type: expect.any(String) });
    });
  });
});
