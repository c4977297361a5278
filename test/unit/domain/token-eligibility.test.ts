import { describe, expect, it } from 'vitest';
import {
  issuedTokenRefusal,
  type TokenEligibilityFacts,
  tokenEligibility,
} from '../../../src/domain/token-eligibility.ts';

const NOW = new Date('2026-06-01T00:00:00Z');

function facts(
  overrides: {
    credential?: Partial<TokenEligibilityFacts['credential']>;
    account?: Partial<TokenEligibilityFacts['account']>;
    organization?: Partial<TokenEligibilityFacts['organization']>;
  } = {},
): TokenEligibilityFacts {
  return {
    credential: { type: 'oauth_client', revokedAt: null, expiresAt: null, ...overrides.credential },
    account: { archivedAt: null, isProtected: false, roleCount: 1, ...overrides.account },
    organization: {
      apiEnabled: true,
      apiEntitled: true,
      allowedCredentialTypes: ['oauth_client', 'api_key', 'private_key_jwt'],
      status: 'active',
      ...overrides.organization,
    },
  };
}

describe('tokenEligibility', () => {
  it('refuses product and management tokens of a suspended or archived organization', () => {
    for (const status of ['suspended', 'archived'] as const) {
      for (const audience of ['product', 'management'] as const) {
        const result = tokenEligibility(facts({ organization: { status } }), audience, NOW);
        expect(result).toEqual({
          allowed: false,
          gone: false,
          reason: `the organization is ${status}; the platform operator can resume it`,
        });
      }
    }
  });

  it('allows an active credential of an allowed type on an account with roles', () => {
    expect(tokenEligibility(facts(), 'product', NOW)).toEqual({ allowed: true });
    expect(tokenEligibility(facts(), 'management', NOW)).toEqual({ allowed: true });
  });

  it('calls revoked, expired and archived "gone", whatever the audience', () => {
    for (const audience of ['product', 'management'] as const) {
      expect(tokenEligibility(facts({ credential: { revokedAt: NOW } }), audience, NOW)).toMatchObject({
        allowed: false,
        gone: true,
        reason: 'the credential is revoked',
      });
      expect(tokenEligibility(facts({ credential: { expiresAt: NOW } }), audience, NOW)).toMatchObject({
        gone: true,
        reason: 'the credential is expired',
      });
      expect(tokenEligibility(facts({ account: { archivedAt: NOW } }), audience, NOW)).toMatchObject({
        gone: true,
      });
    }
  });

  it('refuses a disallowed type and an account without roles, saying why', () => {
    const refusals = [
      [facts({ organization: { allowedCredentialTypes: ['api_key'] } }), /type oauth_client are not allowed/],
      [facts({ account: { roleCount: 0 } }), /no roles/],
      // The built-in account's status is derived like any account's.
      [facts({ account: { isProtected: true, roleCount: 0 } }), /no roles/],
    ] as const;
    for (const [input, reason] of refusals) {
      for (const audience of ['product', 'management'] as const) {
        const verdict = tokenEligibility(input, audience, NOW);
        expect(verdict).toMatchObject({ allowed: false, gone: false });
        expect(!verdict.allowed && verdict.reason).toMatch(reason);
      }
    }
  });

  it('lets the built-in account have tokens while it has roles, whatever types the admins allow', () => {
    const builtIn = facts({
      account: { isProtected: true },
      organization: { allowedCredentialTypes: ['private_key_jwt'] },
    });
    expect(tokenEligibility(builtIn, 'product', NOW)).toEqual({ allowed: true });
    // Everything else binds it like any account: the entitlement, the switch, suspension.
    expect(
      tokenEligibility(
        facts({ account: { isProtected: true }, organization: { apiEntitled: false } }),
        'product',
        NOW,
      ),
    ).toMatchObject({ allowed: false });
  });

  it('applies the API module switch to product tokens only', () => {
    const off = facts({ organization: { apiEnabled: false } });
    expect(tokenEligibility(off, 'product', NOW)).toMatchObject({ allowed: false, gone: false });
    expect(tokenEligibility(off, 'management', NOW)).toEqual({ allowed: true });
  });

  it("applies the product's API entitlement to product tokens only, whatever the admins' switch says", () => {
    for (const apiEnabled of [true, false]) {
      const unentitled = facts({ organization: { apiEntitled: false, apiEnabled } });
      const verdict = tokenEligibility(unentitled, 'product', NOW);
      expect(verdict).toMatchObject({ allowed: false, gone: false });
      expect(!verdict.allowed && verdict.reason).toMatch(/not entitled to the API module/);
      expect(tokenEligibility(unentitled, 'management', NOW)).toEqual({ allowed: true });
    }
  });
});

describe('issuedTokenRefusal', () => {
  const token = { orgId: 'org', accountId: 'acct', permissionsVersion: 2 };
  const current = {
    orgId: 'org',
    accountId: 'acct',
    permissionsVersion: 2,
    oldestSecretVersion: 1,
    refusal: null,
  };

  it('accepts a token whose credential is as it was', () => {
    expect(issuedTokenRefusal(token, current)).toBeNull();
  });

  it('refuses a gone credential, another owner, a current refusal and older permissions', () => {
    expect(issuedTokenRefusal(token, null)).toMatch(/no longer active/);
    expect(issuedTokenRefusal(token, { ...current, orgId: 'other' })).toMatch(/no longer active/);
    expect(issuedTokenRefusal(token, { ...current, accountId: 'other' })).toMatch(/no longer active/);
    expect(issuedTokenRefusal(token, { ...current, refusal: 'nope' })).toBe('nope');
    expect(issuedTokenRefusal(token, { ...current, permissionsVersion: 3 })).toMatch(/permissions changed/);
  });

  it('refuses a token obtained with a secret older than the oldest that still works (no claim: version 1)', () => {
    const regenerated = { ...current, oldestSecretVersion: 2 };
    expect(issuedTokenRefusal(token, regenerated)).toMatch(/regenerated/);
    expect(issuedTokenRefusal({ ...token, secretVersion: 1 }, regenerated)).toMatch(/regenerated/);
    expect(issuedTokenRefusal({ ...token, secretVersion: 2 }, regenerated)).toBeNull();
    expect(issuedTokenRefusal({ ...token, secretVersion: 3 }, regenerated)).toBeNull();
  });
});
