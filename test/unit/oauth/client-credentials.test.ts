import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../../../src/domain/credential-format.ts';
import { readClientCredentials as readWith } from '../../../src/oauth/client-authentication.ts';
import { ResourceServerAuthenticator } from '../../../src/oauth/resource-server-auth.ts';

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const form = (params: Record<string, string>) => new URLSearchParams(params);
/** No legacy key is imported here: every legacy-shaped key is unknown. */
const readClientCredentials = (authorization: string | undefined, body: URLSearchParams) =>
  readWith(authorization, body, { clientIdOf: async () => null });

describe('readClientCredentials (POST /revoke)', () => {
  it('reads HTTP Basic, an API key as Basic api:<key>, client_secret_post and private_key_jwt', async () => {
    expect(await readClientCredentials(basic('svcc_a', 's e:cret'), form({}))).toEqual({
      ok: true,
      credentials: { method: 'client_secret_basic', clientId: 'svcc_a', secret: 's e:cret' },
    });
    const key = generateApiKey();
    expect(await readClientCredentials(basic('api', key.key), form({}))).toEqual({
      ok: true,
      credentials: { method: 'client_secret_basic', clientId: key.keyId, secret: key.key },
    });
    expect(await readClientCredentials(undefined, form({ client_id: 'svcc_a', client_secret: 'x' }))).toEqual(
      {
        ok: true,
        credentials: { method: 'client_secret_post', clientId: 'svcc_a', secret: 'x' },
      },
    );
    const assertion = `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from('{"sub":"svcc_b"}').toString('base64url')}.sig`;
    expect(
      await readClientCredentials(
        undefined,
        form({
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      ),
    ).toEqual({ ok: true, credentials: { method: 'private_key_jwt', clientId: 'svcc_b', assertion } });
  });

  it('refuses two methods at once, a mismatched client_id, garbage and nothing', async () => {
    expect(await readClientCredentials(basic('svcc_a', 'x'), form({ client_secret: 'y' }))).toMatchObject({
      ok: false,
      error: 'invalid_request',
    });
    expect(await readClientCredentials(basic('svcc_a', 'x'), form({ client_id: 'svcc_b' }))).toMatchObject({
      ok: false,
      error: 'invalid_request',
    });
    expect(await readClientCredentials(basic('api', 'svcak_garbage'), form({}))).toMatchObject({
      ok: false,
      error: 'invalid_client',
    });
    expect(await readClientCredentials('Bearer abc', form({}))).toMatchObject({
      ok: false,
      error: 'invalid_client',
    });
    expect(await readClientCredentials(undefined, form({ client_id: 'svcc_a' }))).toMatchObject({
      ok: false,
      error: 'invalid_client',
      clientId: 'svcc_a',
    });
    expect(
      await readClientCredentials(
        undefined,
        form({ client_assertion: 'a.b.c', client_assertion_type: 'other' }),
      ),
    ).toMatchObject({ ok: false, error: 'invalid_request' });
  });
});

describe('ResourceServerAuthenticator', () => {
  const digest = (secret: string) => createHash('sha256').update(secret).digest();
  const authenticator = new ResourceServerAuthenticator([
    { name: 'items-api', secretSha256: digest('right secret') },
    { name: 'people-api', secretSha256: digest('other') },
  ]);

  it('names the resource server whose secret matches', async () => {
    expect(await authenticator.authenticate(basic('items-api', 'right secret'))).toBe('items-api');
    expect(await authenticator.authenticate(basic('people-api', 'other'))).toBe('people-api');
  });

  it('refuses a wrong secret, another server’s secret, an unknown name and malformed headers', async () => {
    expect(await authenticator.authenticate(basic('items-api', 'wrong'))).toBeNull();
    expect(await authenticator.authenticate(basic('items-api', 'other'))).toBeNull();
    expect(await authenticator.authenticate(basic('nobody', 'right secret'))).toBeNull();
    for (const header of [
      undefined,
      '',
      'Basic',
      'Bearer x',
      `Basic ${Buffer.from('no-colon').toString('base64')}`,
    ]) {
      expect(await authenticator.authenticate(header)).toBeNull();
    }
    expect(
      await new ResourceServerAuthenticator([]).authenticate(basic('items-api', 'right secret')),
    ).toBeNull();
  });
});
