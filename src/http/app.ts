import Koa from 'koa';
import type { Config } from '../config/index.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { echo } from '../domain/text.ts';
import { type AdminDependencies, adminRouter } from './admin/router.ts';
import { consoleRoutes } from './console-routes.ts';
import { healthRoutes, type Probe } from './health-routes.ts';
import { problemErrors, requestContext } from './middleware.ts';
import { oauthRoutes } from './oauth-routes.ts';
import { type PlatformDependencies, platformRouter } from './platform/router.ts';
import { HttpProblem } from './problem.ts';
import { type RevocationRoutesDependencies, revocationRoutes } from './revocation-routes.ts';

export interface HttpAppDependencies {
  config: Config;
  logger: Logger;
  keyRing: KeyRing;
  probes: Probe[];
  metrics: Metrics;
  /** The management API's use cases and its bearer authentication. */
  admin: Omit<AdminDependencies, 'config'>;
  /** The platform API's use cases and its operator authentication (OPERATORS). */
  platform: PlatformDependencies;
  /** The product permission catalog now (the metadata's scopes_supported). */
  catalog: { readonly productNames: readonly string[] };
  /** The persistence layer's test for a database that did not answer (503, not 500). */
  isDatabaseUnavailable: (error: unknown) => boolean;
  /** POST /revoke, POST /introspect, GET /revocations. */
  revocation?: Omit<RevocationRoutesDependencies, 'config'>;
}

export function createHttpApp(deps: HttpAppDependencies): Koa {
  const app = new Koa({ proxy: deps.config.trustProxy });
  // Koa would print errors to stderr itself; they are logged (without secrets) by the middleware.
  app.silent = true;
  app.use(requestContext(deps.logger));
  app.use(deps.metrics.middleware());
  app.use(problemErrors(deps.isDatabaseUnavailable));
  const routers = [healthRoutes(deps.probes, deps.metrics), oauthRoutes(deps), consoleRoutes()];
  if (deps.revocation) routers.push(revocationRoutes({ config: deps.config, ...deps.revocation }));
  for (const router of routers) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.use(adminRouter({ config: deps.config, ...deps.admin }).routes());
  app.use(platformRouter(deps.platform).routes());
  app.use((ctx) => {
    throw new HttpProblem(404, 'not_found', `nothing is served at ${ctx.method} ${echo(ctx.path, 200)}`);
  });
  return app;
}
