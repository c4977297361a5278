import type { Context } from 'koa';
import { readBoundedBody } from './bounded-body.ts';

export type FormBody =
  { ok: true; params: URLSearchParams } | { ok: false; status: 400 | 413 | 415; description: string };

/**
 * Reads an `application/x-www-form-urlencoded` body (RFC 6749 endpoints), at most maxBytes whatever
 * the Content-Length says. A parameter sent twice is refused (RFC 6749 section 3.2).
 */
export async function readFormBody(ctx: Context, maxBytes: number): Promise<FormBody> {
  const length = Number(ctx.get('content-length') || 0);
  if (length === 0 && !ctx.get('transfer-encoding')) return { ok: true, params: new URLSearchParams() };
  if (!ctx.is('application/x-www-form-urlencoded')) {
    return {
      ok: false,
      status: 415,
      description: 'send the parameters as application/x-www-form-urlencoded',
    };
  }
  const body = await readBoundedBody(ctx.req, maxBytes);
  if (!body.ok) {
    ctx.set('Connection', 'close');
    return { ok: false, status: 413, description: `the request body is larger than ${maxBytes} bytes` };
  }
  const params = new URLSearchParams(body.bytes.toString('utf8'));
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) {
      return { ok: false, status: 400, description: `the ${name} parameter was sent more than once` };
    }
    seen.add(name);
  }
  return { ok: true, params };
}
