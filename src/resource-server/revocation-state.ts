/**
 * What the revocation feed has said and still matters (docs/revocation-feed.md). Pure: no I/O, time
 * comes in as an argument. An entry is kept until its `until` (plus the clock tolerance the verifier
 * grants `exp`) has passed: after that no token it covers can still be accepted.
 */

export type RevocationEntry =
  | { type: 'credential'; client_id: string; org_id: string; account_id: string; until: number }
  | { type: 'token'; jti: string; org_id: string; until: number }
  | {
      type: 'secret';
      client_id: string;
      org_id: string;
      account_id: string;
      secret_version: number;
      effective_at: number;
      until: number;
    }
  | { type: 'account'; account_id: string; org_id: string; permissions_version: number; until: number }
  | { type: 'organization'; org_id: string; enabled: boolean; until: number };

export interface RevocationSnapshot {
  cursor: string;
  generated_at?: number;
  entries: unknown[];
}

/** What the state is asked about a token or an API key. */
export interface TokenFacts {
  clientId: string;
  accountId: string;
  orgId: string;
  tokenId: string | null;
  permissionsVersion: number | null;
  /** The version of the secret the token was obtained with (or the API key is); null: 1. */
  secretVersion: number | null;
}

export type RefusalReason =
  | 'credential_revoked'
  | 'secret_regenerated'
  | 'token_revoked'
  | 'permissions_changed'
  | 'organization_disabled';

export const REFUSAL_DESCRIPTIONS: Record<RefusalReason, string> = {
  credential_revoked: 'the credential has been revoked',
  secret_regenerated: 'the secret this token was obtained with was regenerated and no longer works',
  token_revoked: 'the token has been revoked',
  permissions_changed: "the service account's permissions changed; request a new token",
  organization_disabled: "the organization's API access is disabled",
};

const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** An entry of a known type with the fields its type needs, or null (unknown types are skipped). */
export function parseEntry(value: unknown): RevocationEntry | null {
  if (typeof value !== 'object' || value === null) return null;
  const e = value as Record<string, unknown>;
  if (!isTime(e.until) || !isString(e.org_id)) return null;
  switch (e.type) {
    case 'credential':
      return isString(e.client_id) && isString(e.account_id)
        ? {
            type: 'credential',
            client_id: e.client_id,
            org_id: e.org_id,
            account_id: e.account_id,
            until: e.until,
          }
        : null;
    case 'token':
      return isString(e.jti) ? { type: 'token', jti: e.jti, org_id: e.org_id, until: e.until } : null;
    case 'secret':
      return isString(e.client_id) &&
        isString(e.account_id) &&
        Number.isSafeInteger(e.secret_version) &&
        isTime(e.effective_at)
        ? {
            type: 'secret',
            client_id: e.client_id,
            org_id: e.org_id,
            account_id: e.account_id,
            secret_version: e.secret_version as number,
            effective_at: e.effective_at,
            until: e.until,
          }
        : null;
    case 'account':
      return isString(e.account_id) && Number.isSafeInteger(e.permissions_version)
        ? {
            type: 'account',
            account_id: e.account_id,
            org_id: e.org_id,
            permissions_version: e.permissions_version as number,
            until: e.until,
          }
        : null;
    case 'organization':
      return typeof e.enabled === 'boolean'
        ? { type: 'organization', org_id: e.org_id, enabled: e.enabled, until: e.until }
        : null;
    default:
      return null;
  }
}

/** From `effectiveAt` (epoch s) on, tokens of a secret older than `version` are refused. */
interface SecretMarker {
  version: number;
  effectiveAt: number;
  until: number;
}

interface AccountMarker {
  permissionsVersion: number;
  until: number;
}

export class RevocationState {
  readonly #toleranceSeconds: number;
  #cursor: string | null = null;
  #initialized = false;
  readonly #credentials = new Map<string, number>();
  readonly #tokens = new Map<string, number>();
  /** Per client id: every regeneration still mattering (a second one may come during the first's grace). */
  readonly #secrets = new Map<string, SecretMarker[]>();
  readonly #accounts = new Map<string, AccountMarker>();
  readonly #organizations = new Map<string, number>();

  constructor(options: { clockToleranceSeconds: number }) {
    this.#toleranceSeconds = options.clockToleranceSeconds;
  }

  /** The cursor of the last snapshot or event applied; sent back when reconnecting. */
  get cursor(): string | null {
    return this.#cursor;
  }

  /** Whether a snapshot has been applied: before that, the state knows nothing. */
  get initialized(): boolean {
    return this.#initialized;
  }

  get size(): number {
    return (
      this.#credentials.size +
      this.#tokens.size +
      this.#secrets.size +
      this.#accounts.size +
      this.#organizations.size
    );
  }

  /** Replaces everything with a snapshot. Returns the entries kept. */
  replace(snapshot: RevocationSnapshot, nowMs: number): RevocationEntry[] {
    this.#credentials.clear();
    this.#tokens.clear();
    this.#secrets.clear();
    this.#accounts.clear();
    this.#organizations.clear();
    const applied: RevocationEntry[] = [];
    for (const raw of snapshot.entries) {
      const entry = this.#add(raw, nowMs);
      if (entry) applied.push(entry);
    }
    this.#cursor = snapshot.cursor;
    this.#initialized = true;
    return applied;
  }

  /** Applies one event. Returns the entry, or null when it was unknown, malformed or already over. */
  apply(raw: unknown, cursor: string | null, nowMs: number): RevocationEntry | null {
    if (cursor !== null) this.#cursor = cursor;
    return this.#add(raw, nowMs);
  }

  /** Why a token (or API key) with these facts must be refused, or null. */
  refusalFor(facts: TokenFacts, nowMs: number): RefusalReason | null {
    const live = (until: number | undefined) => until !== undefined && !this.#expired(until, nowMs);
    if (live(this.#organizations.get(facts.orgId))) return 'organization_disabled';
    if (live(this.#credentials.get(facts.clientId))) return 'credential_revoked';
    const secrets = this.#secrets.get(facts.clientId);
    if (secrets) {
      const version = facts.secretVersion ?? 1;
      const nowSeconds = nowMs / 1000;
      const retired = secrets.some(
        (m) => live(m.until) && nowSeconds >= m.effectiveAt && version < m.version,
      );
      if (retired) return 'secret_regenerated';
    }
    if (facts.tokenId !== null && live(this.#tokens.get(facts.tokenId))) return 'token_revoked';
    const account = this.#accounts.get(facts.accountId);
    if (account && live(account.until) && (facts.permissionsVersion ?? -1) < account.permissionsVersion) {
      return 'permissions_changed';
    }
    return null;
  }

  /** Whether a credential (by client id) is known to be revoked: enough to refuse an API key early. */
  isCredentialRevoked(clientId: string, nowMs: number): boolean {
    const until = this.#credentials.get(clientId);
    return until !== undefined && !this.#expired(until, nowMs);
  }

  /** Forgets every entry whose `until` has passed. */
  prune(nowMs: number): void {
    for (const map of [this.#credentials, this.#tokens, this.#organizations]) {
      for (const [key, until] of map) if (this.#expired(until, nowMs)) map.delete(key);
    }
    for (const [key, marker] of this.#accounts)
      if (this.#expired(marker.until, nowMs)) this.#accounts.delete(key);
    for (const [key, markers] of this.#secrets) {
      const kept = markers.filter((m) => !this.#expired(m.until, nowMs));
      if (kept.length === 0) this.#secrets.delete(key);
      else this.#secrets.set(key, kept);
    }
  }

  #expired(until: number, nowMs: number): boolean {
    return nowMs / 1000 > until + this.#toleranceSeconds;
  }

  #add(raw: unknown, nowMs: number): RevocationEntry | null {
    const entry = parseEntry(raw);
    if (!entry) return null;
    if (entry.type === 'organization' && entry.enabled) {
      // Turning the API back on lifts an earlier "off", whatever its `until`.
      this.#organizations.delete(entry.org_id);
      return entry;
    }
    if (this.#expired(entry.until, nowMs)) return null;
    const later = (map: Map<string, number>, key: string) =>
      map.set(key, Math.max(map.get(key) ?? 0, entry.until));
    switch (entry.type) {
      case 'credential':
        later(this.#credentials, entry.client_id);
        break;
      case 'token':
        later(this.#tokens, entry.jti);
        break;
      case 'secret': {
        const markers = (this.#secrets.get(entry.client_id) ?? []).filter(
          (m) => m.version !== entry.secret_version,
        );
        markers.push({ version: entry.secret_version, effectiveAt: entry.effective_at, until: entry.until });
        this.#secrets.set(entry.client_id, markers);
        break;
      }
      case 'organization':
        later(this.#organizations, entry.org_id);
        break;
      case 'account': {
        // Several edits: the newest version decides which tokens are stale, for as long as any matters.
        const previous = this.#accounts.get(entry.account_id);
        this.#accounts.set(entry.account_id, {
          permissionsVersion: Math.max(previous?.permissionsVersion ?? 0, entry.permissions_version),
          until: Math.max(previous?.until ?? 0, entry.until),
        });
        break;
      }
    }
    return entry;
  }
}
