import { describe, expect, it } from 'vitest';
import {
  accountStatus,
  CREDENTIAL_TYPES,
  type CredentialStatus,
  credentialStatus,
  isCredentialType,
} from '../../../src/domain/status.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const BEFORE = new Date('2025-05-01T00:00:00Z');
const AFTER = new Date('2025-07-01T00:00:00Z');

describe('accountStatus', () => {
  it.each([
    { archivedAt: null, roleCount: 1, expected: 'active' },
    { archivedAt: null, roleCount: 5, expected: 'active' },
    { archivedAt: null, roleCount: 0, expected: 'disabled' },
    { archivedAt: BEFORE, roleCount: 3, expected: 'archived' },
    { archivedAt: BEFORE, roleCount: 0, expected: 'archived' },
  ] as const)('archivedAt=$archivedAt roleCount=$roleCount -> $expected', ({ expected, ...account }) => {
    expect(accountStatus(account)).toBe(expected);
  });
});

describe('credentialStatus', () => {
  const cases: Array<{
    name: string;
    revokedAt: Date | null;
    expiresAt: Date | null;
    expected: CredentialStatus;
  }> = [
    { name: 'no expiry, not revoked', revokedAt: null, expiresAt: null, expected: 'active' },
    { name: 'expires later', revokedAt: null, expiresAt: AFTER, expected: 'active' },
    { name: 'expired', revokedAt: null, expiresAt: BEFORE, expected: 'expired' },
    { name: 'expires exactly now', revokedAt: null, expiresAt: NOW, expected: 'expired' },
    {
      name: 'one millisecond before expiry',
      revokedAt: null,
      expiresAt: new Date(NOW.getTime() + 1),
      expected: 'active',
    },
    { name: 'revoked', revokedAt: BEFORE, expiresAt: null, expected: 'revoked' },
    {
      name: 'revoked and expired: revocation wins',
      revokedAt: BEFORE,
      expiresAt: BEFORE,
      expected: 'revoked',
    },
    { name: 'revoked, would expire later', revokedAt: BEFORE, expiresAt: AFTER, expected: 'revoked' },
  ];
  it.each(cases)('$name -> $expected', ({ revokedAt, expiresAt, expected }) => {
    expect(credentialStatus({ revokedAt, expiresAt }, NOW)).toBe(expected);
  });
});

describe('credential types', () => {
  it('lists the three types', () => {
    expect(CREDENTIAL_TYPES).toEqual(['oauth_client', 'api_key', 'private_key_jwt']);
  });

  it.each([...CREDENTIAL_TYPES])('recognizes %s', (type) => {
    expect(isCredentialType(type)).toBe(true);
  });

  it.each(['', 'API_KEY', 'client_secret', 'password', null, 1, undefined])('refuses %j', (value) => {
    expect(isCredentialType(value)).toBe(false);
  });
});
