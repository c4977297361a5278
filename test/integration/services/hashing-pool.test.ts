import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import bcrypt from 'bcrypt';
import { afterEach, describe, expect, it } from 'vitest';
import { HashingPool } from '../../../src/keys/hashing-pool.ts';
import { SecretHasher } from '../../../src/keys/secret-hasher.ts';
import { TEST_BCRYPT_COST } from '../../helpers/test-env.ts';

const pools: HashingPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

function startPool(options: { size: number; nice: number }, unchanged: string[] = []): HashingPool {
  const pool = new HashingPool({ ...options, onPriorityUnchanged: (reason) => unchanged.push(reason) });
  pools.push(pool);
  return pool;
}

/** Field 19 of /proc/.../stat, the thread's nice value (after the command name, which may hold spaces). */
function niceOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('HashingPool', () => {
  it('makes hashes bcrypt.compare accepts, every byte of a long secret counting', async () => {
    const pool = startPool({ size: 2, nice: 10 });
    const hasher = new SecretHasher(TEST_BCRYPT_COST, { hashing: pool });
    const secrets = Array.from({ length: 6 }, (_, i) => `svcs_secret-${i}`);
    const hashes = await Promise.all(secrets.map((secret) => hasher.hash(secret)));
    for (const [i, hash] of hashes.entries()) {
      expect(hash).toMatch(new RegExp(`^\\$2b\\$0${TEST_BCRYPT_COST}\\$`));
      expect(await bcrypt.compare(secrets[i]!, hash)).toBe(true);
      expect(await hasher.verify(secrets[i]!, hash)).toBe(true);
      expect(await hasher.verify(secrets[(i + 1) % secrets.length]!, hash)).toBe(false);
    }
    // Beyond bcrypt's 72 bytes the secret is reduced to its SHA-256 first, in the pool as elsewhere.
    const base = 'k'.repeat(80);
    const long = await hasher.hash(`${base}A`);
    expect(await hasher.verify(`${base}A`, long)).toBe(true);
    expect(await hasher.verify(`${base}B`, long)).toBe(false);
    expect(await new SecretHasher(TEST_BCRYPT_COST).verify(`${base}A`, long)).toBe(true);
  });

  it('lowers the priority of its own threads only (Linux: the nice value is per thread)', async () => {
    const unchanged: string[] = [];
    const ownNice = niceOf('/proc/thread-self/stat');
    const pool = startPool({ size: 2, nice: 7 }, unchanged);
    // Two hashes at once reach both threads, each of which has set its priority before it answers.
    await Promise.all([pool.hash('a', TEST_BCRYPT_COST), pool.hash('b', TEST_BCRYPT_COST)]);
    if (process.platform !== 'linux') {
      expect(unchanged).toHaveLength(1);
      return;
    }
    expect(unchanged).toEqual([]);
    const lowered = Math.min(19, ownNice + 7);
    const threads = readdirSync('/proc/self/task').map((tid) => niceOf(`/proc/self/task/${tid}/stat`));
    expect(threads.filter((nice) => nice === lowered)).toHaveLength(2);
    expect(niceOf('/proc/thread-self/stat')).toBe(ownNice);
    expect(niceOf(`/proc/self/task/${process.pid}/stat`)).toBe(ownNice);
  });

  it('fails the hash a dying thread held, and replaces the thread', async () => {
    const pool = startPool({ size: 1, nice: 10 });
    const [first] = pool.workers;
    // Sent to a thread still loading its module, which is stopped before it can answer.
    const lost = pool.hash('lost', TEST_BCRYPT_COST);
    await first!.terminate();
    await expect(lost).rejects.toThrow(/the hashing thread stopped \(exit code \d+\) before it answered/);

    const hash = await pool.hash('next', TEST_BCRYPT_COST);
    expect(await bcrypt.compare('next', hash)).toBe(true);
    const [second] = pool.workers;
    expect(second).toBeDefined();
    expect(second).not.toBe(first);

    // A thread that had started and dies while idle is replaced at once.
    const exited = once(second!, 'exit');
    await second!.terminate();
    await exited;
    expect(pool.workers).toHaveLength(1);
    expect(pool.workers[0]).not.toBe(second);
    expect(await bcrypt.compare('again', await pool.hash('again', TEST_BCRYPT_COST))).toBe(true);
  });

  it('hashes in arrival order, and fails what still waits when it closes', async () => {
    const pool = startPool({ size: 1, nice: 10 });
    const finished: number[] = [];
    const hashes = Array.from({ length: 5 }, (_, i) =>
      pool.hash(`secret ${i}`, TEST_BCRYPT_COST).then((hash) => {
        finished.push(i);
        return hash;
      }),
    );
    await Promise.all(hashes);
    expect(finished).toEqual([0, 1, 2, 3, 4]);

    // 'one' is with the thread (it may answer before it is stopped, but it settles); 'two' still waits.
    const outcomes = Promise.allSettled([
      pool.hash('one', TEST_BCRYPT_COST),
      pool.hash('two', TEST_BCRYPT_COST),
    ]);
    await pool.close();
    const [, waiting] = await outcomes;
    expect(waiting).toMatchObject({
      status: 'rejected',
      reason: { message: 'the hashing pool closed before this hash' },
    });
    await expect(pool.hash('after', TEST_BCRYPT_COST)).rejects.toThrow(/closed/);
    expect(pool.workers).toEqual([]);
  });
});
