import { type SelectQueryBuilder, sql } from 'kysely';
import { type Page, type PageRequest, toPage } from '../domain/pagination.ts';
import type { Database } from './schema.ts';

/** The tables listed page by page, all ordered by (created_at, id). */
export type PagedTable =
  'credentials' | 'delegations' | 'locations' | 'organizations' | 'roles' | 'service_accounts';

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
