import type { Kysely } from 'kysely';
import type { CredentialType } from '../../domain/status.ts';
import type { Database, Organization } from '../schema.ts';

export interface OrganizationSettingsUpdate {
  api_enabled?: boolean;
  allowed_credential_types?: CredentialType[];
  access_token_ttl_seconds?: number;
  max_credentials_per_account?: number;
  max_credential_lifetime_seconds?: number | null;
}

export class OrganizationRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  findById(id: string): Promise<Organization | undefined> {
    return this.#db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Locks the organization row: changes that could remove its last usable admin take this lock first,
   * so two of them (each fine alone) cannot both commit and leave the organization without one.
   */
  lockById(id: string): Promise<Organization | undefined> {
    return this.#db
      .selectFrom('organizations')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
  }

  findBySlug(slug: string): Promise<Organization | undefined> {
    return this.#db.selectFrom('organizations').selectAll().where('slug', '=', slug).executeTakeFirst();
  }

  /** Creates the organization unless the slug exists; returns the row either way. */
  async createIfAbsent(
    slug: string,
    name: string,
  ): Promise<{ organization: Organization; created: boolean }> {
    const inserted = await this.#db
      .insertInto('organizations')
      .values({ slug, name })
      .onConflict((oc) => oc.column('slug').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) return { organization: inserted, created: true };
    return { organization: (await this.findBySlug(slug))!, created: false };
  }

  updateSettings(id: string, update: OrganizationSettingsUpdate): Promise<Organization | undefined> {
    return this.#db
      .updateTable('organizations')
      .set({ ...update, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }
}
