import { hash as digestOf, randomBytes, timingSafeEqual } from 'node:crypto';
import { BoundedCache } from '../cache/bounded-cache.ts';
import type { SecretHasher } from '../keys/secret-hasher.ts';
import type { RecordRead, VerifiedSecretRecords } from './verified-secret-records.ts';

/**
 * bcrypt on every token request would cap the server near 30 tokens/s. A secret that passed bcrypt
 * once is remembered as a SHA-256 digest keyed with 32 random bytes that exist only in this process's
 * memory, tied to the bcrypt hash it matched: a regenerated secret (new hash) is never confused with
 * the old one, and the cache holds nothing that would help anyone who reads it. Comparisons are
 * constant-time.
 *
 * The key is a prefix of the hashed input rather than an HMAC key: the digests never leave this
 * object, so length extension gains an attacker nothing, while the one-shot hash costs far less than
 * createHmac on the token path (about 17 µs a request under load, from the benchmark's CPU profile).
 *
 * Concurrent first checks of one credential and presented secret share one bcrypt compare (a cold
 * instance under load would otherwise run one per request and queue on the thread pool). A compare
 * during which the credential was forgotten (revoked, regenerated) still answers its callers, since
 * bcrypt's verdict on that hash stands, but is not remembered.
 *
 * Behind this process's memory sit the verified-secret records every instance shares (see
 * VerifiedSecretRecords): a secret another instance (or this one before a restart) verified costs one
 * state-store read and an HMAC instead of bcrypt. A record is written after a bcrypt match only if
 * neither this memory's fill nor the record changed meanwhile.
 */
export class SecretVerifier {
  readonly #hasher: SecretHasher;
  readonly #key = randomBytes(32).toString('base64');
  readonly #verified: BoundedCache<string, Buffer>;
  readonly #records: VerifiedSecretRecords | undefined;
  /** bcrypt compares in flight, by cache key and digest of the presented secret. */
  readonly #compares = new Map<string, Promise<boolean>>();
  /** Record reads in flight (see recall), keyed like #compares. */
  readonly #recalls = new Map<string, Promise<boolean>>();
  #bcryptCompares = 0;
  /** A bcrypt hash of nothing anyone knows, at the configured cost: see compareNothing. */
  #decoy: Promise<string> | undefined;

  constructor(
    hasher: SecretHasher,
    options: { maxEntries?: number; ttlMs?: number; records?: VerifiedSecretRecords } = {},
  ) {
    this.#hasher = hasher;
    this.#records = options.records;
    this.#verified = new BoundedCache({
      maxEntries: options.maxEntries ?? 100_000,
      ttlMs: options.ttlMs ?? 10 * 60_000,
    });
  }

  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.#verified.hits, misses: this.#verified.misses, size: this.#verified.size };
  }

  /** How secret checks that memory could not answer were decided: a shared record, or bcrypt. */
  get checks(): { records: { hits: number; misses: number }; bcryptCompares: number } {
    return {
      records: { hits: this.#records?.hits ?? 0, misses: this.#records?.misses ?? 0 },
      bcryptCompares: this.#bcryptCompares,
    };
  }

  /**
   * Does `secret` match `hash`? Memory, then the shared record, then bcrypt (on the thread pool), whose
   * match is remembered in both.
   */
  async verify(credentialId: string, secret: string, hash: string): Promise<boolean> {
    const cacheKey = `${credentialId}:${hash}`;
    const digest = digestOf('sha256', this.#key + secret, 'buffer');
    const known = this.#verified.get(cacheKey);
    if (known) return timingSafeEqual(known, digest);
    // The digest names the presented secret without revealing it (keyed with this process's key).
    const compareKey = `${cacheKey}:${digest.toString('base64')}`;
    let compare = this.#compares.get(compareKey);
    if (!compare) {
      compare = this.#compare(credentialId, cacheKey, secret, hash, digest).finally(() =>
        this.#compares.delete(compareKey),
      );
      this.#compares.set(compareKey, compare);
    }
    return compare;
  }

  async #compare(
    credentialId: string,
    cacheKey: string,
    secret: string,
    hash: string,
    digest: Buffer,
  ): Promise<boolean> {
    const fill = this.#verified.beginFill(cacheKey);
    let matches = false;
    let read: RecordRead | undefined;
    try {
      read = await this.#records?.recall(credentialId, hash, secret);
      if (read?.matched) {
        matches = true;
      } else {
        this.#bcryptCompares += 1;
        matches = await this.#hasher.verify(secret, hash);
      }
    } finally {
      // Remembered only if the credential was not forgotten meanwhile; failures are never remembered.
      if (matches) {
        const current = this.#verified.completeFill(fill, digest);
        // The record is written only by a fill no invalidation raced, here or (compare-and-set) there.
        if (current && read && !read.matched) {
          await this.#records?.remember(credentialId, hash, secret, read.read);
        }
      } else this.#verified.abandonFill(fill);
    }
    return matches;
  }

  /**
   * Whether `secret` is the one verified against `hash` before, by this process (memory) or by any
   * instance (the shared record), without bcrypt: a success decided here needs no lockout counting. A
   * record's match is remembered in memory. False also when the record could not be read.
   */
  async recall(credentialId: string, secret: string, hash: string): Promise<boolean> {
    const cacheKey = `${credentialId}:${hash}`;
    const digest = digestOf('sha256', this.#key + secret, 'buffer');
    const known = this.#verified.get(cacheKey);
    if (known) return timingSafeEqual(known, digest);
    const records = this.#records;
    if (!records) return false;
    const recallKey = `${cacheKey}:${digest.toString('base64')}`;
    let recall = this.#recalls.get(recallKey);
    if (!recall) {
      recall = (async () => {
        const fill = this.#verified.beginFill(cacheKey);
        const { matched } = await records.recall(credentialId, hash, secret);
        // As after bcrypt: the verdict stands, memory keeps it only if no invalidation raced the read.
        if (matched) this.#verified.completeFill(fill, digest);
        else this.#verified.abandonFill(fill);
        return matched;
      })().finally(() => this.#recalls.delete(recallKey));
      this.#recalls.set(recallKey, recall);
    }
    return recall;
  }

  /**
   * Memory only: whether `secret` is the one already verified against `hash` (no bcrypt, no I/O). A
   * warm success is decided here, before any lockout counting.
   */
  recognizes(credentialId: string, secret: string, hash: string): boolean {
    const known = this.#verified.get(`${credentialId}:${hash}`);
    return known !== undefined && timingSafeEqual(known, digestOf('sha256', this.#key + secret, 'buffer'));
  }

  /** Whether a check against `hash` is answered from memory (so a wrong secret would cost no bcrypt). */
  remembers(credentialId: string, hash: string): boolean {
    return this.#verified.get(`${credentialId}:${hash}`) !== undefined;
  }

  /**
   * One bcrypt comparison that matches nothing, for failures that would otherwise cost none (an
   * unknown client id, a wrong secret answered from memory): every failure then takes about as long,
   * and timing does not tell live client ids from unknown ones.
   */
  async compareNothing(): Promise<void> {
    this.#decoy ??= this.#hasher.hash(randomBytes(24).toString('base64url'));
    await this.#hasher.verify(randomBytes(24).toString('base64url'), await this.#decoy);
  }

  /**
   * Forgets a credential's verified secrets (revocation, regeneration), on a change event: in memory at
   * once, and in the shared record (replaced by a tombstone; a failure to reach the state store is
   * harmless there, since a record is bound to its bcrypt hash and never decides a credential's status).
   */
  forget(credentialId: string): Promise<void> {
    this.#verified.deleteWhere((_digest, key) => key.startsWith(`${credentialId}:`));
    return this.#records?.forget(credentialId).catch(() => {}) ?? Promise.resolve();
  }
}
