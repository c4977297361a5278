import Router from '@koa/router';
import type { Context, Next, ParameterizedContext } from 'koa';
import { z } from 'zod';
import { NotFoundError } from '../../domain/errors.ts';
import { lockoutDescription } from '../../domain/lockout.ts';
import type { OperatorAuthenticator } from '../../oauth/resource-server-auth.ts';
import type { LockoutService } from '../../services/lockout-service.ts';
import type { PlatformOperator } from '../../services/platform-service.ts';
import { answerOtherMethods, koaPath } from '../admin/router.ts';
import { toHttpProblem } from '../admin/errors.ts';
import { PLATFORM_PREFIX } from '../admin/openapi.ts';
import { parseInput, readJsonBody } from '../admin/request.ts';
import type { RequestState } from '../middleware.ts';
import { HttpProblem } from '../problem.ts';
import { ALL_PLATFORM_ROUTES } from './route-table.ts';
import type { PlatformRoute, PlatformServices } from './routes.ts';

export interface PlatformDependencies {
  /** The use cases the route table calls (built once, by the composition root). */
  services: PlatformServices;
  operators: OperatorAuthenticator;
  /** Brute-force limits: failed operator authentications count like failed client authentications. */
  lockout: Pick<LockoutService, 'check' | 'recordFailure'>;
}

/** ctx.state of a platform API request: the request's own, and its operator once authenticated. */
interface PlatformState extends RequestState {
  operator?: PlatformOperator;
}

type PlatformContext = ParameterizedContext<PlatformState>;

const REALM = 'svcauth-platform';
const uuid = z.uuid();

/**
 * /platform/v1: the route table behind operator authentication (OPERATORS). Each request:
 * authenticate -> validate path, query and body -> one service call -> JSON. Without any operator
 * configured, every request is refused the same way, saying how to configure one.
 */
export function platformRouter(deps: PlatformDependencies): Router {
  const { services } = deps;
  const router = new Router<PlatformState>({ prefix: PLATFORM_PREFIX });
  const authenticate = operatorAuthentication(deps.operators, deps.lockout);
  for (const route of ALL_PLATFORM_ROUTES) {
    router[route.method](koaPath(route.path), translateErrors, authenticate, handler(route, services));
  }
  answerOtherMethods(router, PLATFORM_PREFIX, ALL_PLATFORM_ROUTES);
  return router;
}

/**
 * Operators are counted like clients at /token: per (operator name, source) and per source, before the
 * secret is compared, so a source cannot guess operator secrets without limit.
 */
function operatorAuthentication(operators: OperatorAuthenticator, lockout: PlatformDependencies['lockout']) {
  return async (ctx: PlatformContext, next: Next) => {
    const authorization = ctx.get('authorization') || undefined;
    const presented = operators.presentedName(authorization);
    // Namespaced: an operator name is counted apart from any tenant's client id of the same spelling.
    const counted = presented === null ? null : `operator:${presented}`;
    const source = ctx.ip ? { kind: 'ip' as const, value: ctx.ip } : null;
    const locked = lockout.check(counted, source);
    if (locked) {
      throw new HttpProblem(429, 'locked_out', lockoutDescription(locked.retryAfterSeconds), {
        headers: { 'Retry-After': String(locked.retryAfterSeconds) },
      });
    }
    const name = await operators.authenticate(authorization);
    if (name === null) {
      // Only a presented secret is a guess; a request without credentials is not counted.
      if (authorization !== undefined) {
        await lockout.recordFailure(
          { clientId: counted, source, endpoint: 'platform', requestId: ctx.state.requestId },
          null,
        );
      }
      const detail = (await operators.configured())
        ? 'send an operator secret (listed in OPERATORS or made through the platform API), as HTTP Basic name:secret or "Authorization: Bearer <secret>"'
        : 'no operator is configured: make one with "svcauth operator-credential --name NAME" and add its entry to OPERATORS';
      throw new HttpProblem(401, 'unauthorized', detail, {
        headers: { 'WWW-Authenticate': `Basic realm="${REALM}", Bearer realm="${REALM}"` },
      });
    }
    const operator: PlatformOperator = {
      name,
      sourceIp: ctx.ip || null,
      requestId: ctx.state.requestId,
    };
    ctx.state.operator = operator;
    await next();
  };
}

function handler(route: PlatformRoute, services: PlatformServices) {
  return async (ctx: PlatformContext & { params: Record<string, string | undefined> }) => {
    const { operator } = ctx.state;
    // operatorAuthentication runs before every handler: a request without an operator is a wiring defect.
    if (!operator)
      throw new Error(`${route.method.toUpperCase()} ${route.path} was routed without authentication`);
    const params: Record<string, string> = {};
    for (const [name, resource] of Object.entries(route.params)) {
      const value = String(ctx.params[name] ?? '');
      // A malformed id names nothing, exactly like an id that does not exist.
      if (!uuid.safeParse(value).success) throw new NotFoundError(resource, value);
      params[name] = value.toLowerCase();
    }
    const query = parseInput(route.query, ctx.query, 'query string');
    const body = route.body ? parseInput(route.body, await readJsonBody(ctx), 'request body') : undefined;
    const result = await route.handle({ operator, params, query, body }, services);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = result.status ?? route.response.status;
    ctx.body = result.body;
  };
}

async function translateErrors(_ctx: Context, next: Next) {
  try {
    await next();
  } catch (error) {
    throw toHttpProblem(error);
  }
}
