export const CREDENTIAL_TYPES = ['oauth_client', 'api_key', 'private_key_jwt'] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

export const CREDENTIAL_SLOTS = ['primary', 'secondary'] as const;
export type CredentialSlot = (typeof CREDENTIAL_SLOTS)[number];

export type AccountStatus = 'active' | 'disabled' | 'archived';
export type CredentialStatus = 'active' | 'revoked' | 'expired';

export function isCredentialType(value: unknown): value is CredentialType {
  return typeof value === 'string' && (CREDENTIAL_TYPES as readonly string[]).includes(value);
}

/**
 * Status is derived, never stored, so it cannot drift from the facts it summarizes. Archiving is
 * final and wins over everything; an account without roles could obtain a token that grants nothing,
 * so it counts as disabled.
 */
export function accountStatus(account: { archivedAt: Date | null; roleCount: number }): AccountStatus {
  if (account.archivedAt !== null) return 'archived';
  if (account.roleCount <= 0) return 'disabled';
  return 'active';
}

/**
 * Revocation wins over expiry because it is the stronger, deliberate statement, and any recorded
 * revocation counts: revocation is an act, not a schedule. A credential is expired from the instant
 * `expiresAt` is reached.
 */
export function credentialStatus(
  credential: { revokedAt: Date | null; expiresAt: Date | null },
  now: Date,
): CredentialStatus {
  if (credential.revokedAt !== null) return 'revoked';
  if (credential.expiresAt !== null && credential.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}
