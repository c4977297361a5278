import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import type { Config } from '../../config/index.ts';
import { NotFoundError } from '../../domain/errors.ts';
import type { HeldActor } from '../../services/admin-actor.ts';
import type {
  AdminAuthenticationService,
  AdminPrincipal,
} from '../../services/admin-authentication-service.ts';
import { echo } from '../../domain/text.ts';
import { HttpProblem } from '../problem.ts';
import {
  type AdminContext,
  type AdminState,
  actorOf,
  bearerAuthentication,
  requirePermission,
} from './authentication.ts';
import { toHttpProblem } from './errors.ts';
import { ADMIN_PREFIX, buildOpenApiDocument } from './openapi.ts';
import { parseInput, readJsonBody } from './request.ts';
import { ADMIN_ROUTES, type AdminRoute, type AdminServices } from './routes.ts';
import { ALL_PLATFORM_ROUTES } from '../platform/route-table.ts';

export interface AdminDependencies {
  config: Pick<Config, 'issuer' | 'adminAudience'>;
  /** The use cases the route table calls (built once, by the composition root). */
  services: AdminServices;
  authentication: AdminAuthenticationService;
}

const uuid = z.uuid();

/**
 * /admin/v1: every operation of the route table behind bearer authentication, plus the OpenAPI
 * document built from the same table. Each request: authenticate -> permission -> validate path,
 * query and body -> one service call -> JSON.
 */
export function adminRouter(deps: AdminDependencies): Router {
  const { services } = deps;
  const authenticate = bearerAuthentication(deps.authentication, deps.config.adminAudience);
  const document = buildOpenApiDocument(ADMIN_ROUTES, deps.config.issuer, ALL_PLATFORM_ROUTES);

  const router = new Router<AdminState>({ prefix: ADMIN_PREFIX });
  router.get('/openapi.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = document;
  });
  for (const route of ADMIN_ROUTES) {
    router[route.method](koaPath(route.path), translateErrors, authenticate, handler(route, services));
  }
  answerOtherMethods(router, ADMIN_PREFIX, [{ method: 'get', path: '/openapi.json' }, ...ADMIN_ROUTES]);
  return router;
}

function handler(route: AdminRoute, services: AdminServices) {
  return async (ctx: AdminContext & { params: Record<string, string | undefined> }) => {
    const { principal } = ctx.state;
    // bearerAuthentication runs before every handler: a request without a principal is a wiring defect.
    if (!principal)
      throw new Error(`${route.method.toUpperCase()} ${route.path} was routed without authentication`);
    try {
      await handle(ctx, principal, route, services);
    } catch (error) {
      const problem = toHttpProblem(error);
      // Refused for who is asking (403) or for the organization's state (409): the actor's trail says so.
      if (problem instanceof HttpProblem && (problem.status === 403 || problem.status === 409)) {
        await services.refusals.record(actorOf(ctx, principal) as HeldActor, {
          operation: route.operationId,
          method: route.method.toUpperCase(),
          status: problem.status,
          code: problem.code,
          reason: problem.detail,
          params: pathParams(ctx.params, route),
        });
      }
      throw problem;
    }
  };
}

/** The path parameters the route names, each cut short (a made-up id is echoed, never megabytes). */
function pathParams(values: Record<string, string | undefined>, route: AdminRoute): Record<string, string> {
  return Object.fromEntries(
    Object.keys(route.params).map((name) => [name, echo(String(values[name] ?? ''), 64)]),
  );
}

/** One request: permission -> validate path, query and body -> one service call -> JSON. */
async function handle(
  ctx: AdminContext & { params: Record<string, string | undefined> },
  principal: AdminPrincipal,
  route: AdminRoute,
  services: AdminServices,
): Promise<void> {
  requirePermission(principal, route.permissions);
  const params: Record<string, string> = {};
  for (const [name, resource] of Object.entries(route.params)) {
    const value = String(ctx.params[name] ?? '');
    // A malformed id names nothing, exactly like an id that does not exist.
    if (!uuid.safeParse(value).success) throw new NotFoundError(resource, value);
    params[name] = value.toLowerCase();
  }
  const query = parseInput(route.query, ctx.query, 'query string');
  const body = route.body ? parseInput(route.body, await readJsonBody(ctx), 'request body') : undefined;
  const result = await route.handle({ actor: actorOf(ctx, principal), params, query, body }, services);
  ctx.set('Cache-Control', 'no-store');
  ctx.status = route.response.status;
  if (route.response.status !== 204) ctx.body = result;
}

async function translateErrors(_ctx: Context, next: Next) {
  try {
    await next();
  } catch (error) {
    throw toHttpProblem(error);
  }
}

/** `{id}` becomes `:id`; a literal colon (custom actions like `:revoke`) is escaped for path-to-regexp. */
export function koaPath(openApiPath: string): string {
  return openApiPath.replaceAll(':', '\\:').replace(/\{([a-z_]+)\}/g, ':$1');
}

/**
 * Registered after every route, so each answers only the methods no route took: 405 as problem+json
 * with the Allow header listing the methods the path does accept.
 */
export function answerOtherMethods<State>(
  router: Router<State>,
  prefix: string,
  routes: ReadonlyArray<{ method: string; path: string }>,
): void {
  const allowed = new Map<string, string[]>();
  for (const route of routes) {
    allowed.set(route.path, [...(allowed.get(route.path) ?? []), route.method.toUpperCase()]);
  }
  for (const [path, methods] of allowed) {
    const allow = methods.join(', ');
    router.all(koaPath(path), () => {
      throw new HttpProblem(405, 'method_not_allowed', `${prefix}${path} accepts ${allow}`, {
        headers: { Allow: allow },
      });
    });
  }
}
