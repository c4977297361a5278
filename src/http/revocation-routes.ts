import Router from '@koa/router';
import type { Config } from '../config/index.ts';
import { isSecretShaped, lockoutDescription } from '../domain/lockout.ts';
import type { LegacyKeyResolver } from '../oauth/api-key-auth.ts';
import { type ClientAuthenticator, readClientCredentials } from '../oauth/client-authentication.ts';
import type { IntrospectionService } from '../oauth/introspection.ts';
import { attemptCredential, ipSource } from '../oauth/lockout-guard.ts';
import type { ResourceServerAuthenticator } from '../oauth/resource-server-auth.ts';
import type { SecretVerifier } from '../oauth/secret-verification.ts';
import type { TokenRevocationService } from '../oauth/token-revocation.ts';
import { FeedUnavailableError, type RevocationFeedHub } from '../revocation/feed-hub.ts';
import type { LockoutService } from '../services/lockout-service.ts';
import { readFormBody } from './form-body.ts';
import { bodySizeLimit, oauthError, type RequestContext, type RequestState } from './middleware.ts';
import { HttpProblem } from './problem.ts';

export interface RevocationRoutesDependencies {
  config: Pick<Config, 'issuer' | 'maxBodyBytes'>;
  resourceServers: ResourceServerAuthenticator;
  introspection: IntrospectionService;
  clients: ClientAuthenticator;
  revocation: TokenRevocationService;
  lockout: LockoutService;
  /** For the decoy comparison of failures that would otherwise cost none. */
  secrets: SecretVerifier;
  feed: RevocationFeedHub;
  /** Finds imported legacy keys presented as `api:<key>`. */
  legacyKeys: LegacyKeyResolver;
}

const RESOURCE_SERVER_REALM = 'svcauth-resource-servers';
const RETRY_AFTER_SECONDS = 5;

/**
 * POST /revoke (RFC 7009, clients), POST /introspect (RFC 7662) and GET /revocations (the feed,
 * docs/revocation-feed.md) for resource servers. The OAuth endpoints answer RFC 6749 error objects;
 * the feed answers problem+json like the other non-OAuth routes.
 */
export function revocationRoutes(deps: RevocationRoutesDependencies): Router {
  const { config } = deps;
  const router = new Router<RequestState>();

  router.all('/revoke', bodySizeLimit(config.maxBodyBytes), async (ctx) => {
    if (!allowPost(ctx, 'revocation')) return;
    await unavailableOnFailure(ctx, async () => {
      const body = await readFormBody(ctx, config.maxBodyBytes);
      if (!body.ok) return oauthError(ctx, body.status, 'invalid_request', body.description);
      const read = await readClientCredentials(ctx.get('authorization'), body.params, deps.legacyKeys);
      const clientId = read.ok ? read.credentials.clientId : read.clientId;
      const source = ipSource(ctx);
      const locked = deps.lockout.check(clientId, source);
      if (locked) return lockedOut(ctx, locked.retryAfterSeconds);
      if (!read.ok) {
        return read.error === 'invalid_request'
          ? oauthError(ctx, 400, 'invalid_request', read.description)
          : oauthError(ctx, 401, 'invalid_client', read.description, config.issuer);
      }
      // Counted before the secret is evaluated: at most the limit are evaluated, however many arrive.
      const { requestId } = ctx.state;
      const reserved = await deps.lockout.reserve({
        clientId: read.credentials.clientId,
        source,
        endpoint: 'revoke',
        requestId,
      });
      if (!reserved.ok) return lockedOut(ctx, reserved.retryAfterSeconds);
      const { credentials } = read;
      // A pasted secret names no client: never looked up (see isSecretShaped).
      const { authenticated, subject, description } = isSecretShaped(credentials.clientId)
        ? { authenticated: null, subject: null, description: undefined }
        : await deps.clients.authenticate(credentials);
      if (!authenticated) {
        // A failure that cost no bcrypt (unknown client id, wrong secret answered from memory) costs a
        // decoy one, so the time taken does not tell live client ids from unknown ones.
        const hash = subject?.credential.secret_hash;
        if (
          credentials.method !== 'private_key_jwt' &&
          (!subject || !hash || deps.secrets.remembers(subject.credential.id, hash))
        ) {
          await deps.secrets.compareNothing();
        }
        void reserved.attempt.failed(attemptCredential(subject));
        await recordFailedAuthentication(ctx, deps, subject);
        return oauthError(
          ctx,
          401,
          'invalid_client',
          description ?? 'client authentication failed',
          config.issuer,
        );
      }
      reserved.attempt.succeeded();
      const token = body.params.get('token');
      if (!token) return oauthError(ctx, 400, 'invalid_request', 'the token parameter is required');
      // token_type_hint is optional and only a hint: access tokens are the only revocable kind here.
      await deps.revocation.revoke(authenticated, token, { sourceIp: ctx.ip || null, requestId });
      // RFC 7009 2.2: 200 whether or not anything was revoked; the body is empty.
      ctx.status = 200;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = '';
    });
  });

  router.all('/introspect', bodySizeLimit(config.maxBodyBytes), async (ctx) => {
    if (!allowPost(ctx, 'introspection')) return;
    await unavailableOnFailure(ctx, async () => {
      const resourceServer = await deps.resourceServers.authenticate(ctx.get('authorization'));
      if (!resourceServer) {
        return oauthError(
          ctx,
          401,
          'invalid_client',
          'resource server authentication failed; use HTTP Basic with a name and secret listed in RESOURCE_SERVERS or made through the platform API',
          RESOURCE_SERVER_REALM,
        );
      }
      const body = await readFormBody(ctx, config.maxBodyBytes);
      if (!body.ok) return oauthError(ctx, body.status, 'invalid_request', body.description);
      const token = body.params.get('token');
      if (!token) return oauthError(ctx, 400, 'invalid_request', 'the token parameter is required');
      const answer = await deps.introspection.introspect(token, {
        resourceServer,
        requestId: ctx.state.requestId,
      });
      ctx.set('Cache-Control', 'no-store');
      ctx.body = answer;
    });
  });

  router.get('/revocations', async (ctx) => {
    const authorization = ctx.get('authorization');
    if (!(await deps.resourceServers.authenticate(authorization))) {
      throw new HttpProblem(
        401,
        'unauthorized',
        'the revocation feed is for resource servers: use HTTP Basic with a name and secret listed in RESOURCE_SERVERS or made through the platform API',
        { headers: { 'WWW-Authenticate': `Basic realm="${RESOURCE_SERVER_REALM}"` } },
      );
    }
    try {
      if (ctx.accepts('application/json', 'text/event-stream') === 'text/event-stream') {
        const cursor =
          ctx.get('last-event-id') || (typeof ctx.query.cursor === 'string' ? ctx.query.cursor : '');
        await deps.feed.open(ctx.res, cursor || null, {
          stillAuthorized: async () => (await deps.resourceServers.authenticate(authorization)) !== null,
        });
        // The stream is written by the hub from here on.
        ctx.respond = false;
        return;
      }
      const snapshot = await deps.feed.snapshot();
      ctx.set('Cache-Control', 'no-store');
      ctx.body = snapshot;
    } catch (error) {
      if (!(error instanceof FeedUnavailableError)) throw error;
      ctx.state.log.warn({ err: error }, 'revocation feed unavailable');
      throw new HttpProblem(
        503,
        'feed_unavailable',
        `${error.message}; retry in ${RETRY_AFTER_SECONDS} seconds`,
        {
          headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
        },
      );
    }
  });

  return router;
}

function allowPost(ctx: RequestContext, endpoint: string): boolean {
  if (ctx.method === 'POST') return true;
  ctx.set('Allow', 'POST');
  oauthError(ctx, 405, 'invalid_request', `the ${endpoint} endpoint accepts only POST`);
  return false;
}

/**
 * A dependency that fails (database, state store) is a 503 with Retry-After in the endpoint's own
 * error format, never a wrong answer.
 */
async function unavailableOnFailure(ctx: RequestContext, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    ctx.state.log.error({ err: error }, 'request failed; answering 503');
    ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
    oauthError(
      ctx,
      503,
      'temporarily_unavailable',
      `svcauth cannot answer right now; retry in ${RETRY_AFTER_SECONDS} seconds`,
    );
  }
}

function lockedOut(ctx: RequestContext, retryAfterSeconds: number): void {
  ctx.set('Retry-After', String(retryAfterSeconds));
  oauthError(ctx, 429, 'invalid_client', lockoutDescription(retryAfterSeconds));
}

/** The failure goes to the credential's organization's audit trail (counting is the lockout's). */
async function recordFailedAuthentication(
  ctx: RequestContext,
  deps: RevocationRoutesDependencies,
  subject: Awaited<ReturnType<ClientAuthenticator['authenticate']>>['subject'],
): Promise<void> {
  const request = {
    sourceIp: ctx.ip || null,
    requestId: ctx.state.requestId,
  };
  const recorded = await deps.revocation
    .recordFailedAuthentication(subject, request)
    .catch((error: unknown) => {
      ctx.state.log.error({ err: error }, 'could not audit a failed authentication');
      return true;
    });
  if (!recorded) {
    ctx.state.log.info({ ip: ctx.ip }, 'revocation request with an unknown or unusable client');
  }
}
