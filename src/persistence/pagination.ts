import { type SelectQueryBuilder, sql } from 'kysely';
import type { Database } from './schema.ts';

/**
 * Keyset pagination: a page continues after the last row of the previous one, so rows inserted or
 * removed meanwhile never shift a page. The key is a row id; the HTTP layer wraps it in an opaque cursor.
 */
export interface PageRequest {
  /** Id of the last row of the previous page. */
  after?: string | undefined;
  limit: number;
}

export interface Page<T> {
  items: T[];
  /** Id to continue after, or null on the last page. */
  next: string | null;
}

/** Repositories fetch limit + 1 rows; the extra row only tells that another page exists. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => string): Page<T> {
  const items = rows.slice(0, limit);
  return { items, next: rows.length > limit && items.length > 0 ? keyOf(items[items.length - 1]!) : null };
}

/** The tables listed page by page, all ordered by (created_at, id). */
export type PagedTable = 'credentials' | 'locations' | 'roles' | 'service_accounts';

/**
 * Runs `query` (already filtered) as one page in creation order: rows after the `after` row's
 * (created_at, id), limit + 1 of them.
 */
export async function fetchPage<T extends PagedTable, Row extends { id: string }>(
  query: SelectQueryBuilder<Database, T, Row>,
  table: T,
  page: PageRequest,
): Promise<Page<Row>> {
  const keyed = page.after
    ? query.where(
        sql<boolean>`(created_at, id) > (select c.created_at, c.id from ${sql.table(table)} c where c.id = ${page.after})`,
      )
    : query;
  const rows = await keyed
    .orderBy(sql`created_at`)
    .orderBy(sql`id`)
    .limit(page.limit + 1)
    .execute();
  return toPage(rows, page.limit, (row) => row.id);
}
