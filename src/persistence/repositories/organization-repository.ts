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

/** What the platform operator may set besides the admins' settings: the entitlement and the limits. */
export interface OrganizationPlatformUpdate extends OrganizationSettingsUpdate {
  api_entitled?: boolean;
  limit_allowed_credential_types?: CredentialType[] | null;
  limit_access_token_ttl_seconds?: number | null;
  limit_max_credentials_per_account?: number | null;
  limit_max_credential_lifetime_seconds?: number | null;
}

/** The columns a new organization takes from organization_defaults. */
const DEFAULTED_COLUMNS = [
  'api_entitled',
  'api_enabled',
  'allowed_credential_types',
  'access_token_ttl_seconds',
  'max_credentials_per_account',
  'max_credential_lifetime_seconds',
  'limit_allowed_credential_types',
  'limit_access_token_ttl_seconds',
  'limit_max_credentials_per_account',
  'limit_max_credential_lifetime_seconds',
] as const;

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
   * Creates the organization unless one exists, found by the slug (`svcauth bootstrap`). Returns the
   * row either way.
   */
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

  /**
   * The organization of the product's tenant id (the platform API), made unless it exists. Its slug is
   * the first of `slugs` no other organization holds: a slug is derived, and an organization made by
   * `svcauth bootstrap` may hold any slug. Null when every candidate is taken.
   */
  async createForExternalId(
    externalId: string,
    name: string,
    slugs: readonly string[],
  ): Promise<{ organization: Organization; created: boolean } | null> {
    const defaults = await this.#defaults();
    for (const slug of slugs) {
      // No conflict target: a taken slug and a taken external id are both "nothing inserted", never an
      // error that would abort the caller's transaction.
      const inserted = await this.#db
        .insertInto('organizations')
        .values({ slug, name, external_id: externalId, ...defaults })
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted) return { organization: inserted, created: true };
      const existing = await this.findByExternalId(externalId);
      if (existing) return { organization: existing, created: false };
    }
    return null;
  }

  /** What a new organization starts with: the deployment's defaults (organization_defaults). */
  async #defaults() {
    return this.#db
      .selectFrom('organization_defaults')
      .select(DEFAULTED_COLUMNS)
      .where('singleton', '=', true)
      .executeTakeFirstOrThrow();
  }

  updateSettings(id: string, update: OrganizationPlatformUpdate): Promise<Organization | undefined> {
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
