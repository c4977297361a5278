/**
 * Adapters for koa and plain node:http. Both read the `Authorization` header, verify it, and on
 * failure answer 401 (`invalid_token`) or 403 (`insufficient_scope`) with RFC 6750 challenges. Neither
 * imports its framework: they rely only on the few members they use.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type PresentedCredentials, readAuthorization } from './authorization-header.ts';
import { refusalFor, requirePermissions } from './challenge.ts';
import type { DpopRequest } from './dpop.ts';
import { invalidRequest, invalidToken, VerificationError } from './errors.ts';
import type { Principal } from './principal.ts';
import type { Verifier } from './verifier.ts';

export interface AuthenticateOptions {
  /**
   * Permissions the request needs at some location (or organization-wide); without one of them the
   * answer is 403 `insufficient_scope`. Per-location checks are the handler's, with `principal.can`.
   */
  required?: readonly string[];
  /** The `realm` of the challenges. Default: the verifier's first audience. */
  realm?: string;
  /** Whether API keys (Basic `api:<key>`) are accepted. Default true. */
  allowApiKeys?: boolean;
}

type Outcome =
  | { ok: true; principal: Principal }
  | { ok: false; error: VerificationError; presented: PresentedCredentials };

async function authenticateHeader(
  verifier: Verifier,
  header: string | readonly string[] | undefined,
  options: AuthenticateOptions,
  request: DpopRequest,
): Promise<Outcome> {
  const presented = readAuthorization(header);
  try {
    // RFC 6750 2: a token goes in one place only; the kit reads the header, and refuses a second copy.
    if (presented.scheme !== 'none' && hasQueryToken(request.url)) {
      throw invalidRequest('present the token in the Authorization header only, not also in the query');
    }
    let principal: Principal;
    switch (presented.scheme) {
      case 'bearer':
        principal = await verifier.verify(presented.token);
        break;
      case 'dpop':
        principal = await verifier.verify(presented.token, request);
        break;
      case 'api_key':
        if (options.allowApiKeys === false)
          throw invalidToken('API keys are not accepted here; use a Bearer token');
        principal = await verifier.verifyApiKey(presented.key);
        break;
      case 'none':
        throw invalidToken('no credentials were presented');
      case 'invalid':
        throw presented.malformed ? invalidRequest(presented.reason) : invalidToken(presented.reason);
    }
    requirePermissions(principal, options.required ?? []);
    return { ok: true, principal };
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error;
    return { ok: false, error, presented };
  }
}

function hasQueryToken(url: string): boolean {
  try {
    return new URL(url).searchParams.has('access_token');
  } catch {
    return false;
  }
}

/** Every Authorization header line of the request (Node keeps only the first in `headers`). */
function authorizationHeaders(req: {
  headers: { authorization?: string | undefined };
  headersDistinct?: Record<string, string[] | undefined>;
}): string | readonly string[] | undefined {
  return req.headersDistinct?.authorization ?? req.headers.authorization;
}

/** The members of a koa context the middleware uses. */
export interface KoaLikeContext {
  get(field: string): string;
  set(field: string, value: string | string[]): void;
  state: Record<string, unknown>;
  /** The request method and absolute URL (Koa's ctx.method and ctx.href), for DPoP proofs. */
  method: string;
  href: string;
  status: number;
  body: unknown;
  /** The node request, for repeated Authorization headers (Koa's ctx.req). */
  req?: {
    headers: { authorization?: string | undefined };
    headersDistinct?: Record<string, string[] | undefined>;
  };
}

/**
 * Koa middleware: sets `ctx.state.principal` and calls the next middleware, or answers the refusal.
 * Use it app-wide, or per route with its own `required` permissions.
 */
export function koaMiddleware(verifier: Verifier, options: AuthenticateOptions = {}) {
  const realm = options.realm ?? verifier.audiences[0]!;
  return async (ctx: KoaLikeContext, next: () => Promise<unknown>): Promise<void> => {
    const single = ctx.get('authorization');
    const header = ctx.req ? authorizationHeaders(ctx.req) : single === '' ? undefined : single;
    const proof = ctx.get('dpop');
    const outcome = await authenticateHeader(verifier, header, options, {
      method: ctx.method,
      url: ctx.href,
      proof: proof === '' ? undefined : proof,
    });
    if (!outcome.ok) {
      const refusal = refusalFor(outcome.error, outcome.presented, realm);
      ctx.status = refusal.status;
      ctx.set('WWW-Authenticate', refusal.wwwAuthenticate);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = refusal.body;
      return;
    }
    ctx.state.principal = outcome.principal;
    await next();
  };
}

/**
 * For a plain node:http handler: resolves to the principal, or answers the refusal on `res` and
 * resolves to null (the handler then returns).
 *
 *     const principal = await nodeHttpAuthenticate(verifier, req, res);
 *     if (!principal) return;
 */
export async function nodeHttpAuthenticate(
  verifier: Verifier,
  req: IncomingMessage,
  res: ServerResponse,
  options: AuthenticateOptions = {},
): Promise<Principal | null> {
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const outcome = await authenticateHeader(verifier, authorizationHeaders(req), options, {
    method: req.method ?? 'GET',
    url: `${encrypted ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`,
    proof: req.headers.dpop,
  });
  if (outcome.ok) return outcome.principal;
  const refusal = refusalFor(outcome.error, outcome.presented, options.realm ?? verifier.audiences[0]!);
  const body = JSON.stringify(refusal.body);
  res.writeHead(refusal.status, {
    'www-authenticate': refusal.wwwAuthenticate,
    'cache-control': 'no-store',
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
  return null;
}
