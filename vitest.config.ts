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
    // Each file is its own process with its own database, keys and Redis prefix: files run in parallel.
    pool: 'forks',
    // Processes the tests spawn (the CLI, `node src/main.ts`) inherit it with VITEST: cheap hashes there too.
    env: { BCRYPT_COST: String(TEST_BCRYPT_COST) },
    reporters: ['default'],
  },
});
