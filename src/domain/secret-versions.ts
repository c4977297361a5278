/**
 * A credential's secret has a version: 1, then one more with every regeneration. A token carries the
 * version of the secret it was obtained with (`secret_version`), so that it stops working when that
 * secret does: at once for a regeneration without a grace period, at the grace's end otherwise, and
 * not only when the token expires. Pure: time comes in as an argument.
 */

/** Which of a credential's secrets a presented one matched: the current one, or its predecessor. */
export type SecretMatch = 'current' | 'previous';

export interface SecretVersionFacts {
  /** The current secret's version. */
  secretVersion: number;
  /** Until when the predecessor (version - 1) still works; null when it does not. */
  previousSecretExpiresAt: Date | null;
}

/** The version of the secret a presentation matched. */
export function matchedSecretVersion(
  match: SecretMatch,
  facts: Pick<SecretVersionFacts, 'secretVersion'>,
): number {
  return match === 'current' ? facts.secretVersion : facts.secretVersion - 1;
}

/** Whether the predecessor of the current secret still works at `now` (a regeneration's grace period). */
export function isPreviousSecretLive(previousSecretExpiresAt: Date | null, now: Date): boolean {
  return previousSecretExpiresAt !== null && previousSecretExpiresAt.getTime() > now.getTime();
}

/** The oldest secret version whose tokens are still good at `now`. */
export function oldestLiveSecretVersion(facts: SecretVersionFacts, now: Date): number {
  return isPreviousSecretLive(facts.previousSecretExpiresAt, now)
    ? facts.secretVersion - 1
    : facts.secretVersion;
}

/**
 * What a regeneration retires, for the revocation feed: tokens of a version below `oldestVersion` are
 * refused from `effectiveAt` on (the grace's end, or the regeneration itself without one).
 */
export function secretRetirement(facts: {
  secretVersion: number;
  previousSecretExpiresAt: Date | null;
  secretChangedAt: Date;
}): { oldestVersion: number; effectiveAt: Date } {
  return {
    oldestVersion: facts.secretVersion,
    effectiveAt: facts.previousSecretExpiresAt ?? facts.secretChangedAt,
  };
}

/**
 * A token without `secret_version` was obtained with version 1: it came from a credential with no
 * secret (private_key_jwt, never regenerated) or before tokens carried the claim.
 */
export const UNVERSIONED_SECRET = 1;
