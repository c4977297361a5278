import { createHmac, createPublicKey } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, VerificationError, type Verifier } from '../../../src/resource-server/index.ts';
import {
  accessToken,
  b64url,
  type LocalIssuer,
  type SigningKey,
  signingKey,
  startLocalIssuer,
} from './local-issuer.ts';

let local: LocalIssuer;
let es256: SigningKey;
let rs256: SigningKey;
let verifiers: Verifier[] = [];

beforeAll(async () => {
  es256 = await signingKey('ES256');
  rs256 = await signingKey('RS256');
  local = await startLocalIssuer([es256, rs256]);
});

afterAll(async () => {
  await local.close();
});

afterEach(async () => {
  await Promise.all(verifiers.map((v) => v.close()));
  verifiers = [];
  local.published = [es256, rs256];
});

function verifierFor(options: Partial<Parameters<typeof createVerifier>[0]> = {}): Verifier {
  const verifier = createVerifier({
    issuer: local.issuer,
    audience: local.audience,
    revocation: { mode: 'none' },
    ...options,
  });
  verifiers.push(verifier);
  return verifier;
}

async function refusal(promise: Promise<unknown>): Promise<VerificationError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerificationError);
  return error as VerificationError;
}

describe('a valid token', () => {
  it('becomes a principal carrying its claims', async () => {
    const verifier = verifierFor();
    await verifier.ready();
    const principal = await verifier.verify(
      await accessToken(local, es256, { claims: { groups_admin: true } }),
    );
    expect(principal).toMatchObject({
      orgId: 'org-1',
      serviceAccountId: 'account-1',
      clientId: 'svcc_client1',
      credentialType: 'jwt',
      scopes: ['items:read', 'items:read_private'],
      permissions: { 'location-a': ['items:read', 'items:read_private'], 'location-b': ['items:read'] },
      permissionsVersion: 1,
      groupsAdmin: true,
    });
    expect(principal.tokenId).toEqual(expect.any(String));
    expect(principal.expiresAt).toBeInstanceOf(Date);
  });

  it('is accepted with RS256 and through authenticate() with a Bearer header', async () => {
    const verifier = verifierFor();
    const token = await accessToken(local, rs256);
    await expect(verifier.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ orgId: 'org-1' });
  });

  it('is accepted signed with Ed25519, EdDSA under its fully-specified name (RFC 9864)', async () => {
    const ed25519 = await signingKey('Ed25519');
    local.published = [es256, rs256, ed25519];
    const verifier = verifierFor();
    const token = await accessToken(local, ed25519);
    await expect(verifier.verify(token)).resolves.toMatchObject({ orgId: 'org-1' });
  });

  it('is accepted within the clock tolerance after exp', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await accessToken(local, es256, { claims: { iat: now - 300, exp: now - 2 } });
    await expect(verifierFor().verify(token)).resolves.toMatchObject({ orgId: 'org-1' });
  });
});

describe('refusals (all invalid_token)', () => {
  it('a bad signature', async () => {
    const impostor = await signingKey('ES256', es256.kid);
    const error = await refusal(verifierFor().verify(await accessToken(local, impostor)));
    expect(error.code).toBe('invalid_token');
    expect(error.description).toMatch(/signature/);
  });

  it('a payload changed after signing', async () => {
    const [header, , signature] = (await accessToken(local, es256)).split('.');
    const forged = b64url({ iss: local.issuer, sub: 'admin', permissions: { '*': ['items:read'] } });
    const error = await refusal(verifierFor().verify(`${header}.${forged}.${signature}`));
    expect(error.description).toMatch(/signature/);
  });

  it('alg none', async () => {
    const payload = (await accessToken(local, es256)).split('.')[1];
    const header = b64url({ alg: 'none', typ: 'at+jwt', kid: es256.kid });
    const error = await refusal(verifierFor().verify(`${header}.${payload}.`));
    expect(error.code).toBe('invalid_token');
    expect(error.description).toMatch(/algorithm/);
  });

  it('HS256 signed with the public key as the HMAC secret', async () => {
    const publicPem = createPublicKey({ key: rs256.publicJwk, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const payload = (await accessToken(local, rs256)).split('.')[1];
    for (const secret of [publicPem, JSON.stringify(rs256.publicJwk)]) {
      const header = b64url({ alg: 'HS256', typ: 'at+jwt', kid: rs256.kid });
      const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      const error = await refusal(verifierFor().verify(`${header}.${payload}.${signature}`));
      expect(error.description).toMatch(/algorithm/);
    }
  });

  it('an algorithm outside the configured allowlist', async () => {
    const error = await refusal(
      verifierFor({ algorithms: ['ES256'] }).verify(await accessToken(local, rs256)),
    );
    expect(error.description).toMatch(/algorithm/);
  });

  it('a wrong typ, or none', async () => {
    for (const typ of ['JWT', 'id_token+jwt', undefined]) {
      const token = await accessToken(local, es256, { header: { typ } });
      const error = await refusal(verifierFor().verify(token));
      expect(error.description).toMatch(/at\+jwt/);
    }
  });

  it('a wrong issuer', async () => {
    const token = await accessToken(local, es256, { claims: { iss: 'https://evil.example.com' } });
    expect((await refusal(verifierFor().verify(token))).description).toMatch(/issuer/);
  });

  it('a wrong audience', async () => {
    const token = await accessToken(local, es256, { claims: { aud: `${local.issuer}/admin` } });
    expect((await refusal(verifierFor().verify(token))).description).toMatch(/aud/);
  });

  it('an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await accessToken(local, es256, { claims: { iat: now - 400, exp: now - 60 } });
    expect((await refusal(verifierFor().verify(token))).description).toMatch(/expired/);
  });

  it('a token not valid yet', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await accessToken(local, es256, { claims: { nbf: now + 60 } });
    expect((await refusal(verifierFor().verify(token))).description).toMatch(/not valid yet/);
  });

  it.each(['sub', 'client_id', 'org_id', 'permissions', 'jti', 'exp', 'iat', 'aud'])(
    'a token without %s',
    async (claim) => {
      const token = await accessToken(local, es256, { omit: [claim] });
      const error = await refusal(verifierFor().verify(token));
      expect(error.description).toContain(`"${claim}"`);
    },
  );

  it.each([
    ['permissions', ['items:read']],
    ['permissions', { 'location-a': 'items:read' }],
    ['org_id', 42],
    ['permissions_version', '3'],
  ])('a token whose %s is malformed', async (claim, value) => {
    const token = await accessToken(local, es256, { claims: { [claim]: value } });
    expect((await refusal(verifierFor().verify(token))).description).toContain(`"${claim}"`);
  });

  it('something that is not a JWT', async () => {
    for (const token of ['', 'abc', 'a.b', 'a.b.c.d.e', `${'a'.repeat(20_000)}.b.c`]) {
      expect((await refusal(verifierFor().verify(token))).code).toBe('invalid_token');
    }
  });
});

describe('the JWKS cache', () => {
  it('re-fetches once for an unknown kid, and not again within the interval', async () => {
    const verifier = verifierFor();
    await verifier.verify(await accessToken(local, es256));
    expect(local.requests.jwks).toBeGreaterThan(0);
    const fetchesAfterLoad = local.requests.jwks;

    const stranger = await signingKey('ES256');
    const first = await refusal(verifier.verify(await accessToken(local, stranger)));
    expect(first.description).toMatch(/kid/);
    expect(local.requests.jwks).toBe(fetchesAfterLoad + 1);

    const another = await signingKey('ES256');
    const second = await refusal(verifier.verify(await accessToken(local, another)));
    expect(second.description).toMatch(/kid/);
    expect(local.requests.jwks).toBe(fetchesAfterLoad + 1);

    // Known keys keep working without any fetch.
    await verifier.verify(await accessToken(local, es256));
    expect(local.requests.jwks).toBe(fetchesAfterLoad + 1);
  });

  it('picks up a key the issuer published after the set was loaded', async () => {
    const verifier = verifierFor();
    await verifier.ready();
    const rotated = await signingKey('ES256');
    local.published = [es256, rs256, rotated];
    await expect(verifier.verify(await accessToken(local, rotated))).resolves.toMatchObject({
      orgId: 'org-1',
    });
  });

  it('re-fetches again for an unknown kid once the interval has passed', async () => {
    const verifier = verifierFor({ jwksRefreshIntervalMs: 0 });
    await verifier.ready();
    const before = local.requests.jwks;
    await refusal(verifier.verify(await accessToken(local, await signingKey('ES256'))));
    await refusal(verifier.verify(await accessToken(local, await signingKey('ES256'))));
    expect(local.requests.jwks).toBe(before + 2);
  });
});

describe('the principal', () => {
  it('can() honours organization-wide grants and never leaks across locations', async () => {
    const token = await accessToken(local, es256, {
      claims: { permissions: { '*': ['items:read'], 'location-a': ['items:read_private'] } },
    });
    const principal = await verifierFor().verify(token);
    expect(principal.can('items:read', 'location-a')).toBe(true);
    expect(principal.can('items:read', 'a-location-created-later')).toBe(true);
    expect(principal.can('items:read', '*')).toBe(true);
    expect(principal.can('items:read_private', 'location-a')).toBe(true);
    expect(principal.can('items:read_private', 'location-b')).toBe(false);
    expect(principal.can('items:read_private', '*')).toBe(false);
    expect(principal.can('items:write', 'location-a')).toBe(false);
    expect(principal.can('toString', 'location-a')).toBe(false);
    expect(Object.isFrozen(principal.permissions)).toBe(true);
    expect(Object.values(principal.permissions).every((names) => Object.isFrozen(names))).toBe(true);
    // A location named like an Object.prototype member is just another location.
    expect(principal.can('items:read_private', 'constructor')).toBe(false);
    expect(principal.permissions).toEqual({ '*': ['items:read'], 'location-a': ['items:read_private'] });
  });

  it('refuses a permissions claim whose lists hold anything but strings', async () => {
    for (const permissions of [{ '*': ['items:read', 7] }, { '*': 'items:read' }, ['items:read']]) {
      const token = await accessToken(local, es256, { claims: { permissions } });
      await expect(verifierFor().verify(token)).rejects.toMatchObject({
        description: 'the token has no valid "permissions" claim',
      });
    }
  });
});

/** The packed form as README documents it: base64url of raw DEFLATE of the grouped JSON. */
const pack = (grouped: unknown) => deflateRawSync(JSON.stringify(grouped)).toString('base64url');

describe('packed permissions (permissions_packed)', () => {
  it('reads them into the same principal as the plain form', async () => {
    const grouped = {
      'items:read': ['*'],
      'items:read items:read_private': ['location-a', 'location-c'],
      'items:write': ['location-b'],
    };
    const token = await accessToken(local, es256, {
      claims: { permissions_packed: pack(grouped) },
      omit: ['permissions'],
    });
    const principal = await verifierFor().verify(token);
    expect(principal.permissions).toEqual({
      '*': ['items:read'],
      'location-a': ['items:read', 'items:read_private'],
      'location-b': ['items:write'],
      'location-c': ['items:read', 'items:read_private'],
    });
    expect(principal.can('items:read_private', 'location-c')).toBe(true);
    expect(principal.can('items:read', 'location-b')).toBe(true);
    expect(principal.can('items:write', 'location-b')).toBe(true);
    expect(principal.can('items:write', 'location-a')).toBe(false);
    expect(principal.can('items:read_private', '*')).toBe(false);
    expect(principal.can('items:read_private', 'constructor')).toBe(false);
    expect(Object.isFrozen(principal.permissions)).toBe(true);
    expect(Object.values(principal.permissions).every((names) => Object.isFrozen(names))).toBe(true);
    // A second token with the same claim gets the same answers (the decoded claim is shared).
    const again = await verifierFor().verify(
      await accessToken(local, es256, {
        claims: { permissions_packed: pack(grouped) },
        omit: ['permissions'],
      }),
    );
    expect(again.permissions).toEqual(principal.permissions);
  });

  it('reads locations named like Object.prototype members as plain locations', async () => {
    const token = await accessToken(local, es256, {
      claims: { permissions_packed: pack(JSON.parse('{"items:read":["__proto__","constructor"]}')) },
      omit: ['permissions'],
    });
    const principal = await verifierFor().verify(token);
    expect(principal.can('items:read', '__proto__')).toBe(true);
    expect(principal.can('items:read', 'constructor')).toBe(true);
    expect(principal.can('items:read', 'toString')).toBe(false);
    expect(Object.keys(principal.permissions)).toEqual(['__proto__', 'constructor']);
  });

  it('refuses a token with both forms, or none', async () => {
    const both = await accessToken(local, es256, {
      claims: { permissions_packed: pack({ 'items:read': ['a'] }) },
    });
    expect((await refusal(verifierFor().verify(both))).description).toMatch(/exactly one of "permissions"/);
    const none = await accessToken(local, es256, { omit: ['permissions'] });
    expect((await refusal(verifierFor().verify(none))).description).toContain('"permissions"');
  });

  it.each([
    ['not DEFLATE', 'bm90LWRlZmxhdGU'],
    ['not JSON', deflateRawSync('{').toString('base64url')],
    ['a list', pack(['a'])],
    ['a set without a list', pack({ 'items:read': 'location-a' })],
    ['a location that is no string', pack({ 'items:read': [7] })],
    ['a location under two sets', pack({ 'items:read': ['location-a'], 'items:write': ['location-a'] })],
    ['a number', 42],
  ])('refuses a packed claim that is %s', async (_what, value) => {
    const token = await accessToken(local, es256, {
      claims: { permissions_packed: value },
      omit: ['permissions'],
    });
    expect((await refusal(verifierFor().verify(token))).description).toMatch(/"permissions(_packed)?"/);
  });
});

describe('configuration', () => {
  it.each([['none'], ['HS256'], ['HS512'], ['ES256', 'HS384']])('refuses algorithms %s', (...algorithms) => {
    expect(() =>
      createVerifier({
        issuer: local.issuer,
        audience: local.audience,
        algorithms: algorithms as never,
        revocation: { mode: 'none' },
      }),
    ).toThrow(/not accepted/);
  });

  it('refuses feed mode without credentials', () => {
    expect(() => createVerifier({ issuer: local.issuer, audience: local.audience })).toThrow(/credentials/);
  });

  it('refuses metadata that names another issuer', async () => {
    // Same document URL (the trailing slash is dropped), but `issuer` in it differs from the one configured.
    const verifier = verifierFor({ issuer: `${local.issuer}/` });
    await expect(verifier.ready()).rejects.toThrow(/issuer/);
    expect((await refusal(verifier.verify(await accessToken(local, es256)))).code).toBe('invalid_token');
  });
});
