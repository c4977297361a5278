import { describe } from 'vitest';
import { startTwoProcesses } from './revocation-helpers.ts';
import { describeRevocationScenarios } from './scenarios.ts';

// Two `node src/main.ts` processes sharing Postgres and Redis: what "takes effect everywhere" means.
describe.skipIf(!process.env.DATABASE_URL || !process.env.REDIS_URL)(
  'two svcauth processes (DATABASE_URL, REDIS_URL)',
  () => {
    describeRevocationScenarios('revocation across instances', () => startTwoProcesses());
  },
);
