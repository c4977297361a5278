import type { Next, ParameterizedContext } from 'koa';
import { AuthenticationError } from '../../domain/errors.ts';
import type { AdminActor } from '../../services/admin-actor.ts';
import {
  type AdminAuthenticationService,
  type AdminPrincipal,
  personActor,
} from '../../services/admin-authentication-service.ts';
import { DPOP_ALGORITHMS } from '../../resource-server/dpop.ts';
import type { TokenPresentation } from '../../services/admin-authentication-service.ts';
import type { RequestState } from '../middleware.ts';
import { HttpProblem } from '../problem.ts';

/** ctx.state of a management API request: the request's own, and its principal once authenticated. */
export interface AdminState extends RequestState {
  principal?: AdminPrincipal;
}

export type AdminContext = ParameterizedContext<AdminState>;

const REALM = 'svcauth-admin';
const DPOP_CHALLENGE = `DPoP realm="${REALM}", algs="${DPOP_ALGORITHMS.join(' ')}"`;

/**
 * RFC 6750 bearer authentication. Without a token the challenge carries no error code; a token that
 * fails any check is `invalid_token`, with the reason in the problem detail.
 */
export function bearerAuthentication(authenticator: AdminAuthenticationService, adminAudience: string) {
  return async (ctx: AdminContext, next: Next) => {
    const match = /^(bearer|dpop) +([A-Za-z0-9._~+/-]+=*) *$/i.exec(ctx.get('authorization'));
    if (!match) {
      throw new HttpProblem(
        401,
        'unauthorized',
        `send an access token for ${adminAudience} from the token endpoint as "Authorization: Bearer <token>" (or "Authorization: DPoP <token>" with a DPoP proof, for a DPoP-bound token)`,
        { headers: { 'WWW-Authenticate': `Bearer realm="${REALM}", ${DPOP_CHALLENGE}` } },
      );
    }
    const presentation: TokenPresentation =
      match[1]!.toLowerCase() === 'dpop'
        ? {
            scheme: 'dpop',
            request: { method: ctx.method, url: ctx.href, proof: ctx.req.headers.dpop },
          }
        : { scheme: 'bearer' };
    try {
      ctx.state.principal = await authenticator.authenticate(
        match[2]!,
        { sourceIp: ctx.ip || null, requestId: ctx.state.requestId },
        presentation,
      );
    } catch (error) {
      if (error instanceof AuthenticationError) {
        const description = error.message.replace(/["\\]/g, '');
        const { dpop, error: code } = error;
        const bearer = `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`;
        const dpopChallenge = `${DPOP_CHALLENGE}, error="${code}", error_description="${description}"`;
        throw new HttpProblem(401, 'invalid_token', error.message, {
          headers: {
            // The challenge for the scheme the client must use comes first.
            'WWW-Authenticate':
              dpop || presentation.scheme === 'dpop'
                ? `${dpopChallenge}, ${bearer}`
                : `${bearer}, ${DPOP_CHALLENGE}`,
          },
        });
      }
      throw error;
    }
    await next();
  };
}

/** Any one of `permissions` is enough; a refusal names what is missing. */
export function requirePermission(principal: AdminPrincipal, permissions: readonly string[]): void {
  if (permissions.some((p) => principal.management.has(p))) return;
  const needed = permissions.join(' or ');
  throw new HttpProblem(403, 'insufficient_permission', `this action needs the ${needed} permission`, {
    extensions: { required_permissions: permissions },
    headers: {
      'WWW-Authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${permissions.join(' ')}"`,
    },
  });
}

export function actorOf(ctx: AdminContext, principal: AdminPrincipal): AdminActor {
  const context = { sourceIp: ctx.ip || null, requestId: ctx.state.requestId };
  if (principal.kind === 'person') return personActor(principal, context);
  return {
    kind: 'admin',
    orgId: principal.orgId,
    accountId: principal.accountId,
    credentialId: principal.credentialId,
    accountName: principal.accountName,
    management: principal.management,
    groupsAdmin: principal.groupsAdmin,
    ...context,
  };
}
