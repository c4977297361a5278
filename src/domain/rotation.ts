/**
 * Pure planning of credential lifecycle changes. Nothing here writes anything: the caller applies the
 * returned plan inside one transaction, so a rule is checked and enforced against the same snapshot.
 */
import { DomainError } from './errors.ts';
import type { CredentialSlot } from './status.ts';

export interface LiveLineageMember {
  id: string;
  slot: CredentialSlot;
}

export interface RotationPlan {
  /** Credentials to revoke now. */
  revoke: string[];
  /** The current primary, which keeps working as secondary so clients can switch over without downtime. */
  demoteToSecondary: string | null;
  /**
   * A secondary left alone by the revocation of its primary, rotated by name: it stands in for the
   * primary (promoted), so the rotation demotes it again and it keeps working beside the new primary.
   */
  promoted: string | null;
}

/**
 * Rotation adds a new primary while the old primary keeps working as secondary. A lineage holds at
 * most two live credentials, so an existing secondary (the one rotated out last time) is revoked, and
 * the rotation reports it. `liveInLineage` holds the lineage's unrevoked credentials; `rotatedId` is
 * the one the caller named. Naming the secondary while a primary is live is refused: that rotation
 * would revoke the very credential named, which the caller may not expect. A secondary whose primary
 * was revoked is promoted in its place.
 */
export function planRotation(liveInLineage: readonly LiveLineageMember[], rotatedId: string): RotationPlan {
  const primaries = liveInLineage.filter((c) => c.slot === 'primary');
  if (primaries.length > 1) {
    // Two primaries mean the data broke an invariant; guessing which one to keep could cut off a client.
    throw new DomainError(
      'multiple_live_primaries',
      `this credential lineage has ${primaries.length} live primary credentials; revoke all but one, then rotate again`,
      { primaryIds: primaries.map((c) => c.id) },
    );
  }
  const secondaries = liveInLineage.filter((c) => c.slot === 'secondary');
  const primary = primaries[0];
  if (primary) {
    if (primary.id !== rotatedId && secondaries.some((c) => c.id === rotatedId)) {
      throw new DomainError(
        'rotate_the_primary',
        `this credential is the secondary of its lineage, and rotating would revoke it. Rotate the primary ` +
          `${primary.id} instead (this secondary is then revoked and the primary becomes the secondary), ` +
          'or revoke this credential',
        { primary_credential_id: primary.id },
      );
    }
    return {
      // Every secondary goes, even several: it also heals a lineage left with more than one.
      revoke: secondaries.map((c) => c.id),
      demoteToSecondary: primary.id,
      promoted: null,
    };
  }
  const named = secondaries.find((c) => c.id === rotatedId);
  if (!named) {
    throw new DomainError(
      'no_live_primary',
      'this credential lineage has no live primary credential to rotate; create a new credential instead',
    );
  }
  return {
    revoke: secondaries.filter((c) => c.id !== named.id).map((c) => c.id),
    demoteToSecondary: named.id,
    promoted: named.id,
  };
}

/**
 * Regenerating replaces a credential's secret in place. With a grace period the previous secret keeps
 * working until the returned instant, so deployed clients can be updated without an outage.
 */
export function planRegeneration(input: { now: Date; graceSeconds: number; maxGraceSeconds: number }): {
  previousSecretValidUntil: Date | null;
} {
  const { now, graceSeconds, maxGraceSeconds } = input;
  if (!Number.isFinite(graceSeconds) || graceSeconds < 0) {
    throw new DomainError(
      'grace_invalid',
      `grace period must be a number of seconds, 0 or more (got ${graceSeconds}); use 0 to invalidate the previous secret at once`,
      { graceSeconds },
    );
  }
  if (graceSeconds > maxGraceSeconds) {
    throw new DomainError(
      'grace_too_long',
      `grace period is ${formatDuration(graceSeconds)}; at most ${formatDuration(maxGraceSeconds)} is allowed`,
      { graceSeconds, maxGraceSeconds },
    );
  }
  if (graceSeconds === 0) return { previousSecretValidUntil: null };
  return { previousSecretValidUntil: new Date(now.getTime() + graceSeconds * 1000) };
}

/**
 * The expiry a new credential gets. An organization with a maximum lifetime gets no immortal
 * credentials: when none is requested, the maximum applies. Returns null only when the organization
 * has no maximum and none was requested.
 */
export function checkCredentialExpiry(input: {
  now: Date;
  requestedExpiresAt: Date | null;
  maxLifetimeSeconds: number | null;
}): Date | null {
  const { now, requestedExpiresAt, maxLifetimeSeconds } = input;
  const latestAllowed =
    maxLifetimeSeconds === null ? null : new Date(now.getTime() + maxLifetimeSeconds * 1000);

  if (requestedExpiresAt === null) return latestAllowed;

  if (Number.isNaN(requestedExpiresAt.getTime())) {
    throw new DomainError('expiry_invalid', 'expires_at is not a valid date; send an RFC 3339 timestamp');
  }
  if (requestedExpiresAt.getTime() <= now.getTime()) {
    throw new DomainError(
      'expiry_in_past',
      `expires_at (${requestedExpiresAt.toISOString()}) is not in the future; choose a later time`,
      { expiresAt: requestedExpiresAt.toISOString(), now: now.toISOString() },
    );
  }
  if (
    latestAllowed !== null &&
    maxLifetimeSeconds !== null &&
    requestedExpiresAt.getTime() > latestAllowed.getTime()
  ) {
    const requestedSeconds = (requestedExpiresAt.getTime() - now.getTime()) / 1000;
    throw new DomainError(
      'expiry_too_far',
      `expires_at is ${formatDuration(requestedSeconds)} away; this organization allows at most ` +
        `${formatDuration(maxLifetimeSeconds)} (no later than ${latestAllowed.toISOString()})`,
      {
        expiresAt: requestedExpiresAt.toISOString(),
        latestAllowed: latestAllowed.toISOString(),
        maxLifetimeSeconds,
      },
    );
  }
  return requestedExpiresAt;
}

/**
 * Refuses one more credential when the account already has `max` live ones. `max` null means the
 * organization sets no limit.
 */
export function checkCredentialQuota(liveCount: number, max: number | null): void {
  if (max === null || liveCount < max) return;
  throw new DomainError(
    'credential_limit_reached',
    `this service account has ${liveCount} live credential${liveCount === 1 ? '' : 's'} and this organization ` +
      `allows at most ${max}; revoke one first (to replace a secret without adding a credential, regenerate it)`,
    { liveCount, max },
  );
}

/**
 * The live count to hand to checkCredentialQuota when rotating. The new credential is created before
 * the old secondary is revoked, yet the secondary's slot is what makes room for it, so it must not
 * count: rotating a full lineage at the limit is allowed, rotating a lone primary at the limit is not
 * (the old primary stays live as secondary).
 */
export function liveCountAfterRotation(liveCount: number, plan: RotationPlan): number {
  return liveCount - plan.revoke.length;
}

const DURATION_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];

/** "400 days", "1.5 days", "90 minutes" is "1.5 hours": the largest unit reached, up to two decimals. */
function formatDuration(seconds: number): string {
  const [name, size] = DURATION_UNITS.find(([, unit]) => seconds >= unit) ?? ['second', 1];
  const amount = Math.round((seconds / size) * 100) / 100;
  return `${amount} ${name}${amount === 1 ? '' : 's'}`;
}
