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
