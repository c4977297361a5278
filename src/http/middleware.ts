import { randomUUID } from 'node:crypto';
import type { Context, Next, ParameterizedContext } from 'koa';
import { createRequestLineLogger, type Logger } from '../logging/logger.ts';
import { RETRY_AFTER_SECONDS } from '../oauth/unavailable.ts';
import { SubjectLookupRacedError } from '../cache/cached-subject-resolver.ts';
import { readBoundedBody } from './bounded-body.ts';
import { HttpProblem, PROBLEM_TITLES } from './problem.ts';

/**
 * What every request carries in ctx.state: its id and a logger bound to it. The child logger is made on
 * first use (most requests, every issued token among them, log only their request line), through a
 * getter on the class rather than one defined on each request's object.
 */
export class RequestState {
  readonly requestId: string;
  readonly #logger: Logger;
  #log: Logger | undefined;

  constructor(logger: Logger, requestId: string) {
    this.#logger = logger;
    this.requestId = requestId;
  }

  get log(): Logger {
    this.#log ??= this.#logger.child({ request_id: this.requestId });
    return this.#log;
  }
}

/** A request's context once requestContext() has run: ctx.state is its RequestState. */
export type RequestContext = ParameterizedContext<RequestState>;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (the caller's X-Request-Id when it is sane) and a logger carrying it, and
 * logs one line per request: method, path, status, duration. Never headers, query or body.
 */
export function requestContext(logger: Logger) {
  const requestLines = createRequestLineLogger(logger);
  return async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state = new RequestState(logger, requestId);
    ctx.set('X-Request-Id', requestId);
    // Every answer is JSON, text or an event stream; a browser must never guess it is something else.
    ctx.set('X-Content-Type-Options', 'nosniff');
    const started = performance.now();
    try {
      await next();
    } finally {
      const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
      requestLines.info(
        {
          request_id: requestId,
          method: ctx.method,
          path: ctx.path,
          status,
          duration_ms: Math.round((performance.now() - started) * 10) / 10,
        },
        'request',
      );
    }
  };
}

const MAX_ECHOED_PATH = 200;

/**
 * Renders HttpProblem (and anything unexpected) for the management and operational routes.
 * `isDatabaseUnavailable` tells a database that did not answer (a 503 to retry) from a defect (500);
 * it is the persistence layer's, handed in so that HTTP never imports storage.
 */
export function problemErrors(isDatabaseUnavailable: (error: unknown) => boolean) {
  return async (ctx: RequestContext, next: Next) => {
    try {
      await next();
    } catch (error) {
      const problem = error instanceof HttpProblem ? error : unexpectedProblem(error, isDatabaseUnavailable);
      if (!(error instanceof HttpProblem)) {
        ctx.state.log.error(
          { err: error },
          problem.status === 503 ? 'a dependency is unavailable; answering 503' : 'unhandled error',
        );
      }
      ctx.status = problem.status;
      for (const [name, value] of Object.entries(problem.headers)) ctx.set(name, value);
      ctx.type = 'application/problem+json';
      ctx.body = {
        type: `https://svcauth.dev/problems/${problem.code}`,
        title: PROBLEM_TITLES[problem.status] ?? 'Error',
        status: problem.status,
        detail: problem.detail,
        // A path is only echoed as far as any route of this server reaches.
        instance: ctx.path.slice(0, MAX_ECHOED_PATH),
        request_id: ctx.state.requestId,
        ...problem.extensions,
      };
    }
  };
}

/**
 * An error no route translated: the database not answering is a 503 the client may retry (as /token and
 * /introspect answer it), anything else a 500.
 */
function unexpectedProblem(error: unknown, isDatabaseUnavailable: (error: unknown) => boolean): HttpProblem {
  if (isDatabaseUnavailable(error)) {
    return new HttpProblem(
      503,
      'database_unavailable',
      `svcauth cannot reach its database right now; retry in ${RETRY_AFTER_SECONDS} seconds`,
      { headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } },
    );
  }
  if (error instanceof SubjectLookupRacedError) {
    return new HttpProblem(
      503,
      'temporarily_unavailable',
      `the credential kept changing while it was checked; retry in ${RETRY_AFTER_SECONDS} seconds`,
      { headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } },
    );
  }
  return new HttpProblem(
    500,
    'internal_error',
    'the server failed to handle the request; it has been logged',
  );
}

/**
 * Answers an OAuth endpoint's refusal as RFC 6749 section 5.2 describes. A 401 carries the same
 * WWW-Authenticate challenge oidc-provider sends, so no refusal can be told apart by its headers.
 */
export function oauthError(
  ctx: Context,
  status: number,
  error: string,
  description: string,
  realm?: string,
): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (status === 401) {
    ctx.set(
      'WWW-Authenticate',
      `Basic realm="${realm ?? ctx.origin}", error="${error}", error_description="${description}"`,
    );
  }
  ctx.type = 'json';
  ctx.body = { error, error_description: description };
}

/**
 * Refuses bodies larger than the OAuth endpoints ever need before anything reads them: an oversized
 * request costs no parsing, no database and no bcrypt.
 */
export function bodySizeLimit(maxBytes: number) {
  return async (ctx: Context, next: Next) => {
    const length = Number(ctx.get('content-length') || 0);
    if (length > maxBytes) {
      ctx.set('Connection', 'close');
      return oauthError(
        ctx,
        413,
        'invalid_request',
        `the request body is ${length} bytes; at most ${maxBytes} are accepted`,
      );
    }
    await next();
  };
}

/**
 * The token endpoint's body, read here rather than by oidc-provider so that MAX_BODY_BYTES holds for
 * the bytes actually sent: a chunked body (no Content-Length) used to be parsed up to oidc-provider's
 * own 56 KB limit. The bytes read are handed on as `req.body`, which oidc-provider's body parser takes
 * in place of the stream it would otherwise read.
 */
export function bufferedTokenBody(maxBytes: number) {
  return async (ctx: Context, next: Next) => {
    const declared = Number(ctx.get('content-length') || 0);
    const tooLarge = (size: string) => {
      ctx.set('Connection', 'close');
      oauthError(
        ctx,
        413,
        'invalid_request',
        `the request body is ${size}; at most ${maxBytes} bytes are accepted`,
      );
    };
    if (declared > maxBytes) return tooLarge(`${declared} bytes`);
    if (ctx.is('application/x-www-form-urlencoded')) {
      const body = await readBoundedBody(ctx.req, maxBytes);
      if (!body.ok) return tooLarge(`larger than ${maxBytes} bytes`);
      (ctx.req as { body?: Buffer }).body = body.bytes;
    }
    await next();
  };
}
