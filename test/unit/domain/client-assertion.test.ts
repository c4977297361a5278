import { describe, expect, it } from 'vitest';
import {
  assertionTimesProblem,
  CLOCK_TOLERANCE_SECONDS,
  MAX_ASSERTION_LIFETIME_SECONDS,
  replayMarkerTtlSeconds,
} from '../../../src/domain/client-assertion.ts';

const NOW = 1_800_000_000;

describe('assertionTimesProblem', () => {
  it('accepts a short-lived assertion, with or without iat, and a client clock a little ahead', () => {
    expect(assertionTimesProblem({ iat: NOW, exp: NOW + 60 }, NOW)).toBeNull();
    expect(assertionTimesProblem({ exp: NOW + MAX_ASSERTION_LIFETIME_SECONDS }, NOW)).toBeNull();
    expect(assertionTimesProblem({ iat: NOW + CLOCK_TOLERANCE_SECONDS, exp: NOW + 65 }, NOW)).toBeNull();
    expect(
      assertionTimesProblem({ iat: NOW - 100, exp: NOW - 100 + MAX_ASSERTION_LIFETIME_SECONDS }, NOW),
    ).toBeNull();
  });

  it('refuses an exp too far ahead, a future iat, a long lifetime and malformed times', () => {
    expect(assertionTimesProblem({ iat: NOW, exp: NOW + 10 * 365 * 86400 }, NOW)).toMatch(
      /exp may be at most/,
    );
    expect(
      assertionTimesProblem({ exp: NOW + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS + 1 }, NOW),
    ).toMatch(/exp may be at most/);
    expect(assertionTimesProblem({ iat: NOW + CLOCK_TOLERANCE_SECONDS + 1, exp: NOW + 60 }, NOW)).toMatch(
      /future/,
    );
    expect(assertionTimesProblem({ iat: NOW - 600, exp: NOW + 60 }, NOW)).toMatch(/exp - iat may be at most/);
    expect(assertionTimesProblem({ iat: 'yesterday', exp: NOW + 60 }, NOW)).toMatch(/iat/);
    expect(assertionTimesProblem({ iat: NOW }, NOW)).toMatch(/exp/);
    expect(assertionTimesProblem({ exp: Number.POSITIVE_INFINITY }, NOW)).toMatch(/exp/);
  });
});

describe('replayMarkerTtlSeconds', () => {
  it('keeps a marker until the JWT can no longer be accepted, never longer than the longest lifetime', () => {
    expect(replayMarkerTtlSeconds(NOW + 60, NOW)).toBe(60 + CLOCK_TOLERANCE_SECONDS);
    expect(replayMarkerTtlSeconds(NOW + 10 * 365 * 86400, NOW)).toBe(
      MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS,
    );
    expect(replayMarkerTtlSeconds(NOW - 3600, NOW)).toBe(1);
    expect(replayMarkerTtlSeconds(Number.NaN, NOW)).toBe(
      MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS,
    );
  });
});
