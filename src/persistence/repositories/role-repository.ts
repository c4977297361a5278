import type { Kysely } from 'kysely';
import type { Page, PageRequest } from '../../domain/pagination.ts';
import { fetchPage } from '../pagination.ts';
import type { Database, Role } from '../schema.ts';

export interface NewRole {
  name: string;
  description?: string;
  permissions: string[];
  assignable_to_service_accounts?: boolean;
  is_system?: boolean;
}

export interface RoleUpdate {
  name?: string;
  description?: string;
  permissions?: string[];
  assignable_to_service_accounts?: boolean;
}

export class RoleRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(orgId: string, role: NewRole): Promise<Role> {
    return this.#db
      .insertInto('roles')
      .values({ org_id: orgId, ...role })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  findLiveByName(orgId: string, name: string): Promise<Role | undefined> {
    return this.#db
      .selectFrom('roles')
      .selectAll()
      .where('org_id', '=', orgId)
      .where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
  }

  findLive(orgId: string, id: string): Promise<Role | undefined> {
    return this.#db
      .selectFrom('roles')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
  }

  async findLiveByIds(orgId: string, ids: readonly string[]): Promise<Role[]> {
    if (ids.length === 0) return [];
    return this.#db
      .selectFrom('roles')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', 'in', [...ids])
      .where('deleted_at', 'is', null)
      .execute();
  }

  async findLiveByNames(orgId: string, names: readonly string[]): Promise<Role[]> {
    if (names.length === 0) return [];
    return this.#db
      .selectFrom('roles')
      .selectAll()
      .where('org_id', '=', orgId)
      .where((eb) =>
        eb(
          eb.fn('lower', ['name']),
          'in',
          names.map((n) => n.toLowerCase()),
        ),
      )
      .where('deleted_at', 'is', null)
      .execute();
  }

  /** Live roles in creation order. */
  async listLivePage(orgId: string, page: PageRequest): Promise<Page<Role>> {
    const query = this.#db
      .selectFrom('roles')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('deleted_at', 'is', null);
    return fetchPage(query, 'roles', page);
  }

  update(orgId: string, id: string, update: RoleUpdate): Promise<Role | undefined> {
    return this.#db
      .updateTable('roles')
      .set({ ...update, updated_at: new Date() })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }

  softDelete(orgId: string, id: string, at: Date): Promise<Role | undefined> {
    return this.#db
      .updateTable('roles')
      .set({ deleted_at: at, updated_at: at })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }
}
