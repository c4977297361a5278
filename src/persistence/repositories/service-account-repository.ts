import { type Kysely, sql } from 'kysely';
import type { AccountGrants } from '../../domain/permissions.ts';
import type { Database, ServiceAccount } from '../schema.ts';

export interface NewServiceAccount {
  name: string;
  description?: string;
  all_locations?: boolean;
  groups_admin?: boolean;
  is_protected?: boolean;
  created_by_account_id?: string | null;
}

export interface AccountAssignments {
  locationIds: string[];
  roles: Array<{ roleId: string; restrictedTo: string[] | null }>;
}

export class ServiceAccountRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(orgId: string, account: NewServiceAccount): Promise<ServiceAccount> {
    return this.#db
      .insertInto('service_accounts')
      .values({ org_id: orgId, ...account })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  findById(orgId: string, id: string): Promise<ServiceAccount | undefined> {
    return this.#db
      .selectFrom('service_accounts')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  findLiveByName(orgId: string, name: string): Promise<ServiceAccount | undefined> {
    return this.#db
      .selectFrom('service_accounts')
      .selectAll()
      .where('org_id', '=', orgId)
      .where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()))
      .where('archived_at', 'is', null)
      .executeTakeFirst();
  }

  findProtected(orgId: string): Promise<ServiceAccount | undefined> {
    return this.#db
      .selectFrom('service_accounts')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('is_protected', '=', true)
      .executeTakeFirst();
  }

  /**
   * Replaces the account's locations, roles and matrix, and bumps its permissions version so tokens
   * issued under the old assignments are recognisably stale. Call inside a transaction.
   */
  async replaceAssignments(
    orgId: string,
    accountId: string,
    assignments: AccountAssignments,
  ): Promise<number> {
    const db = this.#db;
    await db.deleteFrom('service_account_roles').where('service_account_id', '=', accountId).execute();
    await db.deleteFrom('service_account_locations').where('service_account_id', '=', accountId).execute();
    if (assignments.locationIds.length > 0) {
      await db
        .insertInto('service_account_locations')
        .values(
          assignments.locationIds.map((location_id) => ({
            org_id: orgId,
            service_account_id: accountId,
            location_id,
          })),
        )
        .execute();
    }
    if (assignments.roles.length > 0) {
      await db
        .insertInto('service_account_roles')
        .values(
          assignments.roles.map((r) => ({ org_id: orgId, service_account_id: accountId, role_id: r.roleId })),
        )
        .execute();
    }
    const ticks = assignments.roles.flatMap((r) =>
      (r.restrictedTo ?? []).map((location_id) => ({
        org_id: orgId,
        service_account_id: accountId,
        role_id: r.roleId,
        location_id,
      })),
    );
    if (ticks.length > 0) await db.insertInto('service_account_role_locations').values(ticks).execute();
    const { permissions_version } = await db
      .updateTable('service_accounts')
      .set({ permissions_version: sql`permissions_version + 1`, updated_at: new Date() })
      .where('org_id', '=', orgId)
      .where('id', '=', accountId)
      .returning('permissions_version')
      .executeTakeFirstOrThrow();
    return permissions_version;
  }

  /** Everything permission resolution needs about one account, in three queries. */
  async loadGrants(accountId: string, allLocations: boolean): Promise<AccountGrants & { roleCount: number }> {
    const [locations, roles, ticks] = await Promise.all([
      this.#db
        .selectFrom('service_account_locations')
        .select('location_id')
        .where('service_account_id', '=', accountId)
        .execute(),
      this.#db
        .selectFrom('service_account_roles as sar')
        .innerJoin('roles as r', 'r.id', 'sar.role_id')
        .select(['r.id', 'r.permissions', 'r.deleted_at', 'r.assignable_to_service_accounts'])
        .where('sar.service_account_id', '=', accountId)
        .execute(),
      this.#db
        .selectFrom('service_account_role_locations')
        .select(['role_id', 'location_id'])
        .where('service_account_id', '=', accountId)
        .execute(),
    ]);
    const restricted = new Map<string, string[]>();
    for (const tick of ticks) {
      const list = restricted.get(tick.role_id) ?? [];
      list.push(tick.location_id);
      restricted.set(tick.role_id, list);
    }
    const liveRoles = roles.filter((r) => r.deleted_at === null);
    return {
      allLocations,
      locationIds: locations.map((l) => l.location_id),
      roles: roles.map((r) => ({
        roleId: r.id,
        permissions: r.permissions,
        restrictedTo: restricted.get(r.id) ?? null,
        removed: r.deleted_at !== null,
        assignable: r.assignable_to_service_accounts,
      })),
      roleCount: liveRoles.length,
    };
  }
}
