/**
 * Who may hold credentials, of which type, and which credentials can have their secret replaced.
 * Pure checks; the services call them against rows read inside the mutating transaction.
 */
import { DomainError } from './errors.ts';
import type { CredentialStatus, CredentialType } from './status.ts';

export function assertAccountCanHoldCredentials(account: {
  isProtected: boolean;
  archivedAt: Date | null;
}): void {
  if (account.isProtected) {
    throw new DomainError(
      'protected_account',
      'the built-in service account is managed by the product: its credentials come from the platform API, never from its admins',
    );
  }
  if (account.archivedAt !== null) {
    throw new DomainError(
      'account_archived',
      'this service account is archived; its credentials are revoked and it cannot get new ones',
    );
  }
}

export function assertCredentialTypeAllowed(type: CredentialType, allowed: readonly CredentialType[]): void {
  if (allowed.includes(type)) return;
  throw new DomainError(
    'credential_type_not_allowed',
    `this organization's API security settings allow ${allowed.join(', ') || 'no credential types'}; not ${type}`,
    { field: 'type', allowed },
  );
}

export function assertCredentialActive(status: CredentialStatus, action: string): void {
  if (status === 'active') return;
  throw new DomainError(
    'credential_not_active',
    `this credential is ${status}; it cannot be ${action}. Create a new credential instead`,
    { status },
  );
}

/**
 * Regenerating keeps the client id (or key id) and replaces the secret. A private_key_jwt credential
 * has no secret, and a legacy key's id is derived from the key itself, so neither can keep its id
 * with a new secret: both are rotated instead.
 */
export function assertRegenerable(credential: { type: CredentialType; isLegacy: boolean }): void {
  if (credential.type === 'private_key_jwt') {
    throw new DomainError(
      'not_regenerable',
      'a private_key_jwt credential has no secret to regenerate; rotate it with the new public keys instead',
    );
  }
  if (credential.isLegacy) {
    throw new DomainError(
      'not_regenerable',
      'an imported legacy key cannot keep its id with a new secret; rotate it to get a new svcauth API key',
    );
  }
}
