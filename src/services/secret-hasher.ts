import bcrypt from 'bcrypt';

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
    return bcrypt.hash(secret, this.#cost);
  }

  /** bcrypt.compare is constant-time over the hash it computes. */
  verify(secret: string, hash: string): Promise<boolean> {
    return bcrypt.compare(secret, hash);
  }
}
