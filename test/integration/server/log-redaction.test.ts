import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  adminApi,
  adminToken,
  bootstrapAdmin,
  expectStatus,
  productToken,
  requestToken,
} from '../admin/admin-helpers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ LOG_LEVEL: 'trace' });
});
afterAll(() => server?.stop());

/**
 * The whole flow an operator, an admin and an integration go through, at the most verbose log level,
 * then every log line is searched for every secret, key, token, assertion and Authorization header the
 * flow handled. None may appear, whole or in part.
 */
it('writes no secret, API key, token, assertion or Authorization header to any log line', async () => {
  const secrets: string[] = [];
  const admin = await bootstrapAdmin(server, 'log-redaction');
  secrets.push(admin.secret);
  const token = await adminToken(server, admin);
  secrets.push(token);
  const api = adminApi(server, token);

  const role = expectStatus(await api.post('/roles', { name: 'readers', permissions: ['items:read'] }), 201);
  const account = expectStatus(
    await api.post('/service-accounts', { name: 'etl', all_locations: true, roles: [{ role_id: role.id }] }),
    201,
  );
  const client = expectStatus(
    await api.post(`/service-accounts/${account.id}/credentials`, { name: 'client', type: 'oauth_client' }),
    201,
  );
  const key = expectStatus(
    await api.post(`/service-accounts/${account.id}/credentials`, { name: 'key', type: 'api_key' }),
    201,
  );
  secrets.push(client.client_secret, key.api_key);

  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const pkjwt = expectStatus(
    await api.post(`/service-accounts/${account.id}/credentials`, {
      name: 'pkjwt',
      type: 'private_key_jwt',
      jwks: { keys: [jwk] },
    }),
    201,
  );
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(pkjwt.client_id)
    .setSubject(pkjwt.client_id)
    .setAudience(server.issuer)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(privateKey);
  secrets.push(assertion);
  const assertionResponse = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: pkjwt.client_id,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }).toString(),
  });
  expect(assertionResponse.status).toBe(200);
  secrets.push(((await assertionResponse.json()) as { access_token: string }).access_token);

  secrets.push(await productToken(server, client.client_id, client.client_secret));
  secrets.push(await productToken(server, 'api', key.api_key));
  // Failures are logged too: a wrong secret, a mistyped key, a bad bearer token.
  const wrong = `${client.client_secret.slice(0, -3)}xyz`;
  secrets.push(wrong);
  expect((await requestToken(server, client.client_id, wrong)).status).toBe(401);
  expect((await requestToken(server, 'api', `${key.api_key}0`)).status).toBe(401);
  expect((await adminApi(server, `${token}x`).get('/service-accounts')).status).toBe(401);

  const regenerated = expectStatus(
    await api.post(`/service-accounts/${account.id}/credentials/${client.id}:regenerate`, {}),
    200,
  );
  secrets.push(regenerated.client_secret);
  expectStatus(await api.post(`/service-accounts/${account.id}/credentials/${key.id}:revoke`, {}), 200);

  const lines = server.logLines;
  expect(lines.length).toBeGreaterThan(15);
  for (const line of lines) {
    expect(line.toLowerCase()).not.toContain('authorization');
    for (const secret of secrets) {
      // The distinctive middle of each value: a log could not hold even part of it.
      const probe = secret.slice(Math.floor(secret.length / 3), Math.floor(secret.length / 3) + 16);
      expect(line, 'a log line holds a secret').not.toContain(probe);
    }
  }
  // Every line about a request carries its request id.
  const requestLines = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
  expect(requestLines.length).toBeGreaterThan(10);
  for (const line of requestLines) expect(line.request_id).toEqual(expect.any(String));
  // /token is served by oidc-provider directly; its requests are logged like every other.
  expect(requestLines.some((l) => l.path === '/token' && l.status === 200)).toBe(true);
}, 120_000);
