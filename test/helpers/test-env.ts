/**
 * bcrypt cost of every secret the tests hash. Cost 10 (production's minimum) takes about 60 ms a hash
 * on this kind of machine and the suite hashes hundreds; cost 4 takes about 1 ms. The configuration
 * accepts it only in a test run (NODE_ENV=test or VITEST set): see BCRYPT_MIN_TEST_COST.
 */
export const TEST_BCRYPT_COST = 4;

/** What makes a server or CLI configured from an explicit environment a test run with cheap hashes. */
export const TEST_RUN_ENV = { NODE_ENV: 'test', BCRYPT_COST: String(TEST_BCRYPT_COST) } as const;
