import type { Kysely, SelectQueryBuilder } from 'kysely';
import { type Page, toPage } from '../../domain/pagination.ts';
import type { ActorSnapshot, AuditEvent, Database } from '../schema.ts';

export interface AuditRecord {
  orgId: string | null;
  action: string;
  outcome?: 'success' | 'failure';
  actorAccountId?: string | null;
  actorCredentialId?: string | null;
  /** The operator (OPERATORS entry name) acting through the platform API. */
  actorOperator?: string | null;
  /**
   * Who acted, whatever its kind (a person has no id column of its own). Absent: derived from
   * actorAccountId or actorOperator, without a display name.
   */
  actor?: ActorSnapshot | null;
  targetType?: string | null;
  targetId?: string | null;
  /** Before/after of the changed fields; callers never put a secret here. */
  diff?: Record<string, unknown> | null;
  sourceIp?: string | null;
  requestId?: string | null;
}

export interface AuditFilter {
  targetId?: string | undefined;
  actorAccountId?: string | undefined;
  /** Only events of this actor: a person's id in the product, a service account id, an operator name. */
  actorId?: string | undefined;
  actorKind?: 'person' | 'service_account' | 'operator' | undefined;
  action?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

export interface PlatformAuditFilter {
  operator?: string | undefined;
  orgId?: string | undefined;
  action?: string | undefined;
}

export class AuditRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async record(event: AuditRecord): Promise<void> {
    const actor = event.actor ?? derivedActor(event);
    await this.#db
      .insertInto('audit_events')
      .values({
        org_id: event.orgId,
        action: event.action,
        outcome: event.outcome ?? 'success',
        actor_account_id: event.actorAccountId ?? null,
        actor_credential_id: event.actorCredentialId ?? null,
        actor_operator: event.actorOperator ?? null,
        actor_kind: actor?.kind ?? 'system',
        actor_id: actor?.id ?? null,
        actor_display_name: actor?.display_name ?? null,
        actor_client_id: actor?.client_id ?? null,
        target_type: event.targetType ?? null,
        target_id: event.targetId ?? null,
        diff: event.diff ? JSON.stringify(event.diff) : null,
        source_ip: event.sourceIp ?? null,
        request_id: event.requestId ?? null,
      })
      .execute();
  }

  /** The organization's events, newest first; `before` is the id of the last event already seen. */
  listPage(
    orgId: string,
    filter: AuditFilter,
    page: { before?: string | undefined; limit: number },
  ): Promise<Page<AuditEvent>> {
    let query = this.#db.selectFrom('audit_events').selectAll().where('org_id', '=', orgId);
    if (filter.targetId) query = query.where('target_id', '=', filter.targetId);
    if (filter.actorAccountId) query = query.where('actor_account_id', '=', filter.actorAccountId);
    if (filter.actorId) query = query.where('actor_id', '=', filter.actorId);
    if (filter.actorKind) query = query.where('actor_kind', '=', filter.actorKind);
    if (filter.action) query = query.where('action', '=', filter.action);
    if (filter.since) query = query.where('occurred_at', '>=', filter.since);
    if (filter.until) query = query.where('occurred_at', '<', filter.until);
    return newestFirst(query, page);
  }

  /** What operators did through the platform API, across organizations, newest first. */
  listOperatorPage(
    filter: PlatformAuditFilter,
    page: { before?: string | undefined; limit: number },
  ): Promise<Page<AuditEvent>> {
    let query = this.#db.selectFrom('audit_events').selectAll().where('actor_operator', 'is not', null);
    if (filter.operator) query = query.where('actor_operator', '=', filter.operator);
    if (filter.orgId) query = query.where('org_id', '=', filter.orgId);
    if (filter.action) query = query.where('action', '=', filter.action);
    return newestFirst(query, page);
  }
}

/** The actor of an event recorded without a snapshot: the account or the operator it names. */
function derivedActor(event: AuditRecord): ActorSnapshot | null {
  if (event.actorOperator) {
    return { kind: 'operator', id: event.actorOperator, display_name: event.actorOperator };
  }
  if (event.actorAccountId) return { kind: 'service_account', id: event.actorAccountId, display_name: null };
  return null;
}

/** One page of audit events, newest first: ids grow with every insert, so `before` is the last id seen. */
async function newestFirst(
  query: SelectQueryBuilder<Database, 'audit_events', AuditEvent>,
  page: { before?: string | undefined; limit: number },
): Promise<Page<AuditEvent>> {
  const keyed = page.before ? query.where('id', '<', page.before) : query;
  const rows = await keyed
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
  return toPage(rows, page.limit, (row) => row.id);
}
