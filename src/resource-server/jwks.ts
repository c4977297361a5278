/**
 * The issuer's public keys, fetched once and kept. A token signed with a `kid` the set does not hold
 * (the issuer published a new key) triggers a re-fetch, but at most once per refresh interval, so a
 * stream of made-up `kid`s cannot turn the verifier into a load generator against the issuer.
 */
import {
  type CryptoKey,
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
} from 'jose';
import { HttpError, requestJson } from './http.ts';
import type { FetchFunction } from './options.ts';

export interface JwksCacheOptions {
  url: string;
  fetch: FetchFunction;
  timeoutMs: number;
  /** Least time between two re-fetches caused by an unknown `kid`. */
  refreshIntervalMs: number;
  /** A set older than this is re-fetched before use; if that fails, the old set keeps serving. */
  maxAgeMs: number;
  onError: (error: Error) => void;
  now?: () => number;
}

type KeyResolver = ReturnType<typeof createLocalJWKSet>;

export class JwksCache {
  readonly #options: JwksCacheOptions;
  readonly #now: () => number;
  #resolver: KeyResolver | null = null;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #lastRefetchAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | null = null;
  #fetches = 0;

  constructor(options: JwksCacheOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** How many times the set was fetched: for tests and metrics. */
  get fetchCount(): number {
    return this.#fetches;
  }

  /** Loads the set unless a fresh one is held. */
  async load(): Promise<void> {
    if (this.#resolver && this.#now() - this.#loadedAt < this.#options.maxAgeMs) return;
    try {
      await this.#fetch();
    } catch (error) {
      // An aged set keeps serving while the issuer is unreachable; the next attempt waits an interval.
      if (!this.#resolver) throw error;
      this.#loadedAt = this.#now() - this.#options.maxAgeMs + this.#options.refreshIntervalMs;
      this.#options.onError(error as Error);
    }
  }

  /**
   * A key resolver for jose's jwtVerify. With a fresh set held (the case of nearly every call) it goes
   * straight to the set: this runs on every verification, and each extra await costs.
   */
  readonly getKey = (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const resolver = this.#resolver;
    if (resolver && this.#now() - this.#loadedAt < this.#options.maxAgeMs) {
      return resolver(header, token).catch((error: unknown) => this.#afterMiss(error, header, token));
    }
    return this.#loadThenGetKey(header, token);
  };

  async #loadThenGetKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    await this.load();
    try {
      return await this.#resolver!(header, token);
    } catch (error) {
      return this.#afterMiss(error, header, token);
    }
  }

  /** An unknown kid may be a key published since the last fetch: fetch again, at most once an interval. */
  async #afterMiss(
    error: unknown,
    header: JWSHeaderParameters,
    token: FlattenedJWSInput,
  ): Promise<CryptoKey> {
    if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
    if (this.#now() - this.#lastRefetchAt < this.#options.refreshIntervalMs) throw error;
    this.#lastRefetchAt = this.#now();
    await this.#fetch();
    return this.#resolver!(header, token);
  }

  #fetch(): Promise<void> {
    this.#pending ??= (async () => {
      try {
        this.#fetches += 1;
        const body = await requestJson(this.#options.fetch, this.#options.url, {
          timeoutMs: this.#options.timeoutMs,
          headers: { accept: 'application/jwk-set+json, application/json' },
        });
        if (!Array.isArray(body.keys)) throw new HttpError(`${this.#options.url} is not a JWK set`, 200);
        this.#resolver = createLocalJWKSet(body as { keys: [] });
        this.#loadedAt = this.#now();
      } finally {
        this.#pending = null;
      }
    })();
    return this.#pending;
  }
}
