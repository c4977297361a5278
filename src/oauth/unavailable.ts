import type { Context } from 'koa';
import { errors } from 'oidc-provider';

/** Seconds a client is asked to wait when a dependency of the token endpoint is down. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * The answer when the token endpoint cannot reach what it needs (the database for a credential it has
 * not cached): 503 temporarily_unavailable with Retry-After, never a 500 and never a wrong answer.
 */
export function temporarilyUnavailable(ctx: Context | undefined): Error {
  ctx?.set('Retry-After', String(RETRY_AFTER_SECONDS));
  const error = new errors.TemporarilyUnavailable(
    `svcauth cannot reach its database right now; retry in ${RETRY_AFTER_SECONDS} seconds`,
  );
  Object.assign(error, { status: 503, statusCode: 503, expose: true });
  return error;
}
