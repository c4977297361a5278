/**
 * At most `permits` holders at once; the others wait in arrival order. Used where work competes for a
 * process-wide resource (bcrypt runs on libuv's small thread pool, shared with /token).
 */
export class Semaphore {
  #available: number;
  readonly #waiting: Array<() => void> = [];

  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 1) throw new Error('a semaphore needs at least one permit');
    this.#available = permits;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#available > 0) this.#available--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The permit passes straight to the next in line, or back to the pool.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#available++;
    }
  }
}
