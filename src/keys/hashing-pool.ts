import { Worker } from 'node:worker_threads';
import type { HashingJob, HashingWorkerData, HashingWorkerMessage } from './hashing-worker.ts';

const WORKER_MODULE = new URL('./hashing-worker.ts', import.meta.url);

export interface HashingPoolOptions {
  /** Threads, each hashing one secret at a time. */
  size: number;
  /** Nice steps the threads run below the server's own threads (0 to 19; 0 keeps the same priority). */
  nice: number;
  /** Told once, the first time a thread could not lower its priority (it then hashes at normal priority). */
  onPriorityUnchanged?: (reason: string) => void;
}

interface PendingHash extends HashingJob {
  resolve(hash: string): void;
  reject(error: Error): void;
}

interface HashingThread {
  worker: Worker;
  /** The hash this thread is computing; null while idle. */
  job: PendingHash | null;
  /** It said it was ready: it started, so its death is not a start-up failure that would repeat. */
  started: boolean;
  /** The uncaught error it died of, if any. */
  failure?: Error;
}

/**
 * New secrets are hashed here, on a few worker threads of lower scheduling priority: creating credentials
 * is admin work that can wait, and must not take the cores /token needs (its warm path does no bcrypt;
 * comparing a presented secret stays on libuv's pool at normal priority, as token work). Secrets wait
 * their turn in arrival order. A thread that dies fails the hash it held (the caller gets an error) and
 * is replaced.
 */
export class HashingPool {
  readonly #size: number;
  readonly #nice: number;
  readonly #onPriorityUnchanged: ((reason: string) => void) | undefined;
  readonly #queue: PendingHash[] = [];
  readonly #threads = new Set<HashingThread>();
  #priorityReported = false;
  #closed = false;

  constructor(options: HashingPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1)
      throw new Error('a hashing pool needs at least one thread');
    if (!Number.isInteger(options.nice) || options.nice < 0 || options.nice > 19)
      throw new Error('a hashing pool lowers its threads by 0 to 19 nice steps');
    this.#size = options.size;
    this.#nice = options.nice;
    this.#onPriorityUnchanged = options.onPriorityUnchanged;
    // Started now, so a priority that cannot be lowered is heard of at start-up, not at the first hash.
    this.#fill();
  }

  /** The bcrypt hash of `secret` (already fitted to bcrypt's 72-byte window) at `cost`. */
  hash(secret: string, cost: number): Promise<string> {
    if (this.#closed) return Promise.reject(new Error('the hashing pool is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ secret, cost, resolve, reject });
      this.#dispatch();
    });
  }

  /** The threads now running: what a test stops to play a thread that crashed. */
  get workers(): Worker[] {
    return [...this.#threads].map((thread) => thread.worker);
  }

  /** Fails the secrets still waiting and stops every thread (a hash in progress fails too). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0))
      job.reject(new Error('the hashing pool closed before this hash'));
    await Promise.all([...this.#threads].map((thread) => thread.worker.terminate()));
  }

  #fill(): void {
    while (!this.#closed && this.#threads.size < this.#size) this.#start();
  }

  #dispatch(): void {
    this.#fill();
    for (const thread of this.#threads) {
      if (this.#queue.length === 0) return;
      if (thread.job) continue;
      const job = this.#queue.shift()!;
      thread.job = job;
      // A thread at work keeps the process alive until it answers; an idle one does not.
      thread.worker.ref();
      thread.worker.postMessage({ secret: job.secret, cost: job.cost } satisfies HashingJob);
    }
  }

  #start(): void {
    const worker = new Worker(WORKER_MODULE, {
      workerData: { nice: this.#nice } satisfies HashingWorkerData,
    });
    worker.unref();
    const thread: HashingThread = { worker, job: null, started: false };
    this.#threads.add(thread);
    worker.on('message', (message: HashingWorkerMessage) => {
      if (message.kind === 'ready') {
        thread.started = true;
        // Asked to keep the same priority (nice 0), a thread that did so is no news.
        if (message.priority === 'unchanged' && this.#nice > 0 && !this.#priorityReported) {
          this.#priorityReported = true;
          this.#onPriorityUnchanged?.(message.reason);
        }
        return;
      }
      const job = thread.job;
      thread.job = null;
      worker.unref();
      if (message.kind === 'hashed') job?.resolve(message.hash);
      else job?.reject(new Error(`bcrypt could not hash the secret: ${message.reason}`));
      this.#dispatch();
    });
    // An uncaught error in the thread: 'exit' follows, which fails its hash.
    worker.on('error', (error) => {
      thread.failure = error;
    });
    worker.on('exit', (code) => {
      this.#threads.delete(thread);
      const job = thread.job;
      thread.job = null;
      job?.reject(
        new Error(`the hashing thread stopped (exit code ${code}) before it answered`, {
          cause: thread.failure,
        }),
      );
      if (this.#closed) return;
      // A thread that never started (its module cannot load) is only replaced when a secret waits:
      // replacing it at once would start and lose threads in a loop.
      if (thread.started) this.#fill();
      if (this.#queue.length > 0) this.#dispatch();
    });
  }
}
