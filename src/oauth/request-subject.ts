import type { Context } from 'koa';
import type { TokenSubject } from '../services/token-subject-service.ts';

export interface SubjectResolver {
  findByClientId(clientId: string): Promise<TokenSubject | null>;
}

/**
 * The subject found while authenticating the client is kept on the request, so the secret check and
 * the token's claims use the very rows the client was built from (one lookup per request).
 */
const subjects = new WeakMap<object, TokenSubject>();

export function setRequestSubject(ctx: Context, subject: TokenSubject): void {
  subjects.set(ctx, subject);
}

export function getRequestSubject(ctx: Context | undefined): TokenSubject | undefined {
  return ctx ? subjects.get(ctx) : undefined;
}
