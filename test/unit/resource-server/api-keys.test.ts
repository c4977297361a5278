/**
 * API keys: the kit's own reading of the key format (checked against the server's generator, so the
 * two cannot drift), and verification through introspection with a cache that feed events invalidate.
 */
import type http from 'node:http';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../../src/domain/credential-format.ts';
import { classifyApiKey, crc32 } from '../../../src/resource-server/api-key.ts';
import { createVerifier, VerificationError, type Verifier } from '../../../src/resource-server/index.ts';
import {
  eventually,
  type LocalFeed,
  type LocalIssuer,
  serveFeed,
  signingKey,
  startLocalIssuer,
} from './local-issuer.ts';

describe('classifyApiKey', () => {
  it('reads the key id of keys svcauth generates', () => {
    for (let i = 0; i < 200; i++) {
      const { key, keyId } = generateApiKey();
      expect(classifyApiKey(key)).toEqual({ kind: 'svcauth', keyId });
    }
  });

  it('refuses a key with a changed character, a wrong length or a foreign prefix', () => {
    const { key } = generateApiKey();
    const last = key.at(-1) === 'a' ? 'b' : 'a';
    expect(classifyApiKey(key.slice(0, -1) + last)).toEqual({ kind: 'invalid', reason: 'checksum' });
    expect(classifyApiKey(key.slice(0, -1))).toEqual({ kind: 'invalid', reason: 'format' });
    expect(classifyApiKey('svcs_' + key.slice(6))).toEqual({ kind: 'invalid', reason: 'format' });
    expect(classifyApiKey('short')).toEqual({ kind: 'invalid', reason: 'format' });
  });

  it('lets legacy-shaped keys through to the server', () => {
    expect(classifyApiKey('some-old-legacy-key-1234567890')).toEqual({ kind: 'legacy' });
    expect(classifyApiKey('x'.repeat(513))).toEqual({ kind: 'invalid', reason: 'format' });
  });

  it('computes the same CRC-32 as zlib', () => {
    for (const text of ['', 'a', 'svcak_0123456789abcdef_', 'ünïcödé ✓']) {
      expect(crc32(text)).toBe(zlibCrc32(text));
    }
  });
});

describe('verifyApiKey', () => {
  let local: LocalIssuer;
  let feed: LocalFeed;
  let verifier: Verifier;
  const apiKey = generateApiKey();
  let claims: Record<string, unknown>;
  const initialClaims = {
    active: true,
    sub: 'account-1',
    client_id: apiKey.keyId,
    org_id: 'org-1',
    scope: 'items:read',
    permissions: { 'location-a': ['items:read'] },
    permissions_version: 1,
  };
  let active: boolean;
  let introspectedTokens: string[];

  beforeEach(async () => {
    local = await startLocalIssuer([await signingKey()]);
    feed = serveFeed(local);
    active = true;
    claims = { ...initialClaims };
    introspectedTokens = [];
    local.route('/introspect', (_req: http.IncomingMessage, res: http.ServerResponse, body: string) => {
      const token = new URLSearchParams(body).get('token')!;
      introspectedTokens.push(token);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          token === apiKey.key && active ? { ...claims, aud: local.audience } : { active: false },
        ),
      );
    });
    verifier = createVerifier({
      issuer: local.issuer,
      audience: local.audience,
      credentials: { name: 'items-api', secret: 'secret' },
    });
    await verifier.ready();
  });

  afterEach(async () => {
    await verifier.close();
    await local.close();
  });

  const basic = (key: string) => `Basic ${Buffer.from(`api:${key}`).toString('base64')}`;

  it('introspects a key once and answers from the cache afterwards', async () => {
    const principal = await verifier.authenticate(basic(apiKey.key));
    expect(principal).toMatchObject({
      credentialType: 'api_key',
      clientId: apiKey.keyId,
      serviceAccountId: 'account-1',
      tokenId: null,
      expiresAt: null,
    });
    expect(principal.can('items:read', 'location-a')).toBe(true);
    await verifier.verifyApiKey(apiKey.key);
    expect(introspectedTokens).toEqual([apiKey.key]);
  });

  it('drops the cached answer when the feed revokes the credential, and then refuses the key', async () => {
    await verifier.verifyApiKey(apiKey.key);
    active = false;
    feed.event(feed.latest(), 'c1', {
      type: 'credential',
      client_id: apiKey.keyId,
      org_id: 'org-1',
      account_id: 'account-1',
      until: Math.floor(Date.now() / 1000) + 3600,
    });
    await eventually(() =>
      verifier.verifyApiKey(apiKey.key).then(
        () => false,
        (e: VerificationError) => /revoked/.test(e.description),
      ),
    );
  });

  it('re-introspects after a permissions change instead of refusing', async () => {
    await verifier.verifyApiKey(apiKey.key);
    claims.permissions_version = 2;
    claims.permissions = { 'location-a': ['items:read'], 'location-b': ['items:read'] };
    feed.event(feed.latest(), 'c1', {
      type: 'account',
      account_id: 'account-1',
      org_id: 'org-1',
      permissions_version: 2,
      until: Math.floor(Date.now() / 1000) + 3600,
    });
    await eventually(async () => (await verifier.verifyApiKey(apiKey.key)).can('items:read', 'location-b'));
    expect(introspectedTokens).toHaveLength(2);
  });

  it('refuses an inactive key, a malformed key (without asking), and a key for another audience', async () => {
    active = false;
    await expect(verifier.verifyApiKey(apiKey.key)).rejects.toMatchObject({ description: /not valid/ });
    const calls = introspectedTokens.length;
    // A different last character, so the checksum fails (appending '0' would not change a key ending in '0').
    const mistyped = apiKey.key.slice(0, -1) + (apiKey.key.endsWith('0') ? '1' : '0');
    await expect(verifier.verifyApiKey(mistyped)).rejects.toMatchObject({
      description: /malformed/,
    });
    expect(introspectedTokens).toHaveLength(calls);

    active = true;
    const admin = createVerifier({
      issuer: local.issuer,
      audience: `${local.issuer}/admin`,
      credentials: { name: 'admin-api', secret: 'secret' },
      revocation: { mode: 'none' },
    });
    await expect(admin.verifyApiKey(apiKey.key)).rejects.toMatchObject({ description: /aud/ });
    await admin.close();
  });

  it('refuses a key whose credential the feed already revoked, without asking', async () => {
    const other = generateApiKey();
    feed.event(feed.latest(), 'c1', {
      type: 'credential',
      client_id: other.keyId,
      org_id: 'org-1',
      account_id: 'account-1',
      until: Math.floor(Date.now() / 1000) + 3600,
    });
    await eventually(() =>
      verifier.verifyApiKey(other.key).then(
        () => false,
        (e: VerificationError) => /revoked/.test(e.description),
      ),
    );
    const calls = introspectedTokens.length;
    await expect(verifier.verifyApiKey(other.key)).rejects.toMatchObject({ description: /revoked/ });
    expect(introspectedTokens).toHaveLength(calls);
  });

  it('is refused by a verifier without credentials', async () => {
    const bare = createVerifier({
      issuer: local.issuer,
      audience: local.audience,
      revocation: { mode: 'none' },
    });
    await expect(bare.verifyApiKey(apiKey.key)).rejects.toBeInstanceOf(VerificationError);
    await bare.close();
  });
});
