import type { Kysely } from 'kysely';
import type { Page } from '../domain/pagination.ts';
import { AuditRepository, type AuditFilter } from '../persistence/repositories/audit-repository.ts';
import type { Database } from '../persistence/schema.ts';
import type { AdminActor } from './admin-actor.ts';
import { type AuditEventView, auditEventView } from './admin-views.ts';

/** Reads the organization's audit trail, newest first. */
export class AuditQueryService {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(
    actor: AdminActor,
    filter: AuditFilter,
    page: { before?: string | undefined; limit: number },
  ): Promise<Page<AuditEventView>> {
    const result = await new AuditRepository(this.#db).listPage(actor.orgId, filter, page);
    return { items: result.items.map(auditEventView), next: result.next };
  }
}
