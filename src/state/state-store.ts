export type Unsubscribe = () => Promise<void>;

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
  /** Fixed-window counter: increments and returns the new value; the window (ttl) starts at the first increment. */
  increment(key: string, windowSeconds: number): Promise<number>;
  /** Remaining time to live in seconds, or null when the key does not exist. */
  ttl(key: string): Promise<number | null>;
  publish(channel: string, message: string): Promise<void>;
  /** Delivers every message published on channel (by any instance) after the returned promise resolves. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<Unsubscribe>;
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
