import { describe, expect, it } from 'vitest';
import { changedFields, hasChanges } from '../../../src/domain/audit-diff.ts';
import {
  assertAccountCanHoldCredentials,
  assertCredentialActive,
  assertCredentialTypeAllowed,
  assertRegenerable,
} from '../../../src/domain/credential-lifecycle.ts';
import { generateApiKey, parseApiKey } from '../../../src/domain/credential-format.ts';

function codeOf(run: () => void): string | null {
  try {
    run();
    return null;
  } catch (error) {
    return (error as { code?: string }).code ?? 'not a DomainError';
  }
}

describe('credential lifecycle rules', () => {
  it('let only live, unprotected accounts hold credentials', () => {
    expect(
      codeOf(() => assertAccountCanHoldCredentials({ isProtected: false, archivedAt: null })),
    ).toBeNull();
    expect(codeOf(() => assertAccountCanHoldCredentials({ isProtected: true, archivedAt: null }))).toBe(
      'protected_account',
    );
    expect(
      codeOf(() => assertAccountCanHoldCredentials({ isProtected: false, archivedAt: new Date() })),
    ).toBe('account_archived');
  });

  it("refuse types outside the organization's settings", () => {
    expect(codeOf(() => assertCredentialTypeAllowed('api_key', ['api_key']))).toBeNull();
    expect(codeOf(() => assertCredentialTypeAllowed('oauth_client', ['api_key']))).toBe(
      'credential_type_not_allowed',
    );
  });

  it('act only on active credentials', () => {
    expect(codeOf(() => assertCredentialActive('active', 'rotated'))).toBeNull();
    expect(codeOf(() => assertCredentialActive('revoked', 'rotated'))).toBe('credential_not_active');
    expect(codeOf(() => assertCredentialActive('expired', 'regenerated'))).toBe('credential_not_active');
  });

  it('regenerate only credentials whose id survives a new secret', () => {
    expect(codeOf(() => assertRegenerable({ type: 'oauth_client', isLegacy: false }))).toBeNull();
    expect(codeOf(() => assertRegenerable({ type: 'api_key', isLegacy: false }))).toBeNull();
    expect(codeOf(() => assertRegenerable({ type: 'private_key_jwt', isLegacy: false }))).toBe(
      'not_regenerable',
    );
    expect(codeOf(() => assertRegenerable({ type: 'api_key', isLegacy: true }))).toBe('not_regenerable');
  });
});

describe('generateApiKey with an existing key id', () => {
  it('keeps the key id and changes the secret', () => {
    const first = generateApiKey();
    const regenerated = generateApiKey(first.keyId);
    expect(regenerated.keyId).toBe(first.keyId);
    expect(regenerated.key).not.toBe(first.key);
    expect(parseApiKey(regenerated.key)).toEqual({ ok: true, keyId: first.keyId, key: regenerated.key });
  });

  it('refuses something that is not a key id', () => {
    expect(() => generateApiKey('short')).toThrow(/not an API key id/);
  });
});

describe('changedFields', () => {
  it('keeps only what changed, dates by instant and absent as null', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const diff = changedFields(
      { name: 'a', when: at, tags: ['x'], gone: 1 },
      { name: 'b', when: new Date(at.getTime()), tags: ['x'], added: true },
    );
    expect(diff).toEqual({
      before: { name: 'a', gone: 1, added: null },
      after: { name: 'b', gone: null, added: true },
    });
    expect(hasChanges(diff)).toBe(true);
    expect(hasChanges(changedFields({ a: 1 }, { a: 1 }))).toBe(false);
  });
});
