/** A fill in flight: see BoundedCache.beginFill. */
export interface CacheFill<K> {
  readonly key: K;
  /** The number of invalidations the cache had seen when the fill began. */
  readonly since: number;
  done: boolean;
}

interface Invalidation<K, V> {
  readonly seq: number;
  readonly touches: (value: V, key: K) => boolean;
}

/** More invalidations than this during one fill: the fills in flight are all treated as stale. */
const MAX_LOGGED_INVALIDATIONS = 1024;

/**
 * A map with a size bound and a per-entry lifetime; the least recently written entry goes first.
 * Memory stays flat however many distinct keys pass through.
 *
 * Fills are invalidation-safe: a value read from its source while an invalidation that touches it
 * (delete of its key, a deleteWhere matching it, clear) came in may predate the change, so
 * completeFill refuses it and the caller reads again. Invalidations are remembered only while fills
 * are in flight, so the warm path (get) costs nothing extra.
 */
export class BoundedCache<K, V> {
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #entries = new Map<K, { value: V; expiresAt: number }>();
  #invalidations: Invalidation<K, V>[] = [];
  #seq = 0;
  /** Fills that began before this many invalidations are stale (the log above overflowed). */
  #forgottenBefore = 0;
  /** Fills in flight, counted by `since`; keys are inserted in increasing order, so the first is the oldest. */
  readonly #fillsSince = new Map<number, number>();
  hits = 0;
  misses = 0;

  constructor(options: { maxEntries: number; ttlMs: number }) {
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K, now = Date.now()): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry || entry.expiresAt <= now) {
      if (entry) this.#entries.delete(key);
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    return entry.value;
  }

  /**
   * Writes a value unconditionally: only for values that cannot have been made stale by an
   * invalidation while they were computed. Values read from a source use beginFill/completeFill.
   */
  set(key: K, value: V, now = Date.now()): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: now + this.#ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as K;
      this.#entries.delete(oldest);
    }
  }

  /** Call before reading key's value from its source; every fill must end in completeFill or abandonFill. */
  beginFill(key: K): CacheFill<K> {
    this.#fillsSince.set(this.#seq, (this.#fillsSince.get(this.#seq) ?? 0) + 1);
    return { key, since: this.#seq, done: false };
  }

  /**
   * Ends a fill with the value read. Returns false when an invalidation touching (key, value) came in
   * since beginFill: the value may be older than the change, so it is not written and the caller must
   * not use it (read again). Otherwise writes it when `store` is true, and returns true.
   */
  completeFill(fill: CacheFill<K>, value: V, store = true, now = Date.now()): boolean {
    const current = !this.#stale(fill, value);
    this.abandonFill(fill);
    if (current && store) this.set(fill.key, value, now);
    return current;
  }

  /** Ends a fill without a value (the read failed, or found nothing worth keeping). */
  abandonFill(fill: CacheFill<K>): void {
    if (fill.done) return;
    fill.done = true;
    const count = this.#fillsSince.get(fill.since)! - 1;
    if (count > 0) {
      this.#fillsSince.set(fill.since, count);
      return;
    }
    this.#fillsSince.delete(fill.since);
    // Invalidations no fill in flight began before are of no further use.
    const oldest = this.#fillsSince.keys().next().value;
    if (oldest === undefined) {
      this.#invalidations = [];
      return;
    }
    let useless = 0;
    while (useless < this.#invalidations.length && this.#invalidations[useless]!.seq <= oldest) useless++;
    if (useless > 0) this.#invalidations.splice(0, useless);
  }

  delete(key: K): void {
    this.#entries.delete(key);
    this.#invalidated((_value, other) => other === key);
  }

  deleteWhere(predicate: (value: V, key: K) => boolean): void {
    for (const [key, entry] of this.#entries) if (predicate(entry.value, key)) this.#entries.delete(key);
    this.#invalidated(predicate);
  }

  clear(): void {
    this.#entries.clear();
    this.#invalidated(() => true);
  }

  #invalidated(touches: (value: V, key: K) => boolean): void {
    this.#seq += 1;
    if (this.#fillsSince.size === 0) return;
    if (this.#invalidations.length >= MAX_LOGGED_INVALIDATIONS) {
      this.#invalidations = [];
      this.#forgottenBefore = this.#seq;
      return;
    }
    this.#invalidations.push({ seq: this.#seq, touches });
  }

  #stale(fill: CacheFill<K>, value: V): boolean {
    if (fill.done || fill.since < this.#forgottenBefore) return true;
    for (let i = this.#invalidations.length - 1; i >= 0; i--) {
      const invalidation = this.#invalidations[i]!;
      if (invalidation.seq <= fill.since) break;
      if (invalidation.touches(value, fill.key)) return true;
    }
    return false;
  }
}
