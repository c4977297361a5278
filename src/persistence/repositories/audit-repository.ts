import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

export interface AuditRecord {
  orgId: string | null;
  action: string;
  outcome?: 'success' | 'failure';
  actorAccountId?: string | null;
  actorCredentialId?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  /** Before/after of the changed fields; callers never put a secret here. */
  diff?: Record<string, unknown> | null;
  sourceIp?: string | null;
  requestId?: string | null;
}

export class AuditRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async record(event: AuditRecord): Promise<void> {
    await this.#db
      .insertInto('audit_events')
      .values({
        org_id: event.orgId,
        action: event.action,
        outcome: event.outcome ?? 'success',
        actor_account_id: event.actorAccountId ?? null,
        actor_credential_id: event.actorCredentialId ?? null,
        target_type: event.targetType ?? null,
        target_id: event.targetId ?? null,
        diff: event.diff ? JSON.stringify(event.diff) : null,
        source_ip: event.sourceIp ?? null,
        request_id: event.requestId ?? null,
      })
      .execute();
  }
}
