/**
 * One thread of the hashing pool (hashing-pool.ts). It lowers its own scheduling priority once, then
 * hashes the secrets it is sent one at a time with bcrypt's synchronous API, so the hash runs on this
 * thread rather than on libuv's thread pool, which /token shares.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import bcrypt from 'bcrypt';

/** What the pool gives a thread at start. */
export interface HashingWorkerData {
  /** Nice steps below the thread that started it (0: the same priority). */
  nice: number;
}

/** A secret (already fitted to bcrypt's window) and the cost to hash it at. */
export interface HashingJob {
  secret: string;
  cost: number;
}

export type HashingWorkerMessage =
  | { kind: 'ready'; priority: 'lowered'; tid: number; nice: number }
  | { kind: 'ready'; priority: 'unchanged'; reason: string }
  | { kind: 'hashed'; hash: string }
  | { kind: 'failed'; reason: string };

/**
 * On Linux (NPTL) the nice value belongs to each thread, so this lowers only the hashing thread, never the
 * event loop. Elsewhere setpriority() may act on the whole process: the thread is left as it is.
 */
function lowerPriority(steps: number): HashingWorkerMessage {
  if (steps === 0) return { kind: 'ready', priority: 'unchanged', reason: 'BCRYPT_HASHING_NICE is 0' };
  if (process.platform !== 'linux') {
    return {
      kind: 'ready',
      priority: 'unchanged',
      reason: `a thread's own priority is only set on Linux, not ${process.platform}`,
    };
  }
  try {
    // "<pid>/task/<tid>": the kernel's id of this thread, which setpriority() takes as its "process".
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    const nice = Math.min(19, os.getPriority(tid) + steps);
    os.setPriority(tid, nice);
    return { kind: 'ready', priority: 'lowered', tid, nice };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { kind: 'ready', priority: 'unchanged', reason: code ?? (error as Error).message };
  }
}

const port = parentPort;
if (!port) throw new Error('hashing-worker.ts runs as a worker thread of the hashing pool');
port.postMessage(lowerPriority((workerData as HashingWorkerData).nice));
port.on('message', (job: HashingJob) => {
  let answer: HashingWorkerMessage;
  try {
    answer = { kind: 'hashed', hash: bcrypt.hashSync(job.secret, job.cost) };
  } catch (error) {
    // bcrypt's messages name the arguments' problem, never their value.
    answer = { kind: 'failed', reason: (error as Error).message };
  }
  port.postMessage(answer);
});
