import fs from 'node:fs';
import { defineConfig } from 'vitest/config';
import { TEST_BCRYPT_COST } from './test/helpers/test-env.ts';

/**
 * Where the tests' temporary files go (os.tmpdir() in the workers and every process they start): a
 * TMPDIR the caller sets, else the memory file system /dev/shm when the machine has one. The suite
 * writes gigabytes there (a 40 MB PGlite data directory copied per test file, the databases' own
 * writes, private Redis and Postgres servers); on a disk those writes wait for the journal and for
 * write-back, and a copy that blocks a worker took seconds. An embedded run measured 116-122 s of
 * wall clock and 163-203 s of CPU with /tmp, 95 s and 139 s with /dev/shm (under a heavier load).
 */
function testTmpDir(): string | undefined {
  if (process.env.TMPDIR) return process.env.TMPDIR;
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return fs.statSync('/dev/shm').isDirectory() ? '/dev/shm' : undefined;
  } catch {
    return undefined;
  }
}
const tmpDir = testTmpDir();

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Template databases (PGlite and, with DATABASE_URL, Postgres) made once per run and copied per file.
    globalSetup: ['test/global-setup.ts'],
    // Servers, PGlite boots and bcrypt at cost 10 take seconds, not milliseconds.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Each file has its own database, keys and Redis prefix: files run in parallel. Most of a file's
    // time is waiting (servers, child processes, Redis and Postgres round trips), so more workers than
    // the two cores of a CI machine pay off; a worker process runs file after file without loading every
    // module again (isolate: false), which was a third of the suite's CPU time.
    pool: 'forks',
    maxWorkers: 4,
    isolate: false,
    // The workers allocate fast and briefly (servers, PGlite, HTTP clients): a young generation four
    // times V8's default collects less often. An embedded run took 142-143 s of CPU with it against
    // 150 s without, and 83-85 s against 88 s of wall clock.
    execArgv: ['--max-semi-space-size=64'],
    // Processes the tests spawn (the CLI, `node src/main.ts`) inherit it with VITEST: cheap hashes there too.
    env: { BCRYPT_COST: String(TEST_BCRYPT_COST), ...(tmpDir ? { TMPDIR: tmpDir } : {}) },
    reporters: ['default'],
  },
});
