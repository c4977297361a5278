/**
 * Both drivers (pg and PGlite) raise errors carrying the Postgres SQLSTATE in `code` and the violated
 * constraint's name in `constraint`.
 */
interface PostgresError {
  code?: unknown;
  constraint?: unknown;
}

/** A unique index refused the write; `constraint` narrows it to one index. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, constraint: violated } = error as PostgresError;
  return code === '23505' && (constraint === undefined || violated === constraint);
}
