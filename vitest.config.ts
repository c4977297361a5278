import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Servers, PGlite boots and bcrypt at cost 10 take seconds, not milliseconds.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Each file is its own process with its own database, keys and Redis prefix: files run in parallel.
    pool: 'forks',
    reporters: ['default'],
  },
});
