export type Unsubscribe = () => Promise<void>;

/** One entry of an append-only log; ids increase in append order (`<ms>-<seq>`, as Redis streams). */
export interface LogEntry {
  id: string;
  value: string;
}

export interface LogRead {
  entries: LogEntry[];
  /**
   * True when entries following `afterId` were trimmed away (the log keeps only its newest entries):
   * the caller has missed something and must start over from a snapshot.
   */
  truncated: boolean;
}

/** The outcome of StateStore.reserve. */
export interface Reservation {
  reserved: boolean;
  count: number;
  ttlSeconds: number;
}

/** One member of a scored index, with the value stored beside it. */
export interface IndexEntry {
  member: string;
  value: string;
  score: number;
}

/**
 * Short-lived state shared by every instance of the server: single-use markers, locks,
 * rate-limit counters and pub/sub notifications. Nothing stored here may be the only copy
 * of durable data, because the memory implementation forgets everything on restart.
 */
export interface StateStore {
  readonly kind: 'redis' | 'memory';
  /** Stores value under key for ttlSeconds unless the key exists; true when stored (single-use jti, locks). */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  get(key: string): Promise<string | null>;
  getMany(keys: string[]): Promise<(string | null)[]>;
  delete(key: string): Promise<void>;
  /**
   * Compare-and-set, atomically: writes value (for ttlSeconds) only if the key still holds `expected`
   * (null: the key is absent); true when written. A cache fill reads a key, computes for a while, and
   * writes back only if nothing replaced the value meanwhile (an invalidation, another fill).
   */
  replaceIf(key: string, expected: string | null, value: string, ttlSeconds: number): Promise<boolean>;
  /** Fixed-window counter: increments and returns the new value; the window (ttl) starts at the first increment. */
  increment(key: string, windowSeconds: number): Promise<number>;
  /**
   * Fixed-window counter with a ceiling, atomically: increments unless the counter has reached
   * `limit` already. `reserved` says whether it did; `count` is the value after; `ttlSeconds` the
   * window's remaining time. Lockout reserves an attempt this way before a secret is evaluated, so
   * however many requests arrive at once, no more than `limit` are evaluated per window.
   */
  reserve(key: string, limit: number, windowSeconds: number): Promise<Reservation>;
  /** Takes one back from a counter (never below zero), e.g. a reserved attempt that succeeded. */
  release(key: string): Promise<void>;
  /** Remaining time to live in seconds, or null when the key does not exist. */
  ttl(key: string): Promise<number | null>;
  publish(channel: string, message: string): Promise<void>;
  /**
   * Delivers every message published on channel (by any instance) after the returned promise resolves,
   * as long as the subscription holds. `onInterrupted` hears each time it may have missed messages
   * (Redis: the subscriber connection closed; pub/sub keeps nothing for an absent subscriber), at
   * once, before any message published after the loss is delivered. Delivery resumes by itself.
   */
  subscribe(
    channel: string,
    onMessage: (message: string) => void,
    onInterrupted?: () => void,
  ): Promise<Unsubscribe>;
  /**
   * Appends value to the log `name`, keeping its newest `maxLength` entries; returns the new entry's id.
   * Ids increase with every append (see compareLogIds).
   */
  appendLog(name: string, value: string, maxLength: number): Promise<string>;
  /** Up to `limit` entries appended after `afterId` (exclusive; `0-0` for the beginning), oldest first. */
  readLog(name: string, afterId: string, limit: number): Promise<LogRead>;
  /** The id of the newest entry, or `0-0` when the log is empty. */
  lastLogId(name: string): Promise<string>;
  /** Stores value under member in the index `name` with score, replacing the member's previous value and score. */
  indexPut(name: string, member: string, value: string, score: number): Promise<void>;
  /** Members scored at least minScore, lowest score first. */
  indexRange(name: string, minScore: number): Promise<IndexEntry[]>;
  /** Removes members scored at most maxScore; returns how many were removed. */
  indexPrune(name: string, maxScore: number): Promise<number>;
  /** Throws when the backing store cannot be reached (readiness probe). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_STATE_STORE_PREFIX = 'svcauth:';

/**
 * The backing store could not be reached (or the store was closed), as opposed to the store
 * rejecting the command itself; callers map this to 503 rather than 500.
 */
export class StateStoreUnavailableError extends Error {
  override readonly name = 'StateStoreUnavailableError';
}

/**
 * Both implementations enforce the rule Redis enforces for `SET ... EX`, so a fractional or
 * zero TTL fails in development (memory store) rather than first in production.
 */
export function assertTtlSeconds(ttlSeconds: number): void {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`TTL must be a positive whole number of seconds, got ${ttlSeconds}`);
  }
}

const LOG_ID = /^(\d{1,16})-(\d{1,16})$/;

/** Whether value is a log id (`<ms>-<seq>`, both decimal), e.g. from a client's cursor. */
export function isLogId(value: string): boolean {
  const match = LOG_ID.exec(value);
  return match !== null && Number.isSafeInteger(Number(match[1])) && Number.isSafeInteger(Number(match[2]));
}

/** Negative, zero or positive as log id a is older than, the same as, or newer than b. */
export function compareLogIds(a: string, b: string): number {
  const [aMs, aSeq] = splitLogId(a);
  const [bMs, bSeq] = splitLogId(b);
  return aMs === bMs ? aSeq - bSeq : aMs - bMs;
}

function splitLogId(id: string): [number, number] {
  if (!isLogId(id)) throw new RangeError(`"${id}" is not a log id (<ms>-<seq>)`);
  const dash = id.indexOf('-');
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

/** Both implementations refuse the same arguments, so misuse fails in development first. */
export function assertLogArguments(options: { afterId?: string; limit?: number; maxLength?: number }): void {
  if (options.afterId !== undefined && !isLogId(options.afterId)) {
    throw new RangeError(`"${options.afterId}" is not a log id (<ms>-<seq>)`);
  }
  for (const [name, value] of [
    ['limit', options.limit],
    ['maxLength', options.maxLength],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
      throw new RangeError(`${name} must be a positive whole number, got ${value}`);
    }
  }
}

/**
 * Log and index names are not empty: in Redis the name is the hash tag that keeps a structure's keys
 * in one Redis Cluster slot, and an empty tag counts as none. Both implementations refuse it.
 */
export function assertStructureName(name: string): void {
  if (name === '') throw new RangeError('a log or index name must not be empty');
}

/** Scores are finite numbers (Redis would accept infinities, which no caller means). */
export function assertScore(score: number): void {
  if (!Number.isFinite(score)) throw new RangeError(`an index score must be a finite number, got ${score}`);
}
