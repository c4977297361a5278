import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';

/** bcrypt reads at most 72 bytes; a longer secret (some legacy keys) would be checked only in part. */
const BCRYPT_MAX_BYTES = 72;

/**
 * bcrypt through the native addon's async API, which runs on libuv's thread pool: a 60 ms hash never
 * blocks the event loop. Secrets are hashed once at creation and compared at authentication.
 */
export class SecretHasher {
  readonly #cost: number;
  constructor(cost: number) {
    this.#cost = cost;
  }

  hash(secret: string): Promise<string> {
    return bcrypt.hash(fitForBcrypt(secret), this.#cost);
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
