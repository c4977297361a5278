import Koa from 'koa';
import type { Config } from '../config/index.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import type { Logger } from '../logging/logger.ts';
import { healthRoutes, type Probe } from './health-routes.ts';
import { problemErrors, requestContext } from './middleware.ts';
import { oauthRoutes, type ProviderHolder } from './oauth-routes.ts';
import { HttpProblem } from './problem.ts';

export interface HttpAppDependencies {
  config: Config;
  logger: Logger;
  keyRing: KeyRing;
  provider: ProviderHolder;
  probes: Probe[];
}

export function createHttpApp(deps: HttpAppDependencies): Koa {
  const app = new Koa({ proxy: deps.config.trustProxy });
  // Koa would print errors to stderr itself; they are logged (without secrets) by the middleware.
  app.silent = true;
  app.use(requestContext(deps.logger));
  app.use(problemErrors());
  for (const router of [healthRoutes(deps.probes), oauthRoutes(deps)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.use((ctx) => {
    throw new HttpProblem(404, 'not_found', `nothing is served at ${ctx.method} ${ctx.path}`);
  });
  return app;
}
