import { describe, expect, it } from 'vitest';
import {
  API_KEY_PATTERN,
  BASE62_ALPHABET,
  base62Checksum,
  CLIENT_SECRET_PATTERN,
  displayHint,
  generateApiKey,
  generateClientId,
  generateClientSecret,
  isClientIdFormat,
  isClientSecretWellFormed,
  isLegacyKeyShape,
  isGuessableLegacyKey,
  LEGACY_KEY_DISPLAY_HINT,
  legacyKeyLookup,
  legacyKeyLookups,
  generateLegacyKeyClientId,
  parseApiKey,
  randomBase62,
} from '../../../src/domain/credential-format.ts';

const BASE62 = /^[0-9A-Za-z]*$/;

/** Replaces the character at `index` with a different base62 character. */
function substitute(value: string, index: number, offset = 1): string {
  const current = BASE62_ALPHABET.indexOf(value.charAt(index));
  const replacement = BASE62_ALPHABET.charAt((current + offset) % 62);
  return value.slice(0, index) + replacement + value.slice(index + 1);
}

/** Recomputes the trailing checksum, to build values that are wrong only in their shape. */
function resign(body: string): string {
  return body + base62Checksum(body);
}

describe('randomBase62', () => {
  it.each([0, 1, 16, 62, 1000])('returns exactly %i base62 characters', (length) => {
    const value = randomBase62(length);
    expect(value).toHaveLength(length);
    expect(value).toMatch(BASE62);
  });

  it('uses every base62 character, roughly evenly (no modulo bias)', () => {
    const samples = 62 * 2000;
    const counts = new Map<string, number>();
    for (const char of randomBase62(samples)) counts.set(char, (counts.get(char) ?? 0) + 1);

    expect(counts.size).toBe(62);
    // Expected 2000 each, sd ~44; modulo 256 bias would push the first 8 characters ~25% above the rest.
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(1700);
      expect(count).toBeLessThan(2300);
    }
    const favoured = [...BASE62_ALPHABET.slice(0, 8)].reduce((sum, c) => sum + counts.get(c)!, 0) / 8;
    const others = [...BASE62_ALPHABET.slice(8)].reduce((sum, c) => sum + counts.get(c)!, 0) / 54;
    expect(favoured / others).toBeLessThan(1.08);
  });
});

describe('base62Checksum', () => {
  it('is the standard CRC-32 (IEEE) in six zero-padded base62 digits', () => {
    // CRC-32 check value of "123456789" is 0xCBF43926 = 3421780262.
    let n = 0xcbf43926;
    let expected = '';
    for (let i = 0; i < 6; i++) {
      expected = BASE62_ALPHABET.charAt(n % 62) + expected;
      n = Math.floor(n / 62);
    }
    expect(base62Checksum('123456789')).toBe(expected);
    expect(base62Checksum('')).toBe('000000');
  });
});

describe('API keys', () => {
  it('generates svcak_<16>_<32><6> with a matching key id and a valid checksum', () => {
    const { keyId, secret, key } = generateApiKey();
    expect(keyId).toMatch(/^[0-9A-Za-z]{16}$/);
    expect(secret).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(key).toMatch(/^svcak_[0-9A-Za-z]{16}_[0-9A-Za-z]{38}$/);
    expect(key.startsWith(`svcak_${keyId}_${secret}`)).toBe(true);
    expect(key).toHaveLength(6 + 16 + 1 + 32 + 6);
    expect(key.slice(-6)).toBe(base62Checksum(key.slice(0, -6)));
  });

  it('generates unique keys and key ids', () => {
    const keys = Array.from({ length: 1000 }, () => generateApiKey());
    expect(new Set(keys.map((k) => k.key)).size).toBe(1000);
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(1000);
  });

  it('parses a generated key', () => {
    const { keyId, key } = generateApiKey();
    expect(parseApiKey(key)).toEqual({ ok: true, keyId, key });
  });

  const valid = generateApiKey();
  const body = valid.key.slice(0, -6);
  const formatFailures: Array<[string, string]> = [
    ['empty string', ''],
    ['prefix only', 'svcak_'],
    ['wrong prefix', `svcax_${valid.key.slice(6)}`],
    ['prefix in upper case', valid.key.replace('svcak_', 'SVCAK_')],
    ['client secret prefix', `svcs_${valid.key.slice(6)}`],
    ['missing separator', valid.key.replace(`${valid.keyId}_`, valid.keyId)],
    ['separator moved', resign(`svcak_${valid.keyId.slice(0, 15)}_${valid.keyId.slice(15)}${valid.secret}`)],
    ['one character short', resign(body.slice(0, -1))],
    ['one character long', resign(`${body}a`)],
    ['key id too short', resign(`svcak_${valid.keyId.slice(1)}_${valid.secret}a`)],
    ['checksum truncated', valid.key.slice(0, -1)],
    ['checksum extended', `${valid.key}0`],
    ['non-base62 char in secret', resign(`${body.slice(0, -1)}-`)],
    ['non-base62 char in key id', resign(`svcak_${valid.keyId.slice(0, -1)}+_${valid.secret}`)],
    ['non-ASCII char', resign(`${body.slice(0, -1)}é`)],
    ['non-base62 char in checksum', `${valid.key.slice(0, -1)}=`],
    ['leading space', ` ${valid.key}`],
    ['trailing newline', `${valid.key}\n`],
    ['embedded in other text', `token=${valid.key}`],
    ['Basic credentials instead of the key', `api:${valid.key}`],
  ];

  it.each(formatFailures)('refuses as format: %s', (_name, value) => {
    expect(parseApiKey(value)).toEqual({ ok: false, reason: 'format' });
  });

  it.each([0, 1, 2, 3, 4, 5])('refuses as checksum: checksum character %i changed', (index) => {
    const position = valid.key.length - 6 + index;
    expect(parseApiKey(substitute(valid.key, position))).toEqual({ ok: false, reason: 'checksum' });
  });

  it('refuses as checksum: any one-character typo in key id or secret', () => {
    const keyIdStart = 'svcak_'.length;
    const secretStart = keyIdStart + 17;
    const positions = [
      ...Array.from({ length: 16 }, (_, i) => keyIdStart + i),
      ...Array.from({ length: 32 }, (_, i) => secretStart + i),
    ];
    for (const position of positions) {
      for (const offset of [1, 26, 61]) {
        expect(parseApiKey(substitute(valid.key, position, offset))).toEqual({
          ok: false,
          reason: 'checksum',
        });
      }
    }
  });

  it('refuses as checksum: two adjacent secret characters swapped', () => {
    const { key } = generateApiKey();
    const secretStart = 'svcak_'.length + 17;
    for (let i = secretStart; i < secretStart + 31; i++) {
      if (key[i] === key[i + 1]) continue;
      const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
      expect(parseApiKey(swapped)).toEqual({ ok: false, reason: 'checksum' });
    }
  });

  it('refuses as checksum: a well-shaped value with a made-up secret', () => {
    expect(parseApiKey(`svcak_${'a'.repeat(16)}_${'b'.repeat(32)}000000`)).toEqual({
      ok: false,
      reason: 'checksum',
    });
  });

  describe('API_KEY_PATTERN (for secret scanners)', () => {
    it('finds keys inside text', () => {
      const { key } = generateApiKey();
      for (const text of [key, `API_KEY=${key}`, `"${key}"`, `curl -u api:${key} https://x`, `${key}\n`]) {
        expect(text.match(API_KEY_PATTERN)?.[0]).toBe(key);
      }
    });

    it('finds every key with a global copy', () => {
      const a = generateApiKey().key;
      const b = generateApiKey().key;
      const found = `${a} and ${b}`.match(new RegExp(API_KEY_PATTERN.source, 'g'));
      expect(found).toEqual([a, b]);
    });

    it('is not stateful (not global or sticky)', () => {
      expect(API_KEY_PATTERN.global).toBe(false);
      expect(API_KEY_PATTERN.sticky).toBe(false);
    });

    it.each([
      ['shorter', generateApiKey().key.slice(0, -1)],
      ['longer', `${generateApiKey().key}x`],
      ['other prefix', generateApiKey().key.replace('svcak_', 'svcax_')],
      ['glued to a word', `xsvcak_${generateApiKey().key.slice(6)}`],
    ])('ignores lookalikes: %s', (_name, text) => {
      expect(API_KEY_PATTERN.test(text)).toBe(false);
    });
  });
});

describe('client ids', () => {
  it('generates svcc_ + 22 base62 characters, unique', () => {
    const ids = Array.from({ length: 1000 }, () => generateClientId());
    for (const id of ids) {
      expect(id).toMatch(/^svcc_[0-9A-Za-z]{22}$/);
      expect(isClientIdFormat(id)).toBe(true);
    }
    expect(new Set(ids).size).toBe(1000);
  });

  const id = generateClientId();
  it.each([
    ['empty', ''],
    ['wrong prefix', id.replace('svcc_', 'svcs_')],
    ['no prefix', id.slice(5)],
    ['too short', id.slice(0, -1)],
    ['too long', `${id}A`],
    ['bad character', `${id.slice(0, -1)}_`],
    ['surrounding whitespace', ` ${id} `],
  ])('refuses %s', (_name, value) => {
    expect(isClientIdFormat(value)).toBe(false);
  });
});

describe('client secrets', () => {
  it('generates svcs_ + 40 base62 + 6-character checksum, unique and well formed', () => {
    const secrets = Array.from({ length: 1000 }, () => generateClientSecret());
    for (const secret of secrets) {
      expect(secret).toMatch(/^svcs_[0-9A-Za-z]{46}$/);
      expect(secret.slice(-6)).toBe(base62Checksum(secret.slice(0, -6)));
      expect(isClientSecretWellFormed(secret)).toBe(true);
    }
    expect(new Set(secrets).size).toBe(1000);
  });

  const secret = generateClientSecret();
  const body = secret.slice(0, -6);
  it.each([
    ['empty', ''],
    ['wrong prefix', resign(body.replace('svcs_', 'svck_'))],
    ['API key prefix', resign(body.replace('svcs_', 'svcak_'))],
    ['too short', resign(body.slice(0, -1))],
    ['too long', resign(`${body}Z`)],
    ['bad character', resign(`${body.slice(0, -1)}/`)],
    ['checksum character changed', substitute(secret, secret.length - 1)],
    ['first checksum character changed', substitute(secret, secret.length - 6)],
    ['one-character typo in the secret', substitute(secret, 10)],
    ['trailing whitespace', `${secret} `],
  ])('refuses %s', (_name, value) => {
    expect(isClientSecretWellFormed(value)).toBe(false);
  });

  it('detects every one-character typo in the secret body', () => {
    for (let i = 'svcs_'.length; i < secret.length - 6; i++) {
      expect(isClientSecretWellFormed(substitute(secret, i, 7))).toBe(false);
    }
  });

  it('CLIENT_SECRET_PATTERN finds a secret in text', () => {
    expect(`client_secret=${secret}&x=1`.match(CLIENT_SECRET_PATTERN)?.[0]).toBe(secret);
    expect(CLIENT_SECRET_PATTERN.test(`${secret}0`)).toBe(false);
  });
});

describe('legacy keys', () => {
  it('gives an imported key a random public id, unrelated to the key', () => {
    const ids = new Set(Array.from({ length: 50 }, () => generateLegacyKeyClientId()));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^legacy_[0-9A-Za-z]{22}$/);
  });

  it('finds a key by an HMAC under each server secret, then by the digest rows kept before 0004', () => {
    const key = 'old-system-key-0123456789';
    const current = Buffer.alloc(32, 1);
    const previous = Buffer.alloc(32, 2);
    const lookups = legacyKeyLookups(key, [current, previous]);
    expect(lookups).toHaveLength(3);
    expect(lookups[0]).toBe(legacyKeyLookup(key, current));
    expect(lookups[0]).toMatch(/^hmac:[0-9a-f]{64}$/);
    expect(lookups[1]).not.toBe(lookups[0]);
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    expect(legacyKeyLookups('abc', [])).toEqual(['sha256:ba7816bf8f01cfea414140de']);
    expect(legacyKeyLookup(key, current)).not.toBe(legacyKeyLookup(`${key}x`, current));
  });

  it('shows none of a legacy key in its hint, and refuses keys of few distinct characters', () => {
    expect(LEGACY_KEY_DISPLAY_HINT).toBe('legacy_…');
    expect(isGuessableLegacyKey('aaaaaaaaaaaaaaaaaaaa')).toBe(true);
    expect(isGuessableLegacyKey('abababababababababab')).toBe(true);
    expect(isGuessableLegacyKey('old-system-key-0123456789')).toBe(false);
  });

  it.each([
    ['16 characters (minimum)', 'a'.repeat(16)],
    ['512 characters (maximum)', 'a'.repeat(512)],
    ['all printable punctuation', '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'],
    ['with spaces', 'legacy key with spaces'],
    ['a hex token', 'deadbeefdeadbeefdeadbeefdeadbeef'],
  ])('accepts %s', (_name, value) => {
    expect(isLegacyKeyShape(value)).toBe(true);
  });

  it.each([
    ['15 characters', 'a'.repeat(15)],
    ['513 characters', 'a'.repeat(513)],
    ['empty', ''],
    ['a tab', `${'a'.repeat(16)}\t`],
    ['a newline', `${'a'.repeat(16)}\n`],
    ['a NUL byte', `${'a'.repeat(16)}\0`],
    ['DEL', `${'a'.repeat(16)}\x7f`],
    ['non-ASCII', `${'a'.repeat(16)}é`],
    ['a mistyped svcauth API key', substitute(generateApiKey().key, 20)],
    ['an svcauth client secret', generateClientSecret()],
    ['an svcauth client id', generateClientId()],
  ])('refuses %s', (_name, value) => {
    expect(isLegacyKeyShape(value)).toBe(false);
  });
});

describe('displayHint', () => {
  it('shows the API key prefix and its last 4 characters', () => {
    const { key } = generateApiKey();
    expect(displayHint(key)).toBe(`svcak_…${key.slice(-4)}`);
  });

  it('shows the client secret prefix and its last 4 characters', () => {
    const secret = generateClientSecret();
    expect(displayHint(secret)).toBe(`svcs_…${secret.slice(-4)}`);
  });

  it('shows a legacy key without a prefix', () => {
    expect(displayHint('abcdefghijklmnopqrstuvwxyz')).toBe('…wxyz');
  });

  it('never reveals more than 4 characters beyond the prefix', () => {
    for (const value of [generateApiKey().key, generateClientSecret(), 'x'.repeat(16), 'y'.repeat(512)]) {
      const hint = displayHint(value);
      const revealed = hint.slice(hint.indexOf('…') + 1);
      expect(revealed.length).toBeLessThanOrEqual(4);
      expect(hint).not.toContain(value.slice(-5));
    }
  });

  it.each([
    ['', '…'],
    ['short', '…'],
    ['svcs_abc', 'svcs_…'],
    ['svcak_abcd', 'svcak_…'],
  ])('reveals nothing of a value too short to spare 4 characters: %j', (value, hint) => {
    expect(displayHint(value)).toBe(hint);
  });
});

describe('resource server secrets', () => {
  it('are svcrs_ + 40 base62 + checksum, listed in RESOURCE_SERVERS by their SHA-256', async () => {
    const { generateResourceServerSecret, isResourceServerSecretWellFormed, resourceServerEntry } =
      await import('../../../src/domain/credential-format.ts');
    const secret = generateResourceServerSecret();
    expect(secret).toMatch(/^svcrs_[0-9A-Za-z]{46}$/);
    expect(isResourceServerSecretWellFormed(secret)).toBe(true);
    expect(
      isResourceServerSecretWellFormed(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`),
    ).toBe(false);
    expect(isResourceServerSecretWellFormed(generateClientSecret())).toBe(false);
    const { createHash } = await import('node:crypto');
    expect(resourceServerEntry('items-api', secret)).toBe(
      `items-api:${createHash('sha256').update(secret).digest('hex')}`,
    );
  });
});
