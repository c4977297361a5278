import type { Context } from 'koa';
import { errors, Provider } from 'oidc-provider';
import { lockoutDescription } from '../domain/lockout.ts';

/** What the guard asks before a client is looked up (see LockoutService). */
export interface LockoutCheck {
  check(clientId: string | null, ip: string | null): { retryAfterSeconds: number } | null;
}

/** On the request context (a symbol, not a WeakMap: see request-subject.ts). */
const PRESENTED_CLIENT_ID = Symbol('svcauth.presentedClientId');

interface WithPresentedClientId {
  [PRESENTED_CLIENT_ID]?: string;
}
const lockoutRefusals = new WeakSet<object>();

/** The client id a token request presented (whether or not it exists), once oidc-provider looked it up. */
export function presentedClientId(ctx: Context | undefined): string | null {
  return (ctx as WithPresentedClientId | undefined)?.[PRESENTED_CLIENT_ID] ?? null;
}

/** Whether a token endpoint error is the lockout refusal itself (not a failed authentication to count). */
export function isLockoutRefusal(error: unknown): boolean {
  return typeof error === 'object' && error !== null && lockoutRefusals.has(error);
}

/**
 * 429 with Retry-After and the RFC 6749 body `invalid_client`: the same answer for an existing and a
 * made-up client id.
 */
export function lockoutError(ctx: Context | undefined, retryAfterSeconds: number): Error {
  ctx?.set('Retry-After', String(retryAfterSeconds));
  const error = new errors.InvalidClient(lockoutDescription(retryAfterSeconds));
  Object.assign(error, { status: 429, statusCode: 429, expose: true });
  lockoutRefusals.add(error);
  return error;
}

/**
 * oidc-provider looks the client up before it checks any secret or assertion, whatever the
 * authentication method: a locked-out client id or source IP is refused there, before any database
 * lookup or bcrypt comparison. The check reads memory only.
 */
export function installLockoutGuard(provider: Provider, lockout: LockoutCheck): void {
  const Client = provider.Client;
  const find = Client.find.bind(Client);
  Client.find = async function guardedFind(id: string) {
    const ctx = Provider.ctx as Context | undefined;
    if (ctx) (ctx as WithPresentedClientId)[PRESENTED_CLIENT_ID] = String(id);
    const refusal = lockout.check(String(id), ctx?.ip || null);
    if (refusal) throw lockoutError(ctx, refusal.retryAfterSeconds);
    return find(id);
  } as typeof Client.find;
}
