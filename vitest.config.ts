import { defineConfig } from 'vitest/config';
import { TEST_BCRYPT_COST } from './test/helpers/test-env.ts';

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
    // Processes the tests spawn (the CLI, `node src/main.ts`) inherit it with VITEST: cheap hashes there too.
    env: { BCRYPT_COST: String(TEST_BCRYPT_COST) },
    reporters: ['default'],
  },
});
