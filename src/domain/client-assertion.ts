/**
 * How long a private_key_jwt client assertion may live. An assertion is a one-off proof of key
 * possession, signed just before the request: it has no business being valid for long, and every
 * accepted one is remembered (as used) until it expires, so its lifetime is also what it costs to
 * remember. Pure: the caller supplies the time.
 */

/** Clock difference tolerated between a client and svcauth, in seconds (every time check of an assertion). */
export const CLOCK_TOLERANCE_SECONDS = 5;

/** The longest an assertion may be valid: from its iat to its exp, and from now to its exp. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;

/** The assertion claims that bound its lifetime (already signature-checked; exp already unexpired). */
export interface AssertionTimes {
  iat?: unknown;
  exp?: unknown;
}

/**
 * Why an assertion's times are unacceptable, as a sentence telling the client what to fix; null when
 * they are fine. `exp` is required; `iat` is optional (RFC 7523), but when present it may not lie in
 * the future and may not be more than the maximum lifetime before `exp`.
 */
export function assertionTimesProblem(claims: AssertionTimes, nowSeconds: number): string | null {
  const { iat, exp } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    return 'the client assertion must carry a numeric exp (expiration time)';
  }
  if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) {
    return 'the client assertion iat (issued at) must be a number of seconds';
  }
  if (typeof iat === 'number' && iat > nowSeconds + CLOCK_TOLERANCE_SECONDS) {
    return 'the client assertion iat (issued at) lies in the future; sign assertions with a correct clock';
  }
  if (exp - nowSeconds > MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) {
    return `the client assertion expires too late: exp may be at most ${MAX_ASSERTION_LIFETIME_SECONDS} seconds from now`;
  }
  if (typeof iat === 'number' && exp - iat > MAX_ASSERTION_LIFETIME_SECONDS) {
    return `the client assertion is valid for too long: exp - iat may be at most ${MAX_ASSERTION_LIFETIME_SECONDS} seconds`;
  }
  return null;
}

/**
 * How long a "this jti was used" marker is kept: until the assertion (or proof) it stands for can no
 * longer be accepted, and never longer than the longest acceptable lifetime, whatever `expiresAt` says.
 * At least one second (a store's minimum TTL).
 */
export function replayMarkerTtlSeconds(expiresAt: number, nowSeconds: number): number {
  const remaining = Math.ceil(expiresAt - nowSeconds) + CLOCK_TOLERANCE_SECONDS;
  const longest = MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS;
  return Number.isFinite(remaining) ? Math.min(longest, Math.max(1, remaining)) : longest;
}
