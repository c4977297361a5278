import type { Context } from 'koa';
import type { SecretMatch } from '../domain/secret-versions.ts';
import type { TokenSubject } from '../services/token-subject-service.ts';

export interface SubjectResolver {
  findByClientId(clientId: string): Promise<TokenSubject | null>;
}

/**
 * The subject found while authenticating the client is kept on the request, so the secret check and
 * the token's claims use the very rows the client was built from (one lookup per request). It lives
 * under a symbol on the context, not in a WeakMap: WeakMap entries cost the garbage collector extra
 * work, on every token request.
 */
const SUBJECT = Symbol('svcauth.requestSubject');
/** Which of the credential's secrets the request presented (secret-match.ts). */
const MATCHED_SECRET = Symbol('svcauth.matchedSecret');

interface WithSubject {
  [SUBJECT]?: TokenSubject;
  [MATCHED_SECRET]?: SecretMatch;
}

export function setRequestSubject(ctx: Context, subject: TokenSubject): void {
  (ctx as WithSubject)[SUBJECT] = subject;
}

export function getRequestSubject(ctx: Context | undefined): TokenSubject | undefined {
  return (ctx as WithSubject | undefined)?.[SUBJECT];
}

export function setMatchedSecret(ctx: Context | undefined, match: SecretMatch): void {
  if (ctx) (ctx as WithSubject)[MATCHED_SECRET] = match;
}

/** The secret the request's client authenticated with; null for private_key_jwt (no secret). */
export function getMatchedSecret(ctx: Context | undefined): SecretMatch | null {
  return (ctx as WithSubject | undefined)?.[MATCHED_SECRET] ?? null;
}
