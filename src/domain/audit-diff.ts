/**
 * The before/after of a change, limited to the fields that changed. Audit events carry it; callers
 * pass only presentable fields (never a secret or a hash).
 */
export interface AuditDiff {
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  /** Context of the change, e.g. the ids of credentials revoked alongside it. */
  [context: string]: unknown;
}

export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): AuditDiff {
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (JSON.stringify(normalize(before[key])) === JSON.stringify(normalize(after[key]))) continue;
    b[key] = before[key] ?? null;
    a[key] = after[key] ?? null;
  }
  return { before: b, after: a };
}

export function hasChanges(diff: AuditDiff): boolean {
  return Object.keys(diff.after ?? {}).length > 0 || Object.keys(diff.before ?? {}).length > 0;
}

/** Dates compare by instant; undefined and null are the same absence. */
function normalize(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  return value ?? null;
}
