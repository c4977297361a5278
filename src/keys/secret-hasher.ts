import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';

/** Hashes new secrets away from the threads /token uses (keys/hashing-pool.ts). */
export interface NewSecretHashing {
  hash(secret: string, cost: number): Promise<string>;
}

/** bcrypt reads at most 72 bytes; a longer secret (some legacy keys) would be checked only in part. */
const BCRYPT_MAX_BYTES = 72;

/**
 * bcrypt off the event loop: a 60 ms hash never blocks it. Secrets are hashed once at creation and
 * compared at authentication, through the native addon's async API on libuv's thread pool, unless new
 * secrets are given a pool of their own.
 */
export class SecretHasher {
  readonly #cost: number;
  readonly #hashing: NewSecretHashing | null;

  /**
   * `hashing` is where new secrets are hashed (the server's: a few low-priority threads): creating
   * credentials in bulk then waits for the cores /token leaves, whose warm path needs no bcrypt. Without
   * it (the CLI, tests) new secrets are hashed on libuv's pool like comparisons.
   */
  constructor(cost: number, options: { hashing?: NewSecretHashing } = {}) {
    this.#cost = cost;
    this.#hashing = options.hashing ?? null;
  }

  hash(secret: string): Promise<string> {
    const fitted = fitForBcrypt(secret);
    return this.#hashing ? this.#hashing.hash(fitted, this.#cost) : bcrypt.hash(fitted, this.#cost);
  }

  /**
   * bcrypt.compare is constant-time over the hash it computes. It stays on libuv's pool at normal
   * priority: a first token's comparison is token work.
   */
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
