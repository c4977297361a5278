import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import type { AccountGrants } from '../../domain/permissions.ts';
import type { Page, PageRequest } from '../../domain/pagination.ts';
import { fetchPage } from '../pagination.ts';
import type { Database, ServiceAccount } from '../schema.ts';
import type { AccountStatus } from '../../domain/status.ts';

export interface NewServiceAccount {
  name: string;
  description?: string;
  all_locations?: boolean;
  groups_admin?: boolean;
  is_protected?: boolean;
  created_by_account_id?: string | null;
}

/** What the account list is filtered by (AND-ed); see ServiceAccountRepository.listPage. */
export interface AccountListFilter {
  includeArchived: boolean;
  status?: AccountStatus | undefined;
  roleId?: string | undefined;
  locationId?: string | undefined;
  nameContains?: string | undefined;
}

export interface AccountAssignments {
  locationIds: string[];
  roles: Array<{ roleId: string; restrictedTo: string[] | null }>;
}

export interface ServiceAccountUpdate {
  name?: string;
  description?: string;
  groups_admin?: boolean;
  all_locations?: boolean;
}

/** An account's current locations and live roles, as the management API shows and edits them. */
export interface StoredAssignments {
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
      .set({ permissions_version: sql`permissions_version + 1`, ...permissionsChangedNow() })
      .where('org_id', '=', orgId)
      .where('id', '=', accountId)
      .returning('permissions_version')
      .executeTakeFirstOrThrow();
    return permissions_version;
  }

  /** Everything permission resolution needs about one account, in three queries. */
  async loadGrants(accountId: string, allLocations: boolean): Promise<LoadedGrants> {
    const [locations, roles, ticks] = await Promise.all([
      // A deleted location grants nothing, even while an account still lists it.
      this.#db
        .selectFrom('service_account_locations as sal')
        .innerJoin('locations as l', 'l.id', 'sal.location_id')
        .select(['sal.location_id', 'l.external_id'])
        .where('sal.service_account_id', '=', accountId)
        .where('l.deleted_at', 'is', null)
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
    return accountGrantsFrom(allLocations, { locations, roles, ticks });
  }

  /**
   * Accounts in creation order, filtered: archived ones only when asked for (or when the status asked
   * is `archived`); the derived status as describeAccounts derives it (active: at least one live role
   * that can grant); holding a live role; placed at a location (an account on all locations is at every
   * one); a case-insensitive substring of the name, taken literally.
   */
  async listPage(orgId: string, filter: AccountListFilter, page: PageRequest): Promise<Page<ServiceAccount>> {
    let query = this.#db
      .selectFrom('service_accounts')
      .selectAll('service_accounts')
      .where('service_accounts.org_id', '=', orgId);
    if (filter.status === 'archived') query = query.where('service_accounts.archived_at', 'is not', null);
    else if (filter.status !== undefined || !filter.includeArchived) {
      query = query.where('service_accounts.archived_at', 'is', null);
    }
    if (filter.status === 'active' || filter.status === 'disabled') {
      const granting = (eb: ExpressionBuilder<Database, 'service_accounts'>) =>
        eb.exists(
          eb
            .selectFrom('service_account_roles as sar')
            .innerJoin('roles as r', 'r.id', 'sar.role_id')
            .select(sql.lit(1).as('one'))
            .whereRef('sar.service_account_id', '=', 'service_accounts.id')
            .where('r.deleted_at', 'is', null)
            .where('r.assignable_to_service_accounts', '=', true),
        );
      query = query.where((eb) => (filter.status === 'active' ? granting(eb) : eb.not(granting(eb))));
    }
    if (filter.roleId !== undefined) {
      const roleId = filter.roleId;
      query = query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('service_account_roles as sar')
            .innerJoin('roles as r', 'r.id', 'sar.role_id')
            .select(sql.lit(1).as('one'))
            .whereRef('sar.service_account_id', '=', 'service_accounts.id')
            .where('sar.role_id', '=', roleId)
            .where('r.deleted_at', 'is', null),
        ),
      );
    }
    if (filter.locationId !== undefined) {
      const locationId = filter.locationId;
      query = query.where((eb) =>
        eb.or([
          eb('service_accounts.all_locations', '=', true),
          eb.exists(
            eb
              .selectFrom('service_account_locations as sal')
              .select(sql.lit(1).as('one'))
              .whereRef('sal.service_account_id', '=', 'service_accounts.id')
              .where('sal.location_id', '=', locationId),
          ),
        ]),
      );
    }
    if (filter.nameContains !== undefined && filter.nameContains !== '') {
      // strpos, not LIKE: the search is taken literally, % and _ included.
      query = query.where(
        sql<boolean>`strpos(lower(service_accounts.name), lower(${filter.nameContains})) > 0`,
      );
    }
    return fetchPage(query, 'service_accounts', page);
  }

  /** How many credentials each account has, by state at `now` (accounts without any get zeros). */
  async credentialCounts(
    accountIds: readonly string[],
    now: Date,
  ): Promise<Map<string, { active: number; expired: number; revoked: number }>> {
    const counts = new Map(accountIds.map((id) => [id, { active: 0, expired: 0, revoked: 0 }]));
    if (accountIds.length === 0) return counts;
    const rows = await this.#db
      .selectFrom('credentials')
      .select([
        'service_account_id',
        sql<string>`count(*) filter (where revoked_at is not null)`.as('revoked'),
        sql<string>`count(*) filter (where revoked_at is null and expires_at <= ${now})`.as('expired'),
        sql<string>`count(*) filter (where revoked_at is null and (expires_at is null or expires_at > ${now}))`.as(
          'active',
        ),
      ])
      .where('service_account_id', 'in', [...accountIds])
      .groupBy('service_account_id')
      .execute();
    for (const row of rows) {
      counts.set(row.service_account_id, {
        active: Number(row.active),
        expired: Number(row.expired),
        revoked: Number(row.revoked),
      });
    }
    return counts;
  }

  /**
   * Reads the account and locks its row until the transaction ends, so concurrent changes to the
   * account or its credentials (quota, rotation, archive) are decided one after the other.
   */
  lockById(orgId: string, id: string): Promise<ServiceAccount | undefined> {
    return this.#db
      .selectFrom('service_accounts')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
  }

  update(orgId: string, id: string, update: ServiceAccountUpdate): Promise<ServiceAccount> {
    return this.#db
      .updateTable('service_accounts')
      .set({ ...update, updated_at: new Date() })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  archive(orgId: string, id: string, at: Date): Promise<ServiceAccount> {
    return this.#db
      .updateTable('service_accounts')
      .set({ archived_at: at, updated_at: at })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /**
   * Removes the account for good: its assignments go with it (foreign keys cascade). Its credentials
   * must be deleted first (CredentialRepository.deleteAllOfAccount). Audit events stay: they name it.
   */
  async delete(orgId: string, id: string): Promise<void> {
    await this.#db.deleteFrom('service_accounts').where('org_id', '=', orgId).where('id', '=', id).execute();
  }

  /** Locations and live roles (with their matrix ticks) of several accounts, in three queries. */
  async loadAssignments(accountIds: readonly string[]): Promise<Map<string, StoredAssignments>> {
    const result = new Map<string, StoredAssignments>(
      accountIds.map((id) => [id, { locationIds: [], roles: [] }]),
    );
    if (accountIds.length === 0) return result;
    const ids = [...accountIds];
    const [locations, roles, ticks] = await Promise.all([
      this.#db
        .selectFrom('service_account_locations')
        .select(['service_account_id', 'location_id'])
        .where('service_account_id', 'in', ids)
        .orderBy('location_id')
        .execute(),
      this.#db
        .selectFrom('service_account_roles as sar')
        .innerJoin('roles as r', 'r.id', 'sar.role_id')
        .select(['sar.service_account_id', 'sar.role_id'])
        .where('sar.service_account_id', 'in', ids)
        .where('r.deleted_at', 'is', null)
        .orderBy('sar.role_id')
        .execute(),
      this.#db
        .selectFrom('service_account_role_locations')
        .select(['service_account_id', 'role_id', 'location_id'])
        .where('service_account_id', 'in', ids)
        .orderBy('location_id')
        .execute(),
    ]);
    for (const row of locations) result.get(row.service_account_id)!.locationIds.push(row.location_id);
    const ticksOf = new Map<string, string[]>();
    for (const tick of ticks) {
      const key = `${tick.service_account_id}/${tick.role_id}`;
      ticksOf.set(key, [...(ticksOf.get(key) ?? []), tick.location_id]);
    }
    for (const row of roles) {
      result.get(row.service_account_id)!.roles.push({
        roleId: row.role_id,
        restrictedTo: ticksOf.get(`${row.service_account_id}/${row.role_id}`) ?? null,
      });
    }
    return result;
  }

  /**
   * Live accounts holding a role that names any of `permissions` (the management ones): the only
   * accounts that can administer the organization. The built-in account never holds credentials.
   */
  listLiveHoldingAny(orgId: string, permissions: readonly string[]): Promise<ServiceAccount[]> {
    return this.#db
      .selectFrom('service_accounts')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('archived_at', 'is', null)
      .where('is_protected', '=', false)
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('service_account_roles as sar')
          .innerJoin('roles as r', 'r.id', 'sar.role_id')
          .select('sar.service_account_id')
          .where('r.org_id', '=', orgId)
          .where('r.deleted_at', 'is', null)
          .where(sql<boolean>`r.permissions && ${sql.val([...permissions])}::text[]`),
      )
      .orderBy('id')
      .execute();
  }

  /** The live (not archived) accounts holding a role, locked: a role edit judges them, then bumps them. */
  async lockLiveRoleHolders(orgId: string, roleId: string): Promise<ServiceAccount[]> {
    return this.#db
      .selectFrom('service_accounts')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('archived_at', 'is', null)
      .where('id', 'in', (eb) =>
        eb.selectFrom('service_account_roles').select('service_account_id').where('role_id', '=', roleId),
      )
      .orderBy('id')
      .forUpdate()
      .execute();
  }

  /**
   * Bumps the permissions version of every live account holding the role: a change to the role
   * changes what their tokens may carry, so tokens issued before become stale.
   */
  async bumpPermissionsVersionOfRoleHolders(
    orgId: string,
    roleId: string,
  ): Promise<Array<{ id: string; permissionsVersion: number }>> {
    const rows = await this.#db
      .updateTable('service_accounts')
      .set({ permissions_version: sql`permissions_version + 1`, ...permissionsChangedNow() })
      .where('org_id', '=', orgId)
      .where('archived_at', 'is', null)
      .where('id', 'in', (eb) =>
        eb.selectFrom('service_account_roles').select('service_account_id').where('role_id', '=', roleId),
      )
      .returning(['id', 'permissions_version'])
      .execute();
    return rows.map((r) => ({ id: r.id, permissionsVersion: r.permissions_version }));
  }

  /**
   * Gives the account `roleId` at all of its locations, keeping its other grants; false when it held
   * the role already. The caller bumps the permissions version. Call inside a transaction.
   */
  async addRole(orgId: string, accountId: string, roleId: string): Promise<boolean> {
    const inserted = await this.#db
      .insertInto('service_account_roles')
      .values({ org_id: orgId, service_account_id: accountId, role_id: roleId })
      .onConflict((oc) => oc.columns(['service_account_id', 'role_id']).doNothing())
      .returning('role_id')
      .executeTakeFirst();
    if (!inserted) return false;
    // Held before at some locations only? Now at all of them, as API Admin is meant to be.
    await this.#db
      .deleteFrom('service_account_role_locations')
      .where('service_account_id', '=', accountId)
      .where('role_id', '=', roleId)
      .execute();
    return true;
  }

  /**
   * Takes the role from the account (its matrix ticks for the role go with it). The caller bumps the
   * permissions version. Call inside a transaction.
   */
  async removeRole(orgId: string, accountId: string, roleId: string): Promise<void> {
    await this.#db
      .deleteFrom('service_account_roles')
      .where('org_id', '=', orgId)
      .where('service_account_id', '=', accountId)
      .where('role_id', '=', roleId)
      .execute();
  }

  /** Makes tokens issued before now stale without changing assignments (e.g. groups_admin changed). */
  async bumpPermissionsVersion(orgId: string, id: string): Promise<number> {
    const { permissions_version } = await this.#db
      .updateTable('service_accounts')
      .set({ permissions_version: sql`permissions_version + 1`, ...permissionsChangedNow() })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .returning('permissions_version')
      .executeTakeFirstOrThrow();
    return permissions_version;
  }
}

/** A permissions version bump: tokens issued before now are stale (the revocation feed says so). */
function permissionsChangedNow() {
  const now = new Date();
  return { updated_at: now, permissions_changed_at: now };
}

/** What loadGrants returns: the account's grants, plus what tokens and the account status need. */
export type LoadedGrants = AccountGrants & { roleCount: number; productLocationIds: Map<string, string> };

/** One row of each of the account's grant tables, as loadGrants reads them (and the token subject query). */
export interface GrantRows {
  /** The account's locations that are not deleted: a deleted location grants nothing. */
  locations: ReadonlyArray<{ location_id: string; external_id: string | null }>;
  roles: ReadonlyArray<{
    id: string;
    permissions: string[];
    deleted_at: unknown;
    assignable_to_service_accounts: boolean;
  }>;
  /** The role x location matrix. */
  ticks: ReadonlyArray<{ role_id: string; location_id: string }>;
}

/** The account's grants from its rows (shared by loadGrants and the batched token subject query). */
export function accountGrantsFrom(
  allLocations: boolean,
  { locations, roles, ticks }: GrantRows,
): LoadedGrants {
  const restricted = new Map<string, string[]>();
  for (const tick of ticks) {
    const list = restricted.get(tick.role_id) ?? [];
    list.push(tick.location_id);
    restricted.set(tick.role_id, list);
  }
  // Only roles that can grant something count: a deleted role, or one not assignable to service
  // accounts, leaves the account as disabled as having no role at all.
  const liveRoles = roles.filter((r) => r.deleted_at === null && r.assignable_to_service_accounts);
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
    // svcauth location id -> the product's id, for the locations that have one (token keys).
    productLocationIds: new Map(
      locations.flatMap((l) => (l.external_id === null ? [] : [[l.location_id, l.external_id] as const])),
    ),
  };
}
