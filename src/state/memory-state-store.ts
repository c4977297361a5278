import type { IndexEntry, LogRead, Reservation, StateStore, Unsubscribe } from './state-store.ts';
import {
  assertLogArguments,
  assertScore,
  assertStructureName,
  assertTtlSeconds,
  compareLogIds,
  DEFAULT_STATE_STORE_PREFIX,
  StateStoreUnavailableError,
} from './state-store.ts';

export interface MemoryStateStoreOptions {
  prefix?: string;
  /** Receives errors thrown by subscription handlers; one failing handler never affects the others. */
  onError?: (error: unknown) => void;
}

interface Entry {
  value: string;
  expiresAt: number;
}

interface Log {
  entries: { id: string; value: string }[];
  /** Id of the newest entry trimmed away, if any was. */
  trimmedThrough: string | null;
  lastMs: number;
  lastSeq: number;
}

/** Wrapper giving each subscribe() call its own identity, so subscribing one function twice works like Redis. */
interface Subscription {
  readonly onMessage: (message: string) => void;
  readonly onInterrupted?: () => void;
}

const SWEEP_INTERVAL_MS = 10_000;
const INTEGER_PATTERN = /^-?\d+$/;

/**
 * Single-process StateStore for development and tests. Each instance is its own world:
 * two instances never see each other's keys or messages, just like two unrelated Redis servers.
 */
export class MemoryStateStore implements StateStore {
  readonly kind = 'memory';
  readonly #prefix: string;
  readonly #onError: (error: unknown) => void;
  readonly #entries = new Map<string, Entry>();
  readonly #channels = new Map<string, Set<Subscription>>();
  readonly #logs = new Map<string, Log>();
  readonly #indexes = new Map<string, Map<string, { value: string; score: number }>>();
  readonly #sweepTimer: NodeJS.Timeout;
  #closed = false;

  constructor(options: MemoryStateStoreOptions = {}) {
    this.#prefix = options.prefix ?? DEFAULT_STATE_STORE_PREFIX;
    this.#onError = options.onError ?? (() => {});
    // Reads already hide expired entries; the sweep only reclaims memory for keys nobody reads again.
    // unref() so an open store never keeps the process (or a test run) alive.
    this.#sweepTimer = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
    this.#sweepTimer.unref();
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    this.#assertOpen();
    assertTtlSeconds(ttlSeconds);
    const name = this.#key(key);
    if (this.#live(name)) return false;
    this.#entries.set(name, { value, expiresAt: Date.now() + ttlSeconds * 1000 });
    return true;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.#assertOpen();
    assertTtlSeconds(ttlSeconds);
    this.#entries.set(this.#key(key), { value, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  async get(key: string): Promise<string | null> {
    this.#assertOpen();
    return this.#live(this.#key(key))?.value ?? null;
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    this.#assertOpen();
    return keys.map((key) => this.#live(this.#key(key))?.value ?? null);
  }

  async delete(key: string): Promise<void> {
    this.#assertOpen();
    this.#entries.delete(this.#key(key));
  }

  async replaceIf(key: string, expected: string | null, value: string, ttlSeconds: number): Promise<boolean> {
    this.#assertOpen();
    assertTtlSeconds(ttlSeconds);
    // Synchronous from the read to the write: atomic, as the Redis script is.
    const name = this.#key(key);
    if ((this.#live(name)?.value ?? null) !== expected) return false;
    this.#entries.set(name, { value, expiresAt: Date.now() + ttlSeconds * 1000 });
    return true;
  }

  async increment(key: string, windowSeconds: number): Promise<number> {
    this.#assertOpen();
    assertTtlSeconds(windowSeconds);
    const name = this.#key(key);
    const entry = this.#live(name);
    if (!entry) {
      this.#entries.set(name, { value: '1', expiresAt: Date.now() + windowSeconds * 1000 });
      return 1;
    }
    // Same failure Redis INCR reports, so misuse is caught without Redis.
    const current = INTEGER_PATTERN.test(entry.value) ? Number(entry.value) : Number.NaN;
    if (!Number.isSafeInteger(current + 1)) {
      throw new Error('ERR value is not an integer or out of range');
    }
    entry.value = String(current + 1);
    return current + 1;
  }

  async reserve(key: string, limit: number, windowSeconds: number): Promise<Reservation> {
    this.#assertOpen();
    assertTtlSeconds(windowSeconds);
    // Synchronous from the read to the write: atomic, as the Redis script is.
    const name = this.#key(key);
    const entry = this.#live(name);
    const current = entry && INTEGER_PATTERN.test(entry.value) ? Number(entry.value) : 0;
    if (entry && current >= limit) {
      return { reserved: false, count: current, ttlSeconds: this.#secondsLeft(entry) };
    }
    if (!entry) {
      const created = { value: '1', expiresAt: Date.now() + windowSeconds * 1000 };
      this.#entries.set(name, created);
      return { reserved: true, count: 1, ttlSeconds: windowSeconds };
    }
    entry.value = String(current + 1);
    return { reserved: true, count: current + 1, ttlSeconds: this.#secondsLeft(entry) };
  }

  async release(key: string): Promise<void> {
    this.#assertOpen();
    const entry = this.#live(this.#key(key));
    if (!entry || !INTEGER_PATTERN.test(entry.value)) return;
    entry.value = String(Math.max(0, Number(entry.value) - 1));
  }

  #secondsLeft(entry: Entry): number {
    return Math.max(1, Math.ceil((entry.expiresAt - Date.now()) / 1000));
  }

  async ttl(key: string): Promise<number | null> {
    this.#assertOpen();
    const entry = this.#live(this.#key(key));
    if (!entry) return null;
    // Rounded the way Redis TTL rounds, so both stores report the same number.
    return Math.round((entry.expiresAt - Date.now()) / 1000);
  }

  async publish(channel: string, message: string): Promise<void> {
    this.#assertOpen();
    const subscriptions = this.#channels.get(this.#key(channel));
    if (!subscriptions) return;
    // Only current subscribers receive the message (snapshot), and only if still subscribed at
    // delivery time; delivering on a later turn mirrors Redis, where publish never runs handlers inline.
    const recipients = [...subscriptions];
    setImmediate(() => {
      for (const subscription of recipients) {
        if (this.#closed || !subscriptions.has(subscription)) continue;
        try {
          subscription.onMessage(message);
        } catch (error) {
          this.#onError(error);
        }
      }
    });
  }

  async subscribe(
    channel: string,
    onMessage: (message: string) => void,
    onInterrupted?: () => void,
  ): Promise<Unsubscribe> {
    this.#assertOpen();
    const name = this.#key(channel);
    let subscriptions = this.#channels.get(name);
    if (!subscriptions) {
      subscriptions = new Set();
      this.#channels.set(name, subscriptions);
    }
    const subscription: Subscription = { onMessage, ...(onInterrupted ? { onInterrupted } : {}) };
    subscriptions.add(subscription);
    const channelSubscriptions = subscriptions;
    return async () => {
      channelSubscriptions.delete(subscription);
      if (channelSubscriptions.size === 0 && this.#channels.get(name) === channelSubscriptions) {
        this.#channels.delete(name);
      }
    };
  }

  async appendLog(name: string, value: string, maxLength: number): Promise<string> {
    this.#assertOpen();
    assertStructureName(name);
    assertLogArguments({ maxLength });
    const key = this.#key(name);
    let log = this.#logs.get(key);
    if (!log) {
      log = { entries: [], trimmedThrough: null, lastMs: 0, lastSeq: 0 };
      this.#logs.set(key, log);
    }
    // The id scheme of Redis streams: milliseconds, then a sequence within the millisecond.
    const now = Date.now();
    if (now > log.lastMs) {
      log.lastMs = now;
      log.lastSeq = 0;
    } else {
      log.lastSeq += 1;
    }
    const id = `${log.lastMs}-${log.lastSeq}`;
    log.entries.push({ id, value });
    if (log.entries.length > maxLength) {
      const trimmed = log.entries.splice(0, log.entries.length - maxLength);
      log.trimmedThrough = trimmed[trimmed.length - 1]!.id;
    }
    return id;
  }

  async readLog(name: string, afterId: string, limit: number): Promise<LogRead> {
    this.#assertOpen();
    assertStructureName(name);
    assertLogArguments({ afterId, limit });
    const log = this.#logs.get(this.#key(name));
    if (!log) return { entries: [], truncated: false };
    const truncated = log.trimmedThrough !== null && compareLogIds(afterId, log.trimmedThrough) < 0;
    const entries = log.entries
      .filter((entry) => compareLogIds(entry.id, afterId) > 0)
      .slice(0, limit)
      .map((entry) => ({ ...entry }));
    return { entries, truncated };
  }

  async lastLogId(name: string): Promise<string> {
    this.#assertOpen();
    assertStructureName(name);
    const entries = this.#logs.get(this.#key(name))?.entries;
    return entries?.[entries.length - 1]?.id ?? '0-0';
  }

  async indexPut(name: string, member: string, value: string, score: number): Promise<void> {
    this.#assertOpen();
    assertStructureName(name);
    assertScore(score);
    const key = this.#key(name);
    let index = this.#indexes.get(key);
    if (!index) {
      index = new Map();
      this.#indexes.set(key, index);
    }
    index.set(member, { value, score });
  }

  async indexRange(name: string, minScore: number): Promise<IndexEntry[]> {
    this.#assertOpen();
    assertStructureName(name);
    assertScore(minScore);
    const index = this.#indexes.get(this.#key(name));
    if (!index) return [];
    return [...index]
      .filter(([, entry]) => entry.score >= minScore)
      .map(([member, entry]) => ({ member, value: entry.value, score: entry.score }))
      .sort((a, b) => a.score - b.score || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
  }

  async indexPrune(name: string, maxScore: number): Promise<number> {
    this.#assertOpen();
    assertStructureName(name);
    assertScore(maxScore);
    const index = this.#indexes.get(this.#key(name));
    if (!index) return 0;
    let removed = 0;
    for (const [member, entry] of index) {
      if (entry.score <= maxScore) {
        index.delete(member);
        removed += 1;
      }
    }
    return removed;
  }

  async ping(): Promise<void> {
    this.#assertOpen();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    this.#entries.clear();
    // Nothing is delivered any more: subscribers must not trust what they built on it.
    const subscriptions = [...this.#channels.values()].flatMap((set) => [...set]);
    this.#channels.clear();
    for (const subscription of subscriptions) {
      try {
        subscription.onInterrupted?.();
      } catch (error) {
        this.#onError(error);
      }
    }
    this.#logs.clear();
    this.#indexes.clear();
  }

  #key(key: string): string {
    return this.#prefix + key;
  }

  /** The entry under name unless it has expired; expired entries are dropped on sight. */
  #live(name: string): Entry | undefined {
    const entry = this.#entries.get(name);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(name);
      return undefined;
    }
    return entry;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [name, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(name);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new StateStoreUnavailableError('MemoryStateStore is closed');
  }
}
