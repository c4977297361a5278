import type { Kysely } from 'kysely';
import type { Database, OrganizationDefaults } from '../schema.ts';
import type { OrganizationPlatformUpdate } from './organization-repository.ts';

/** The one row of what a new organization starts with (migration 0011). */
export class OrganizationDefaultsRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Locked when `forUpdate`: two concurrent changes are judged one after the other. */
  get(options: { forUpdate?: boolean } = {}): Promise<OrganizationDefaults> {
    const query = this.#db.selectFrom('organization_defaults').selectAll().where('singleton', '=', true);
    return (options.forUpdate ? query.forUpdate() : query).executeTakeFirstOrThrow();
  }

  update(update: OrganizationPlatformUpdate): Promise<OrganizationDefaults> {
    return this.#db
      .updateTable('organization_defaults')
      .set({ ...update, updated_at: new Date() })
      .where('singleton', '=', true)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
