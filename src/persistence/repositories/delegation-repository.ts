import type { Kysely } from 'kysely';
import type { Page, PageRequest } from '../../domain/pagination.ts';
import { fetchPage } from '../pagination.ts';
import type { Database, Delegation } from '../schema.ts';

/** The credentials (by lineage) the platform operator allows to delegate, and the most each may hand on. */
export class DelegationRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(input: {
    orgId: string;
    credentialId: string;
    lineageId: string;
    maxPermissions: string[];
    operator: string;
  }): Promise<Delegation> {
    return this.#db
      .insertInto('delegations')
      .values({
        org_id: input.orgId,
        credential_id: input.credentialId,
        lineage_id: input.lineageId,
        max_permissions: input.maxPermissions,
        created_by_operator: input.operator,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  findById(id: string): Promise<Delegation | undefined> {
    return this.#db.selectFrom('delegations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The delegation that covers a credential: the one of its lineage. */
  findByLineage(lineageId: string): Promise<Delegation | undefined> {
    return this.#db
      .selectFrom('delegations')
      .selectAll()
      .where('lineage_id', '=', lineageId)
      .executeTakeFirst();
  }

  listPage(page: PageRequest): Promise<Page<Delegation>> {
    return fetchPage(this.#db.selectFrom('delegations').selectAll(), 'delegations', page);
  }

  setMaxPermissions(id: string, maxPermissions: string[]): Promise<Delegation | undefined> {
    return this.#db
      .updateTable('delegations')
      .set({ max_permissions: maxPermissions, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('delegations').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
