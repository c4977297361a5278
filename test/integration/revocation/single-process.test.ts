import { startSingleProcess } from './revocation-helpers.ts';
import { describeRevocationScenarios } from './scenarios.ts';

// The same promises on the in-process state store (the embedded default), in one process.
describeRevocationScenarios('revocation on the in-process state store', () =>
  startSingleProcess({ REDIS_URL: '' }),
);
