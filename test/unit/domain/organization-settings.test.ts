import { describe, expect, it } from 'vitest';
import {
  NO_LIMITS,
  organizationApiOpen,
  settingsBeyondLimits,
} from '../../../src/domain/organization-settings.ts';

const SETTINGS = {
  allowed_credential_types: ['api_key', 'oauth_client'],
  access_token_ttl_seconds: 300,
  max_credentials_per_account: 10,
  max_credential_lifetime_seconds: null,
};

describe('settingsBeyondLimits', () => {
  it('finds nothing without limits, or within them', () => {
    expect(settingsBeyondLimits(SETTINGS, NO_LIMITS)).toEqual([]);
    expect(
      settingsBeyondLimits(SETTINGS, {
        allowed_credential_types: ['api_key', 'oauth_client', 'private_key_jwt'],
        access_token_ttl_seconds: 300,
        max_credentials_per_account: 10,
        max_credential_lifetime_seconds: null,
      }),
    ).toEqual([]);
  });

  it('names each setting beyond its limit, with the limit', () => {
    const found = settingsBeyondLimits(SETTINGS, {
      allowed_credential_types: ['api_key'],
      access_token_ttl_seconds: 120,
      max_credentials_per_account: 2,
      max_credential_lifetime_seconds: 86_400,
    });
    expect(found.map((f) => [f.field, f.limit])).toEqual([
      ['allowed_credential_types', ['api_key']],
      ['access_token_ttl_seconds', 120],
      ['max_credentials_per_account', 2],
      ['max_credential_lifetime_seconds', 86_400],
    ]);
    expect(found[0]!.message).toMatch(/oauth_client is beyond/);
    expect(found[2]!.message).toBe('max_credentials_per_account may be at most 2 (asked: 10)');
    // A lifetime limit needs a lifetime: "forever" is beyond any.
    expect(found[3]!.message).toMatch(/must be set, at most 86400/);
  });

  it('accepts a lifetime within its limit', () => {
    const limits = { ...NO_LIMITS, max_credential_lifetime_seconds: 100 };
    expect(settingsBeyondLimits({ ...SETTINGS, max_credential_lifetime_seconds: 100 }, limits)).toEqual([]);
    expect(settingsBeyondLimits({ ...SETTINGS, max_credential_lifetime_seconds: 101 }, limits)).toHaveLength(
      1,
    );
  });
});

describe('organizationApiOpen', () => {
  it('is open only when active, entitled and switched on', () => {
    expect(organizationApiOpen({ status: 'active', apiEntitled: true, apiEnabled: true })).toBe(true);
    expect(organizationApiOpen({ status: 'active', apiEntitled: false, apiEnabled: true })).toBe(false);
    expect(organizationApiOpen({ status: 'active', apiEntitled: true, apiEnabled: false })).toBe(false);
    expect(organizationApiOpen({ status: 'suspended', apiEntitled: true, apiEnabled: true })).toBe(false);
  });
});
