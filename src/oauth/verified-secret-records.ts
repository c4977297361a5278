import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StateStore } from '../state/state-store.ts';

/** A record outlives its last write by this long; then the next check of the secret costs bcrypt again. */
const RECORD_TTL_SECONDS = 3600;
/**
 * A tombstone must outlive every fill that could have read the value it replaced (see remember): fills
 * older than MAX_FILL_MS are never written back, and tombstones live far longer.
 */
const TOMBSTONE_TTL_SECONDS = 3600;
const MAX_FILL_MS = 5 * 60_000;
/** The current and the previous secret of a regeneration's grace period, at most. */
const MAX_MACS = 2;
const RECORD_PREFIX = 'r1 ';
const TOMBSTONE_PREFIX = 'gone ';

/** What a recall found: whether the record vouches for the secret, and what to write back over. */
export interface RecordRead {
  matched: boolean;
  /**
   * The value read (null: none), which a write after bcrypt must still find (compare-and-set); absent
   * when the record could not be read, and nothing may be written.
   */
  readonly read?: { value: string | null; at: number };
}

/**
 * The verified-secret records every instance shares through the state store, so that a restart, a
 * scale-out or a cache flush does not cost one bcrypt compare per active integration and instance.
 *
 * A record is keyed by credential id (never by anything derived from the secret) and holds, for each
 * bcrypt hash the credential's secret was verified against, HMAC-SHA256(key, credential id, bcrypt
 * hash, secret). The key is derived on each server from its server-side secret and is never written to
 * the state store or the database, so what the state store holds neither reveals a secret nor lets
 * anyone test guesses offline, and cannot be forged to accept another secret. Binding the bcrypt hash
 * means a regenerated secret (a new hash) never matches a record of the old one, whether or not the
 * record was dropped. A record only says "this secret matches this hash": whether the credential is
 * still usable (revoked, expired, its account or organization) is decided by the token subject, as
 * for a bcrypt compare.
 *
 * Change events replace a credential's record by a tombstone (every instance that hears one does). A
 * fill writes back only over the value it read before bcrypt (compare-and-set), so a fill that raced
 * an invalidation never writes, as BoundedCache fills do in memory.
 */
export class VerifiedSecretRecords {
  readonly #state: StateStore;
  readonly #key: Buffer;
  /** Whether change events are being heard: otherwise records are neither read nor written. */
  readonly #trusted: () => boolean;
  hits = 0;
  misses = 0;

  constructor(state: StateStore, key: Buffer, trusted: () => boolean) {
    this.#state = state;
    this.#key = key;
    this.#trusted = trusted;
  }

  /** Reads the credential's record and checks the secret against it; never throws (a failure is a miss). */
  async recall(credentialId: string, hash: string, secret: string): Promise<RecordRead> {
    if (!this.#trusted()) return { matched: false };
    let value: string | null;
    try {
      value = await this.#state.get(recordKey(credentialId));
    } catch {
      return { matched: false };
    }
    const mac = this.#mac(credentialId, hash, secret);
    const matched = macsOf(value).some((known) => known.length === mac.length && timingSafeEqual(known, mac));
    if (matched) this.hits += 1;
    else this.misses += 1;
    return { matched, read: { value, at: Date.now() } };
  }

  /**
   * Records that `secret` matched `hash`, unless the record changed since `read` (an invalidation or
   * another fill came first) or the fill took too long to be sure of that. Never throws.
   */
  async remember(
    credentialId: string,
    hash: string,
    secret: string,
    read: RecordRead['read'],
  ): Promise<void> {
    if (!read || !this.#trusted() || Date.now() - read.at > MAX_FILL_MS) return;
    const mac = this.#mac(credentialId, hash, secret);
    const kept = macsOf(read.value)
      .filter((known) => !known.equals(mac))
      .slice(0, MAX_MACS - 1);
    const value = RECORD_PREFIX + [mac, ...kept].map((m) => m.toString('base64url')).join(' ');
    try {
      await this.#state.replaceIf(recordKey(credentialId), read.value, value, RECORD_TTL_SECONDS);
    } catch {
      // The next instance to verify the secret writes it.
    }
  }

  /**
   * Replaces the credential's record by a tombstone: fills that read the record before now will not
   * write back. Throws when the state store does not answer (the record is still bound to its hash).
   */
  async forget(credentialId: string): Promise<void> {
    const tombstone = TOMBSTONE_PREFIX + randomBytes(12).toString('base64url');
    await this.#state.set(recordKey(credentialId), tombstone, TOMBSTONE_TTL_SECONDS);
  }

  #mac(credentialId: string, hash: string, secret: string): Buffer {
    // Lengths first, so no two (credential, hash, secret) triples share an input.
    return createHmac('sha256', this.#key)
      .update(`${credentialId.length}:${credentialId}${hash.length}:${hash}${secret}`)
      .digest();
  }
}

/** The key of the records' HMAC, derived from the server-side secret (HKDF-SHA256, its own label). */
export function verifiedSecretRecordKey(serverSecret: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', serverSecret, '', 'svcauth verified-secret records v1', 32));
}

function recordKey(credentialId: string): string {
  return `verified-secret:${credentialId}`;
}

function macsOf(value: string | null): Buffer[] {
  if (!value?.startsWith(RECORD_PREFIX)) return [];
  return value
    .slice(RECORD_PREFIX.length)
    .split(' ')
    .map((m) => Buffer.from(m, 'base64url'));
}
