import type { Kysely } from 'kysely';
import type { Database, Role } from '../schema.ts';

export interface NewRole {
  name: string;
  description?: string;
  permissions: string[];
  assignable_to_service_accounts?: boolean;
  is_system?: boolean;
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
}
