import type { Context } from 'koa';
import { errors, Provider } from 'oidc-provider';
import { isSecretShaped, lockoutDescription, type LockoutSource } from '../domain/lockout.ts';
import type { Attempt, AttemptCredential, Reserved } from '../services/lockout-service.ts';
import type { TokenSubject } from '../services/token-subject-service.ts';
import { getRequestSubject, setMatchedSecret } from './request-subject.ts';
import { recalledSecret, recognizedSecret } from './secret-match.ts';
import type { SecretVerifier } from './secret-verification.ts';

/** What /token asks of the brute-force limits (see LockoutService). */
export interface TokenLockout {
  check(clientId: string | null, source: LockoutSource | null): { retryAfterSeconds: number } | null;
  reserve(attempt: Attempt): Promise<Reserved>;
  once<T>(clientId: string, secret: string, evaluate: () => Promise<T>): Promise<T>;
  recordFailure(attempt: Attempt, credential: AttemptCredential | null): Promise<void>;
}

/** On the request context (symbols, not a WeakMap: see request-subject.ts). */
const PRESENTED_CLIENT_ID = Symbol('svcauth.presentedClientId');
const COUNTED = Symbol('svcauth.lockoutCounted');

interface WithLockoutState {
  [PRESENTED_CLIENT_ID]?: string;
  [COUNTED]?: true;
}
const lockoutRefusals = new WeakSet<object>();

/** The client id a token request presented (whether or not it exists), once oidc-provider looked it up. */
export function presentedClientId(ctx: Context | undefined): string | null {
  return (ctx as WithLockoutState | undefined)?.[PRESENTED_CLIENT_ID] ?? null;
}

/** Whether this request's attempt was already counted (reserved before its secret was evaluated). */
export function isCounted(ctx: Context | undefined): boolean {
  return (ctx as WithLockoutState | undefined)?.[COUNTED] === true;
}

/** Whether a token endpoint error is the lockout refusal itself (not a failed authentication to count). */
export function isLockoutRefusal(error: unknown): boolean {
  return typeof error === 'object' && error !== null && lockoutRefusals.has(error);
}

/** The source /token and /revoke count attempts under: the client's address. */
export function ipSource(ctx: Context | undefined): LockoutSource | null {
  return ctx?.ip ? { kind: 'ip', value: ctx.ip } : null;
}

/** The attempt a token request makes, for the lockout. */
export function tokenAttempt(ctx: Context | undefined, clientId: string | null): Attempt {
  return {
    clientId,
    source: ipSource(ctx),
    endpoint: 'token',
    requestId: ctx?.response.get('X-Request-Id') || null,
  };
}

export function attemptCredential(subject: TokenSubject | null | undefined): AttemptCredential | null {
  return subject
    ? { orgId: subject.organization.id, accountId: subject.account.id, credentialId: subject.credential.id }
    : null;
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
 * authentication method: a locked-out pair or source is refused there, before any database lookup or
 * bcrypt comparison (memory only). An unknown client id, or a value shaped like a secret (never looked
 * up, never a key), is counted and costs one decoy bcrypt comparison, as a wrong secret does: neither
 * the answer nor the time tells it from a live client id.
 */
export function installLockoutGuard(
  provider: Provider,
  lockout: TokenLockout,
  secrets: SecretVerifier,
): void {
  const Client = provider.Client;
  const find = Client.find.bind(Client);
  Client.find = async function guardedFind(id: string) {
    const ctx = Provider.ctx as Context | undefined;
    const clientId = String(id);
    if (ctx) (ctx as WithLockoutState)[PRESENTED_CLIENT_ID] = clientId;
    const refusal = lockout.check(clientId, ipSource(ctx));
    if (refusal) throw lockoutError(ctx, refusal.retryAfterSeconds);
    const client = isSecretShaped(clientId) ? undefined : await find(id);
    if (client) return client;
    const reserved = await lockout.reserve(tokenAttempt(ctx, clientId));
    if (ctx) (ctx as WithLockoutState)[COUNTED] = true;
    if (!reserved.ok) throw lockoutError(ctx, reserved.retryAfterSeconds);
    // An assertion of a live client costs a signature check, not bcrypt: no decoy for those.
    if (!presentsAssertion(ctx)) await secrets.compareNothing();
    void reserved.attempt.failed(null);
    return undefined;
  };
}

function presentsAssertion(ctx: Context | undefined): boolean {
  const body = (ctx as { oidc?: { body?: Record<string, unknown> } } | undefined)?.oidc?.body;
  return typeof body?.['client_assertion'] === 'string';
}

/**
 * The secret check of /token within the limits. A secret recognized from memory (the warm path) is a
 * success without any state-store call. Anything else is counted first (reserved atomically, refused
 * past the limit), then evaluated with bcrypt; a success takes its reservation back. A wrong secret
 * answered from memory still costs one decoy comparison, so warm and cold failures take alike.
 */
export async function checkSecretWithinLimits(
  ctx: Context | undefined,
  subject: TokenSubject,
  secret: string,
  deps: { lockout: TokenLockout; secrets: SecretVerifier; evaluate: () => Promise<boolean> },
): Promise<boolean> {
  const { credential } = subject;
  const known =
    recognizedSecret(deps.secrets, credential, secret) ??
    // Verified before by another instance, or by this one before a restart: no bcrypt, nothing to count.
    (await recalledSecret(deps.secrets, credential, secret));
  if (known) {
    setMatchedSecret(ctx, known);
    return true;
  }
  if (ctx) (ctx as WithLockoutState)[COUNTED] = true;
  const outcome = await deps.lockout.once(credential.client_id, secret, async () => {
    const reserved = await deps.lockout.reserve(tokenAttempt(ctx, credential.client_id));
    if (!reserved.ok) return { retryAfterSeconds: reserved.retryAfterSeconds };
    if (await deps.evaluate()) {
      reserved.attempt.succeeded();
      return true;
    }
    if (!credential.secret_hash || deps.secrets.remembers(credential.id, credential.secret_hash)) {
      await deps.secrets.compareNothing();
    }
    void reserved.attempt.failed(attemptCredential(subject));
    return false;
  });
  if (typeof outcome === 'object') throw lockoutError(ctx, outcome.retryAfterSeconds);
  return outcome;
}

/**
 * Wraps the secret comparison of oidc-provider's clients (installClientAuthPolicy's, which still
 * decides) in checkSecretWithinLimits.
 */
export function installSecretLimits(
  provider: Provider,
  lockout: TokenLockout,
  secrets: SecretVerifier,
): void {
  const compare = provider.Client.prototype.compareClientSecret;
  provider.Client.prototype.compareClientSecret = async function compareWithinLimits(actual: string) {
    const ctx = Provider.ctx as Context | undefined;
    const subject = getRequestSubject(ctx);
    if (!subject || subject.credential.client_id !== this.clientId) return compare.call(this, actual);
    return checkSecretWithinLimits(ctx, subject, actual, {
      lockout,
      secrets,
      evaluate: async () => compare.call(this, actual),
    });
  };
}
