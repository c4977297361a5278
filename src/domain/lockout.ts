/**
 * Brute-force limits on client authentication. Attempts are counted per (client id, source) and per
 * source in fixed windows; reaching a limit locks that pair, or that source, out for a while. A source
 * is the request's IP at /token and /revoke, and the calling resource server at /introspect.
 *
 * Why per (client id, source) and not per client id: client ids are in every token, so a per-client-id
 * lock would let anyone lock any client out. A lock caused from one source never stops the client
 * elsewhere; the per-source limit bounds what one source can try across client ids. Pure: counting,
 * storage and the keyed digest are the caller's.
 */
import {
  isClientSecretWellFormed,
  isDeploymentSecretWellFormed,
  isResourceServerSecretWellFormed,
  OPERATOR_SECRET_PREFIX,
  parseApiKey,
} from './credential-format.ts';

export interface LockoutPolicy {
  /** Failures of one client id from one source. */
  maxFailuresPerClient: number;
  /** Failures from one source, whatever the client id. */
  maxFailuresPerIp: number;
  windowSeconds: number;
  lockSeconds: number;
}

/** `pair`: one client id from one source; `source`: everything from one source. */
export type LockoutKind = 'pair' | 'source';

/** What is counted and locked. The key holds digests only, never the client id or source itself. */
export interface LockoutSubject {
  kind: LockoutKind;
  key: string;
}

/** Where attempts come from: an IP address, or a resource server (by its configured name). */
export interface LockoutSource {
  kind: 'ip' | 'resource_server';
  value: string;
}

/** What every secret-shaped client id is counted as: the value itself must never become an identifier. */
export const SECRET_SHAPED_CLIENT_ID = '(a value shaped like a secret)';

/**
 * Whether a value has the shape and checksum of a secret svcauth issues (client secret, API key,
 * resource-server or operator secret). Someone who sends one as a client id has pasted the wrong field: it must
 * not end up in a key name, an index or a log line.
 */
export function isSecretShaped(value: string): boolean {
  return (
    isClientSecretWellFormed(value) ||
    parseApiKey(value).ok ||
    isResourceServerSecretWellFormed(value) ||
    isDeploymentSecretWellFormed(OPERATOR_SECRET_PREFIX, value)
  );
}

/** The identifier a presented client id is counted and logged under (before any digest). */
export function countedClientId(clientId: string): string {
  return isSecretShaped(clientId) ? SECRET_SHAPED_CLIENT_ID : clientId;
}

/**
 * The subjects an attempt is counted under: the pair (when a client id was presented) and the source.
 * `digest` is a keyed hash (see LockoutService): key names reveal neither client ids nor sources.
 */
export function lockoutSubjects(
  clientId: string | null,
  source: LockoutSource | null,
  digest: (value: string) => string,
): LockoutSubject[] {
  if (!source)
    return clientId === null
      ? []
      : [{ kind: 'pair', key: `pair:${digest(`\0${countedClientId(clientId)}`)}` }];
  const sourcePart = `${source.kind}\0${source.value}`;
  const subjects: LockoutSubject[] = [];
  if (clientId !== null) {
    subjects.push({ kind: 'pair', key: `pair:${digest(`${sourcePart}\0${countedClientId(clientId)}`)}` });
  }
  subjects.push({ kind: 'source', key: `source:${digest(sourcePart)}` });
  return subjects;
}

/** The number of failures within the window that locks a subject of this kind out. */
export function limitOf(kind: LockoutKind, policy: LockoutPolicy): number {
  return kind === 'pair' ? policy.maxFailuresPerClient : policy.maxFailuresPerIp;
}

/** Whether `failures` within the window lock the subject out. */
export function reachesLimit(kind: LockoutKind, failures: number, policy: LockoutPolicy): boolean {
  return failures >= limitOf(kind, policy);
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
