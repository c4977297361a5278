import { vi } from 'vitest';

/**
 * Waiting for something that happens asynchronously (a message delivered, a server ready), on Vitest's
 * vi.waitFor: it retries until the callback passes, and the deadline only bounds how long a failing
 * test takes (tests assert behaviour, never timings).
 */

/** Retries an assertion until it passes, then returns its value; past the deadline, rethrows its last failure. */
export function eventually<T>(
  assertion: () => T | Promise<T>,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  return vi.waitFor(assertion, { timeout: timeoutMs, interval: intervalMs });
}

/** Waits until `check` holds; the error names what it waited for. Returns how long that took (for reports). */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<number> {
  const started = performance.now();
  await vi.waitFor(
    async () => {
      if (!(await check())) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    },
    { timeout: timeoutMs, interval: intervalMs },
  );
  return Math.round(performance.now() - started);
}
