import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';

/** Runs work with at most a fixed number in flight (services/semaphore.ts). */
export interface ConcurrencyLimit {
  run<T>(work: () => Promise<T>): Promise<T>;
}

/** bcrypt reads at most 72 bytes; a longer secret (some legacy keys) would be checked only in part. */
const BCRYPT_MAX_BYTES = 72;

/**
 * bcrypt through the native addon's async API, which runs on libuv's thread pool: a 60 ms hash never
 * blocks the event loop. Secrets are hashed once at creation and compared at authentication.
 */
export class SecretHasher {
  readonly #cost: number;
  readonly #hashing: ConcurrencyLimit | null;

  /**
   * `hashing` bounds how many new secrets are hashed at once (the server gives it fewer permits than it
   * has cores): creating credentials in bulk then queues behind it instead of taking every core from
   * /token, whose warm path needs none of this.
   */
  constructor(cost: number, options: { hashing?: ConcurrencyLimit } = {}) {
    this.#cost = cost;
    this.#hashing = options.hashing ?? null;
  }

  hash(secret: string): Promise<string> {
    const work = () => bcrypt.hash(fitForBcrypt(secret), this.#cost);
    return this.#hashing ? this.#hashing.run(work) : work();
  }

  /** bcrypt.compare is constant-time over the hash it computes. */
  verify(secret: string, hash: string): Promise<boolean> {
    return bcrypt.compare(fitForBcrypt(secret), hash);
  }
}

/**
 * Secrets longer than bcrypt's 72-byte window are first reduced to their SHA-256 (base64, 44 bytes), so
 * every byte counts. The rule depends only on the secret's length, so hashing and checking always agree.
 */
function fitForBcrypt(secret: string): string {
  if (Buffer.byteLength(secret) <= BCRYPT_MAX_BYTES) return secret;
  return `sha256:${createHash('sha256').update(secret).digest('base64')}`;
}
