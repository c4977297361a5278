/**
 * Reading an admin request: its JSON body (bounded), its query string and its pagination cursor. Each
 * refusal is an HttpProblem naming what is wrong.
 */
import type { Context } from 'koa';
import type { z } from 'zod';
import type { Page, PageRequest } from '../../domain/pagination.ts';
import { readBoundedBody } from '../bounded-body.ts';
import { HttpProblem } from '../problem.ts';
import { fieldErrors, validationProblem } from './errors.ts';

/** Large enough for a legacy-key import of a thousand rows; far beyond any other admin body. */
export const ADMIN_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_PAGE_SIZE = 50;

export async function readJsonBody(ctx: Context, maxBytes = ADMIN_MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > maxBytes) throw tooLarge(declared, maxBytes);
  const body = await readBoundedBody(ctx.req, maxBytes);
  if (!body.ok) throw tooLarge(body.received, maxBytes);
  const text = body.bytes.toString('utf8');
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

/**
 * The lists the API pages through. A cursor names its list, so a cursor of one list handed to another
 * is refused as a cursor this list never returned, rather than being looked up in the wrong table.
 */
export type CursorKind =
  | 'locations'
  | 'roles'
  | 'service_accounts'
  | 'credentials'
  | 'audit_events'
  | 'organizations'
  | 'delegations';

const UUID_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SEQUENCE_KEY = /^\d{1,19}$/;
const KEY_SHAPE: Record<CursorKind, RegExp> = {
  locations: UUID_KEY,
  roles: UUID_KEY,
  service_accounts: UUID_KEY,
  credentials: UUID_KEY,
  audit_events: SEQUENCE_KEY,
  organizations: UUID_KEY,
  delegations: UUID_KEY,
};

// Cursors are opaque to clients: base64url of "<list kind>:<key of the last row seen>".
export function encodeCursor(kind: CursorKind, key: string | null): string | null {
  return key === null ? null : Buffer.from(`${kind}:${key}`, 'utf8').toString('base64url');
}

export function decodeCursor(kind: CursorKind, cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const separator = decoded.indexOf(':');
  const key = decoded.slice(separator + 1);
  if (separator === -1 || decoded.slice(0, separator) !== kind || !KEY_SHAPE[kind].test(key)) {
    throw validationProblem(
      [
        {
          field: 'cursor',
          message: 'is not a cursor this list returned; pass the next_cursor of this list unchanged',
        },
      ],
      'query string',
    );
  }
  return key;
}

export function pageRequest(
  kind: CursorKind,
  query: { limit?: number | undefined; cursor?: string | undefined },
): PageRequest {
  return { after: decodeCursor(kind, query.cursor), limit: query.limit ?? DEFAULT_PAGE_SIZE };
}

export function pageResponse<T>(kind: CursorKind, page: Page<T>): { items: T[]; next_cursor: string | null } {
  return { items: page.items, next_cursor: encodeCursor(kind, page.next) };
}

function tooLarge(size: number, max: number): HttpProblem {
  return new HttpProblem(
    413,
    'body_too_large',
    `the request body is ${size} bytes; at most ${max} are accepted`,
  );
}
