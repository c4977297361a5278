import type { Kysely } from 'kysely';
import type { CredentialType } from '../../domain/status.ts';
import type { Page, PageRequest } from '../../domain/pagination.ts';
import { fetchPage } from '../pagination.ts';
import type { Database, Organization, OrganizationStatus } from '../schema.ts';

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

  findByExternalId(externalId: string): Promise<Organization | undefined> {
    return this.#db
      .selectFrom('organizations')
      .selectAll()
      .where('external_id', '=', externalId)
      .executeTakeFirst();
  }

  /**
   * Creates the organization unless one exists: with `externalId`, the product's tenant id decides
   * (the platform API); without, the slug (`svcauth bootstrap`). Returns the row either way.
   */
  async createIfAbsent(
    slug: string,
    name: string,
    externalId?: string,
  ): Promise<{ organization: Organization; created: boolean }> {
    if (externalId !== undefined) {
      const inserted = await this.#db
        .insertInto('organizations')
        .values({ slug, name, external_id: externalId })
        .onConflict((oc) => oc.column('external_id').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted) return { organization: inserted, created: true };
      return { organization: (await this.findByExternalId(externalId))!, created: false };
    }
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

  /** Organizations in creation order, optionally only those of one status or one external id. */
  listPage(
    filter: { status?: OrganizationStatus | undefined; externalId?: string | undefined },
    page: PageRequest,
  ): Promise<Page<Organization>> {
    let query = this.#db.selectFrom('organizations').selectAll();
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.externalId !== undefined) query = query.where('external_id', '=', filter.externalId);
    return fetchPage(query, 'organizations', page);
  }

  rename(id: string, name: string): Promise<Organization | undefined> {
    return this.#db
      .updateTable('organizations')
      .set({ name, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  setStatus(id: string, status: OrganizationStatus, at: Date): Promise<Organization | undefined> {
    return this.#db
      .updateTable('organizations')
      .set({ status, status_changed_at: at, updated_at: at })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }
}
