import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  type ApiResponse,
  bootstrapAdmin,
  expectStatus,
} from './admin-helpers.ts';

/**
 * Issue 13, item 7: the JWK set a private_key_jwt credential registers must hold keys that can verify
 * a signature: each key is imported, RSA moduli are at least 2048 bits, only public JWK members are
 * kept (no x5u or jku for a verifier to fetch), and the set is small.
 */

async function publicJwk(alg: string, options: { modulusLength?: number; crv?: string } = {}): Promise<JWK> {
  const { publicKey } = await generateKeyPair(alg, { extractable: true, ...options });
  return exportJWK(publicKey);
}

/** jose refuses to make keys this weak, so node:crypto makes it. */
function rsa1024(): JWK {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return publicKey.export({ format: 'jwk' });
}

function expectJwksRefusal(response: ApiResponse, keyIndex: number, problem: RegExp) {
  expect(response.status, JSON.stringify(response.body)).toBe(400);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({
    type: 'https://svcauth.dev/problems/invalid_jwks',
    field: `jwks.keys[${keyIndex}]`,
  });
  expect(response.body.detail).toMatch(`jwks.keys[${keyIndex}]`);
  expect(response.body.detail).toMatch(problem);
  expect(JSON.stringify(response.body).length).toBeLessThan(2000);
}

describe('registered client JWK sets', () => {
  let server: TestServer;
  let api: AdminApi;
  let account: { id: string };
  let good: JWK;
  const credentials = () => `/service-accounts/${account.id}/credentials`;
  const register = (keys: unknown[]) =>
    api.post(credentials(), { name: 'signer', type: 'private_key_jwt', jwks: { keys } });

  beforeAll(async () => {
    server = await startTestServer();
    api = adminApi(server, await adminToken(server, await bootstrapAdmin(server, 'acme')));
    account = expectStatus(await api.post('/service-accounts', { name: 'Signer', all_locations: true }), 201);
    good = await publicJwk('ES256');
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('accepts usable public keys of every supported kind, with their optional members', async () => {
    const keys = [
      { ...(await publicJwk('ES256')), kid: 'p256', alg: 'ES256', use: 'sig' },
      { ...(await publicJwk('ES384')), kid: 'p384' },
      {
        ...(await publicJwk('RS256', { modulusLength: 2048 })),
        kid: 'rsa',
        alg: 'PS256',
        key_ops: ['verify'],
      },
      { ...(await publicJwk('EdDSA', { crv: 'Ed25519' })), kid: 'ed' },
    ];
    const created = expectStatus(await register(keys), 201);
    expect(created.jwks.keys).toHaveLength(4);
  });

  it('refuses an RSA key shorter than 2048 bits', async () => {
    const weak = rsa1024();
    expectJwksRefusal(await register([good, weak]), 1, /2048/);
  });

  it('refuses an EC key whose point is not on its curve', async () => {
    const garbage = {
      ...good,
      x: Buffer.alloc(32, 7).toString('base64url'),
      y: Buffer.alloc(32, 9).toString('base64url'),
    };
    expectJwksRefusal(await register([garbage]), 0, /not a usable/);
  });

  it('refuses members a verifier would fetch or that a public key does not have', async () => {
    expectJwksRefusal(await register([{ ...good, x5u: 'https://attacker.example/cert' }]), 0, /x5u/);
    expectJwksRefusal(await register([good, { ...good, jku: 'https://attacker.example/jwks' }]), 1, /jku/);
    expectJwksRefusal(await register([{ ...good, junk: 'a'.repeat(900_000) }]), 0, /junk/);
    expectJwksRefusal(await register([{ ...good, kid: 'k'.repeat(900_000) }]), 0, /kid/);
    expectJwksRefusal(await register([{ ...good, kid: 'a\u0000b' }]), 0, /kid/);
  });

  it('refuses an alg, use or key_ops the key cannot serve', async () => {
    const rsa = await publicJwk('RS256', { modulusLength: 2048 });
    expectJwksRefusal(await register([{ ...rsa, alg: 'ES256' }]), 0, /alg/);
    expectJwksRefusal(await register([{ ...good, alg: 'none' }]), 0, /alg/);
    expectJwksRefusal(await register([{ ...good, key_ops: ['sign'] }]), 0, /key_ops/);
    expectJwksRefusal(await register([{ ...good, use: 'enc' }]), 0, /use/);
    const x25519 = await publicJwk('ECDH-ES', { crv: 'X25519' });
    expectJwksRefusal(await register([x25519]), 0, /not a usable|crv/);
  });

  it('refuses a private key, naming it', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    expectJwksRefusal(await register([good, await exportJWK(privateKey)]), 1, /private/);
  });

  it('checks the keys given to a rotation the same way', async () => {
    const created = expectStatus(await register([good]), 201);
    const weak = rsa1024();
    expectJwksRefusal(
      await api.post(`${credentials()}/${created.id}:rotate`, { jwks: { keys: [weak] } }),
      0,
      /2048/,
    );
  });
});
