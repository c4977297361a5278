import type { IncomingMessage, ServerResponse } from 'node:http';
import Router from '@koa/router';
import type Koa from 'koa';
import type { Context, Next } from 'koa';
import type { Provider } from 'oidc-provider';
import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';
import type { Config } from '../config/index.ts';
import { TOKEN_EXCHANGE_GRANT_TYPE } from '../domain/delegation.ts';
import { echo } from '../domain/text.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import { JWKS_MAX_AGE_SECONDS } from '../keys/signing-keys.ts';
import type { LegacyKeyResolver } from '../oauth/api-key-auth.ts';
import { CLIENT_ASSERTION_ALGS, CLIENT_AUTH_METHODS } from '../oauth/client-authentication.ts';
import { DPOP_SIGNING_ALGS } from '../oauth/provider.ts';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { apiKeyBasicAuth } from './api-key-basic-auth.ts';
import { bufferedTokenBody, oauthError, requestContext } from './middleware.ts';

/** Holds the current oidc-provider; it is rebuilt when the published signing keys change. */
export interface ProviderHolder {
  current(): { provider: Provider; handle: ReturnType<Provider['callback']> };
}

/** RFC 8414 metadata: what this server does, and only that. */
export function authorizationServerMetadata(
  config: Config,
  catalog: { readonly productNames: readonly string[] },
): Record<string, unknown> {
  return {
    issuer: config.issuer,
    token_endpoint: `${config.issuer}/token`,
    jwks_uri: `${config.issuer}/jwks`,
    // RFC 8693 token exchange, for clients the platform operator allows to act for the product's people.
    grant_types_supported: config.tokenExchange
      ? ['client_credentials', TOKEN_EXCHANGE_GRANT_TYPE]
      : ['client_credentials'],
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGS,
    revocation_endpoint: `${config.issuer}/revoke`,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGS,
    // For resource servers only: HTTP Basic with the credentials listed in RESOURCE_SERVERS.
    introspection_endpoint: `${config.issuer}/introspect`,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
    // The product permission catalog as it is now (it changes at run time), then the management ones.
    scopes_supported: [...catalog.productNames, ...MANAGEMENT_PERMISSIONS],
    // RFC 9449: a DPoP proof at /token binds the token to its key; it is then only accepted with one.
    dpop_signing_alg_values_supported: DPOP_SIGNING_ALGS,
    service_documentation: `${config.issuer}/admin/v1/openapi.json`,
  };
}

export function oauthRoutes(deps: {
  config: Config;
  keyRing: KeyRing;
  catalog: { readonly productNames: readonly string[] };
}): Router {
  const router = new Router();
  const metadata = (ctx: Context) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = authorizationServerMetadata(deps.config, deps.catalog);
  };
  router.get('/.well-known/oauth-authorization-server', metadata);
  // No /.well-known/openid-configuration: svcauth is no OpenID Provider (no authorization endpoint, no
  // ID tokens, no userinfo), and OpenID Discovery requires fields that would all be false (README).

  router.get('/jwks', (ctx) => {
    const keys = deps.keyRing.publicJwks();
    ctx.set('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    ctx.type = 'application/jwk-set+json';
    ctx.body = { keys };
  });

  return router;
}

/**
 * What runs in front of oidc-provider's /token, inside oidc-provider's own Koa application (installed
 * with provider.use, which runs before its router): the request id and log line, the latency metric,
 * POST only, the body size limit and API keys presented as HTTP Basic. Token requests reach the
 * provider directly (see createRequestListener), not through a second Koa application: that layer
 * cost about a tenth of each token's CPU time.
 */
export function installTokenEndpointMiddleware(
  provider: Provider,
  deps: { config: Config; logger: Logger; metrics: Metrics; legacyKeys: LegacyKeyResolver },
): void {
  provider.use(requestContext(deps.logger));
  provider.use(deps.metrics.middleware());
  provider.use(withoutCors);
  provider.use(async (ctx, next) => {
    if (ctx.path !== '/token') {
      // Only /token is ever routed here (see createRequestListener); anything else is not served.
      return oauthError(
        ctx,
        404,
        'invalid_request',
        `nothing is served at ${ctx.method} ${echo(ctx.path, 200)}`,
      );
    }
    if (ctx.method !== 'POST') {
      ctx.set('Allow', 'POST');
      return oauthError(ctx, 405, 'invalid_request', 'the token endpoint accepts only POST');
    }
    await next();
  });
  provider.use(clientAuthenticationChallenge(deps.config.issuer));
  provider.use(bufferedTokenBody(deps.config.maxBodyBytes));
  provider.use(apiKeyBasicAuth(deps.config.issuer, deps.legacyKeys));
}

/** What oidc-provider answers to a token request that presents no client authentication at all. */
const NO_CLIENT_AUTHENTICATION = 'no client authentication mechanism provided';

/**
 * RFC 6749 5.2: a request without client authentication is invalid_client (oidc-provider says
 * invalid_request), and a 401 carries a WWW-Authenticate challenge whatever method failed (RFC 9110
 * 15.5.2; oidc-provider sets one only when the failed attempt used the Authorization header). Basic is
 * the challenge: it is a method every client may use here.
 */
function clientAuthenticationChallenge(issuer: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    await next();
    const body = ctx.body as { error?: unknown; error_description?: unknown } | null | undefined;
    if (
      ctx.status === 400 &&
      // A malformed Authorization header (an empty client id included) stays a malformed request.
      !ctx.get('authorization') &&
      body?.error === 'invalid_request' &&
      body.error_description === NO_CLIENT_AUTHENTICATION
    ) {
      return oauthError(
        ctx,
        401,
        'invalid_client',
        'client authentication is required (HTTP Basic, client_secret_post or private_key_jwt)',
        issuer,
      );
    }
    if (ctx.status === 401 && !ctx.response.get('WWW-Authenticate')) {
      ctx.set('WWW-Authenticate', `Basic realm="${issuer}", error="invalid_client"`);
    }
  };
}

/**
 * No CORS at /token: it serves integrations, never browsers. oidc-provider would otherwise answer any
 * request with an Origin header with CORS headers and, for a live client id, check the origin against
 * the client before its secret: a 400 naming the client, uncounted, where an unknown id gets the 401,
 * which tells live client ids from unknown ones. The header is dropped before oidc-provider sees it,
 * so such a request is authenticated (and counted) like any other; preflights get the 405 of any
 * method but POST.
 */
async function withoutCors(ctx: Context, next: Next): Promise<void> {
  delete ctx.req.headers.origin;
  await next();
  for (const header of Object.keys(ctx.response.headers)) {
    if (header.toLowerCase().startsWith('access-control-')) ctx.remove(header);
  }
}

/**
 * The HTTP server's request listener: /token goes straight to the current oidc-provider, everything
 * else to svcauth's Koa application (discovery, /jwks, revocation, introspection, management, health).
 */
export function createRequestListener(
  app: Koa,
  provider: ProviderHolder,
): (req: IncomingMessage, res: ServerResponse) => void {
  const handleOther = app.callback();
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path === '/token') void provider.current().handle(req, res);
    else void handleOther(req, res);
  };
}
