/**
 * Reading an admin request: its JSON body (bounded), its query string and its pagination cursor. Each
 * refusal is an HttpProblem naming what is wrong.
 */
import type { Context } from 'koa';
import type { z } from 'zod';
import type { Page, PageRequest } from '../../persistence/pagination.ts';
import { HttpProblem } from '../problem.ts';
import { fieldErrors, validationProblem } from './errors.ts';

/** Large enough for a legacy-key import of a thousand rows; far beyond any other admin body. */
export const ADMIN_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_PAGE_SIZE = 50;

export async function readJsonBody(ctx: Context, maxBytes = ADMIN_MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > maxBytes) throw tooLarge(declared, maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(size, maxBytes);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  // Actions without input (revoke, archive) may be sent with no body at all.
  if (text.trim() === '') return {};
  if (!ctx.is('application/json', '+json')) {
    throw new HttpProblem(415, 'unsupported_media_type', 'send the request body as application/json');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpProblem(400, 'malformed_json', 'the request body is not valid JSON');
  }
}

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationProblem(fieldErrors(parsed.error.issues), where);
  return parsed.data;
}

// Cursors are opaque to clients: base64url of the key of the last row seen.
const CURSOR_KEY = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{1,19})$/;

export function encodeCursor(key: string | null): string | null {
  return key === null ? null : Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!CURSOR_KEY.test(key)) {
    throw validationProblem(
      [{ field: 'cursor', message: 'is not a cursor this API returned; pass next_cursor unchanged' }],
      'query string',
    );
  }
  return key;
}

export function pageRequest(query: { limit?: number | undefined; cursor?: string | undefined }): PageRequest {
  return { after: decodeCursor(query.cursor), limit: query.limit ?? DEFAULT_PAGE_SIZE };
}

export function pageResponse<T>(page: Page<T>): { items: T[]; next_cursor: string | null } {
  return { items: page.items, next_cursor: encodeCursor(page.next) };
}

function tooLarge(size: number, max: number): HttpProblem {
  return new HttpProblem(
    413,
    'body_too_large',
    `the request body is ${size} bytes; at most ${max} are accepted`,
  );
}
