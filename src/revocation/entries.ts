/**
 * The entries of the revocation feed (docs/revocation-feed.md) and the rules that make them. Pure: no
 * I/O, time comes in as an argument.
 */
import { LIMITS } from '../../config/defaults.ts';
import type { RevocationRecords } from '../persistence/repositories/revocation-repository.ts';
import type { ChangeEvent } from '../state/change-notifier.ts';

/**
 * How long after a revocation a token issued before it may still be presented: the longest access-token
 * lifetime, plus a minute for clock skew and verifiers' leeway. After that the entry can be forgotten.
 */
export const REVOCATION_HORIZON_SECONDS = LIMITS.ACCESS_TOKEN_TTL_MAX_SECONDS + 60;

export type RevocationEntry =
  | { type: 'credential'; client_id: string; org_id: string; account_id: string; until: number }
  | { type: 'token'; jti: string; org_id: string; until: number }
  | {
      type: 'secret';
      client_id: string;
      org_id: string;
      account_id: string;
      /** Tokens with a lower `secret_version` (absent: 1) are refused from `effective_at` (epoch s) on. */
      secret_version: number;
      effective_at: number;
      until: number;
    }
  | { type: 'account'; account_id: string; org_id: string; permissions_version: number; until: number }
  | { type: 'organization'; org_id: string; enabled: boolean; until: number };

/** `until` of an entry for something that happened at `atMs`: no token issued before can outlive it. */
export function untilAfter(atMs: number): number {
  return Math.ceil(atMs / 1000) + REVOCATION_HORIZON_SECONDS;
}

/**
 * The feed entry a committed change calls for, or null: a revoked credential, a permissions version
 * bump (tokens with a lower version are stale), the API module switched. Other changes only concern
 * caches.
 */
export function entryForChange(event: ChangeEvent, nowMs: number): RevocationEntry | null {
  switch (event.type) {
    case 'credential':
      if (event.revoked) {
        return {
          type: 'credential',
          client_id: event.clientId,
          org_id: event.orgId,
          account_id: event.accountId,
          until: untilAfter(nowMs),
        };
      }
      return event.secretRetired
        ? secretEntry({
            clientId: event.clientId,
            orgId: event.orgId,
            accountId: event.accountId,
            oldestVersion: event.secretRetired.oldestVersion,
            effectiveAtMs: event.secretRetired.effectiveAtMs,
          })
        : null;
    case 'account':
      return event.permissionsVersion !== undefined
        ? {
            type: 'account',
            account_id: event.accountId,
            org_id: event.orgId,
            permissions_version: event.permissionsVersion,
            until: untilAfter(nowMs),
          }
        : null;
    case 'catalog':
      return null;
    case 'organization':
      return event.apiEnabled !== undefined
        ? { type: 'organization', org_id: event.orgId, enabled: event.apiEnabled, until: untilAfter(nowMs) }
        : null;
    case 'deployment_credentials':
      // Resource servers and operators hold no tokens: only the instances' credential lists change.
      return null;
  }
}

/** A regenerated secret: its predecessor's tokens stop at `effectiveAtMs` (the grace's end, or at once). */
function secretEntry(input: {
  clientId: string;
  orgId: string;
  accountId: string;
  oldestVersion: number;
  effectiveAtMs: number;
}): RevocationEntry {
  return {
    type: 'secret',
    client_id: input.clientId,
    org_id: input.orgId,
    account_id: input.accountId,
    secret_version: input.oldestVersion,
    // Rounded down: a token is never accepted after its secret stopped.
    effective_at: Math.floor(input.effectiveAtMs / 1000),
    until: untilAfter(input.effectiveAtMs),
  };
}

/** A token revoked through POST /revoke matters until it expires (`exp`, epoch seconds). */
export function tokenEntry(input: { jti: string; orgId: string; expiresAt: number }): RevocationEntry {
  return { type: 'token', jti: input.jti, org_id: input.orgId, until: input.expiresAt };
}

/**
 * The entry's identity in the index of active entries: a later entry with the same identity replaces
 * the earlier one (an organization switched back on). Account entries keep one member per version, so
 * two instances recording bumps in either order never leave the lower version standing alone.
 */
export function entryMember(entry: RevocationEntry): string {
  switch (entry.type) {
    case 'credential':
      return `credential:${entry.client_id}`;
    case 'token':
      return `token:${entry.jti}`;
    case 'secret':
      return `secret:${entry.client_id}:${entry.secret_version}`;
    case 'account':
      return `account:${entry.account_id}:${entry.permissions_version}`;
    case 'organization':
      return `organization:${entry.org_id}`;
  }
}

/**
 * The active entries rebuilt from Postgres when the state store lost them. An organization that is
 * still switched off stays refused for a full horizon from now (its tokens were issued before the
 * switch, at an unknown time).
 */
export function entriesFromRecords(records: RevocationRecords, nowMs: number): RevocationEntry[] {
  const nowSeconds = Math.floor(nowMs / 1000);
  const entries: RevocationEntry[] = [
    ...records.credentials.map((c): RevocationEntry => ({
      type: 'credential',
      client_id: c.client_id,
      org_id: c.org_id,
      account_id: c.account_id,
      until: untilAfter(c.revoked_at.getTime()),
    })),
    ...records.regeneratedSecrets.map((c) =>
      secretEntry({
        clientId: c.client_id,
        orgId: c.org_id,
        accountId: c.account_id,
        oldestVersion: c.secret_version,
        effectiveAtMs: (c.previous_secret_expires_at ?? c.secret_changed_at).getTime(),
      }),
    ),
    ...records.accounts.map((a): RevocationEntry => ({
      type: 'account',
      account_id: a.account_id,
      org_id: a.org_id,
      permissions_version: a.permissions_version,
      until: untilAfter(a.changed_at.getTime()),
    })),
    ...records.disabledOrganizations.map((o): RevocationEntry => ({
      type: 'organization',
      org_id: o.org_id,
      enabled: false,
      until: untilAfter(nowMs),
    })),
    ...records.tokens.map((t) =>
      tokenEntry({ jti: t.jti, orgId: t.org_id, expiresAt: Math.ceil(t.expires_at.getTime() / 1000) }),
    ),
  ];
  return entries.filter((entry) => entry.until >= nowSeconds);
}

/**
 * A feed cursor: the epoch of the state store's revocation state (a new one after every rebuild, so
 * cursors from before a loss are recognised as too old) and a position in its log.
 */
export interface FeedCursor {
  epoch: string;
  position: string;
}

const CURSOR = /^([0-9A-Za-z]{1,32}):(\d{1,16}-\d{1,16})$/;

export function formatCursor(cursor: FeedCursor): string {
  return `${cursor.epoch}:${cursor.position}`;
}

/** The cursor a subscriber sent back, or null when it is not one of ours. */
export function parseCursor(value: string | null | undefined): FeedCursor | null {
  const match = value ? CURSOR.exec(value.trim()) : null;
  return match ? { epoch: match[1]!, position: match[2]! } : null;
}
