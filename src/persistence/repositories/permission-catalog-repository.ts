import { type Kysely, sql } from 'kysely';
import { FULL_ACCESS_ROLE_NAME } from '../../../config/permissions.ts';
import type { CatalogPermission, Database } from '../schema.ts';

/** A live role holding a permission, wherever its organization. */
export interface RoleHoldingPermission {
  org_id: string;
  id: string;
  name: string;
}

/**
 * The product permission catalog (permission_catalog, migration 0010) and what it does to roles. Each
 * organization's built-in "Full product access" role (is_system) holds exactly the catalog: it follows
 * every addition and removal, and is never counted as a role holding a permission.
 */
export class PermissionCatalogRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  list(): Promise<CatalogPermission[]> {
    return this.#db.selectFrom('permission_catalog').selectAll().orderBy('name').execute();
  }

  async names(): Promise<string[]> {
    const rows = await this.#db.selectFrom('permission_catalog').select('name').orderBy('name').execute();
    return rows.map((r) => r.name);
  }

  /**
   * Serializes catalog changes (platform API calls, instances reconciling PERMISSIONS_FILE at start)
   * with each other; reads are not blocked. Call inside a transaction.
   */
  async lock(): Promise<void> {
    await sql`lock table permission_catalog in share row exclusive mode`.execute(this.#db);
  }

  find(name: string): Promise<CatalogPermission | undefined> {
    return this.#db.selectFrom('permission_catalog').selectAll().where('name', '=', name).executeTakeFirst();
  }

  insert(name: string, description: string): Promise<CatalogPermission> {
    return this.#db
      .insertInto('permission_catalog')
      .values({ name, description })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  updateDescription(name: string, description: string): Promise<CatalogPermission> {
    return this.#db
      .updateTable('permission_catalog')
      .set({ description, updated_at: new Date() })
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async delete(name: string): Promise<void> {
    await this.#db.deleteFrom('permission_catalog').where('name', '=', name).execute();
  }

  /** Live roles holding the permission, other than the built-in full product access roles. */
  rolesHolding(name: string): Promise<RoleHoldingPermission[]> {
    return this.#db
      .selectFrom('roles')
      .select(['org_id', 'id', 'name'])
      .where('deleted_at', 'is', null)
      .where(sql<boolean>`${name} = any(permissions)`)
      .where((eb) => eb.not(eb.and([eb('is_system', '=', true), eb('name', '=', FULL_ACCESS_ROLE_NAME)])))
      .orderBy('org_id')
      .orderBy('created_at')
      .execute();
  }

  /** Takes the permission from every live role holding it (the full product access roles too). */
  stripFromRoles(name: string): Promise<RoleHoldingPermission[]> {
    return this.#db
      .updateTable('roles')
      .set({ permissions: sql`array_remove(permissions, ${name})`, updated_at: new Date() })
      .where('deleted_at', 'is', null)
      .where(sql<boolean>`${name} = any(permissions)`)
      .returning(['org_id', 'id', 'name'])
      .execute();
  }

  /** Every organization's full product access role gains the permission (kept sorted). */
  async addToFullAccessRoles(name: string): Promise<void> {
    await this.#db
      .updateTable('roles')
      .set({
        permissions: sql`(select array_agg(p order by p) from unnest(array_append(permissions, ${name}::text)) as p)`,
        updated_at: new Date(),
      })
      .where('deleted_at', 'is', null)
      .where('is_system', '=', true)
      .where('name', '=', FULL_ACCESS_ROLE_NAME)
      .where(sql<boolean>`not (${name} = any(permissions))`)
      .execute();
  }
}
