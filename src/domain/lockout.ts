/**
 * Brute-force limits on client authentication: failures are counted per client id and per source IP in
 * fixed windows; reaching a limit locks that client id or IP out for a while. Pure: counting and
 * storage are the caller's.
 */
import { createHash } from 'node:crypto';

export interface LockoutPolicy {
  maxFailuresPerClient: number;
  maxFailuresPerIp: number;
  windowSeconds: number;
  lockSeconds: number;
}

export type LockoutKind = 'client' | 'ip';

/** What is counted and locked: `client:<id>` or `ip:<address>`. */
export interface LockoutSubject {
  kind: LockoutKind;
  key: string;
}

const PLAIN_VALUE = /^[\x21-\x7e]{1,128}$/;

/**
 * The subjects a request is counted under. A client id that is long or holds odd characters (anyone can
 * send anything) is keyed by its hash, so keys stay short and printable; existing and unknown client ids
 * are treated alike.
 */
export function lockoutSubjects(clientId: string | null, ip: string | null): LockoutSubject[] {
  const subjects: LockoutSubject[] = [];
  if (clientId) subjects.push({ kind: 'client', key: `client:${keyPart(clientId)}` });
  if (ip) subjects.push({ kind: 'ip', key: `ip:${keyPart(ip)}` });
  return subjects;
}

function keyPart(value: string): string {
  return PLAIN_VALUE.test(value)
    ? value
    : `sha256-${createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 32)}`;
}

/** Whether `failures` within the window lock the subject out. */
export function reachesLimit(kind: LockoutKind, failures: number, policy: LockoutPolicy): boolean {
  return failures >= (kind === 'client' ? policy.maxFailuresPerClient : policy.maxFailuresPerIp);
}

/** Whole seconds until a lock ends, never less than 1 while it holds. */
export function retryAfterSeconds(lockedUntilMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((lockedUntilMs - nowMs) / 1000));
}

/**
 * The refusal a request meets before authentication, or null: the lock with the most time left among
 * its subjects.
 */
export function lockoutRefusal(
  locks: ReadonlyMap<string, number>,
  subjects: readonly LockoutSubject[],
  nowMs: number,
): { subject: LockoutSubject; retryAfterSeconds: number } | null {
  let refusal: { subject: LockoutSubject; retryAfterSeconds: number } | null = null;
  for (const subject of subjects) {
    const until = locks.get(subject.key);
    if (until === undefined || until <= nowMs) continue;
    const seconds = retryAfterSeconds(until, nowMs);
    if (!refusal || seconds > refusal.retryAfterSeconds) refusal = { subject, retryAfterSeconds: seconds };
  }
  return refusal;
}

/** The same words for an existing and a made-up client id, so a lockout reveals nothing. */
export function lockoutDescription(seconds: number): string {
  return `too many failed authentications; retry after ${seconds} seconds`;
}
