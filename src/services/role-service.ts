import type { Kysely } from 'kysely';
import { changedFields, hasChanges } from '../domain/audit-diff.ts';
import { assertMayRemovePermissions } from '../domain/authority.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import {
  assertNoEscalatingGrants,
  assertNoEscalatingPermissions,
  type Authority,
  type Grant,
  grantsBeyondAuthority,
  permissionsBeyondAuthority,
} from '../domain/escalation.ts';
import type { Page, PageRequest } from '../domain/pagination.ts';
import { RoleRepository, type RoleUpdate } from '../persistence/repositories/role-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Database, Role, ServiceAccount } from '../persistence/schema.ts';
import { type AdminActor, loadAuthority, recordAudit } from './admin-actor.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import { nameTakenError, withUniqueLiveName } from './unique-names.ts';
import { type RoleView, roleView } from './admin-views.ts';
import { fromStored, removeRoleFromAccounts, resolveWith } from './service-account-service.ts';
import type { ChangeEvent } from '../state/change-notifier.ts';
import { keepingManagementHolders } from './management-holders.ts';

export interface RoleInput {
  name: string;
  description?: string | undefined;
  permissions: string[];
  assignable_to_service_accounts?: boolean | undefined;
}

export type RolePatch = Partial<RoleInput>;

export interface RoleUpdateOptions {
  /** Marking the role not assignable takes it from every live account holding it (else: refused). */
  removeFromHolders?: boolean;
}

/** How many holders a refusal names; the count is always whole. */
const LISTED_HOLDERS = 100;

export class RoleService {
  readonly #db: Kysely<Database>;
  readonly #changes: ChangePublisher;
  readonly #catalog: { readonly known: ReadonlySet<string> } | undefined;
  /** `catalog`: the permissions a role may hold now (product and management); unset, any name. */
  constructor(
    db: Kysely<Database>,
    changes: ChangePublisher,
    catalog?: { readonly known: ReadonlySet<string> },
  ) {
    this.#db = db;
    this.#changes = changes;
    this.#catalog = catalog;
  }

  /** A role holds only names of the catalog as it is now; a name it lacks is refused, named. */
  #checkKnown(permissions: readonly string[] | undefined): void {
    const known = this.#catalog?.known;
    if (!known || !permissions) return;
    const unknown = permissions.filter((p) => !known.has(p));
    if (unknown.length === 0) return;
    throw new DomainError(
      'unknown_permission',
      `${unknown.map((p) => `"${p}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in the permission catalog; GET /admin/v1/permissions lists the permissions a role may hold`,
      { field: 'permissions', unknown_permissions: unknown },
    );
  }

  async list(actor: AdminActor, page: PageRequest): Promise<Page<RoleView>> {
    const result = await new RoleRepository(this.#db).listLivePage(actor.orgId, page);
    return { items: result.items.map(roleView), next: result.next };
  }

  async get(actor: AdminActor, id: string): Promise<RoleView> {
    const row = await new RoleRepository(this.#db).findLive(actor.orgId, id);
    if (!row) throw new NotFoundError('role', id);
    return roleView(row);
  }

  create(actor: AdminActor, input: RoleInput): Promise<RoleView> {
    this.#checkKnown(input.permissions);
    return withNameCheck(input.name, () =>
      this.#db.transaction().execute(async (trx) => {
        const authority = await loadAuthority(trx, actor);
        if (authority) {
          assertNoEscalatingPermissions(
            permissionsBeyondAuthority(authority, input.permissions),
            'this role',
          );
        }
        const roles = new RoleRepository(trx);
        if (await roles.findLiveByName(actor.orgId, input.name)) throw nameTaken(input.name);
        const view = roleView(
          await roles.create(actor.orgId, {
            name: input.name,
            description: input.description ?? '',
            permissions: [...new Set(input.permissions)].sort(),
            assignable_to_service_accounts: input.assignable_to_service_accounts ?? true,
          }),
        );
        await recordAudit(trx, actor, {
          action: 'role.created',
          targetType: 'role',
          targetId: view.id,
          diff: { after: view },
        });
        return view;
      }),
    );
  }

  /**
   * A change to what the role grants reaches every account holding it: their permissions version is
   * bumped, so tokens issued before the change are stale.
   */
  update(
    actor: AdminActor,
    id: string,
    patch: RolePatch,
    options: RoleUpdateOptions = {},
  ): Promise<RoleView> {
    this.#checkKnown(patch.permissions);
    return withNameCheck(patch.name ?? '', () =>
      transactionWithChanges(this.#db, this.#changes, (trx, changed) =>
        keepingManagementHolders(trx, actor, () => this.#update(trx, changed, actor, id, patch, options)),
      ),
    );
  }

  async #update(
    trx: Kysely<Database>,
    changed: (event: ChangeEvent) => void,
    actor: AdminActor,
    id: string,
    patch: RolePatch,
    options: RoleUpdateOptions,
  ): Promise<RoleView> {
    const roles = new RoleRepository(trx);
    const before = await roles.findLive(actor.orgId, id);
    if (!before) throw new NotFoundError('role', id);
    assertEditable(before);
    const update: RoleUpdate = {};
    if (patch.name !== undefined) update.name = patch.name;
    if (patch.description !== undefined) update.description = patch.description;
    if (patch.permissions !== undefined) update.permissions = [...new Set(patch.permissions)].sort();
    if (patch.assignable_to_service_accounts !== undefined) {
      update.assignable_to_service_accounts = patch.assignable_to_service_accounts;
    }
    if (update.permissions || update.assignable_to_service_accounts !== undefined) {
      const authority = await loadAuthority(trx, actor);
      if (authority) {
        const added = (update.permissions ?? []).filter((p) => !before.permissions.includes(p));
        assertNoEscalatingPermissions(permissionsBeyondAuthority(authority, added), 'this change');
        // Made unassignable, the role stops granting anything: everything it held is taken away.
        const removed =
          update.assignable_to_service_accounts === false
            ? before.permissions
            : before.permissions.filter((p) => update.permissions && !update.permissions.includes(p));
        assertMayRemovePermissions(authority, removed, 'this change');
        // Holding a permission somewhere is not enough: the role already applies to accounts at
        // their locations, and what it gains reaches them there.
        assertNoEscalatingGrants(
          await grantsThroughHolders(trx, actor.orgId, authority, { ...before, ...update }),
          'this change (through the accounts that hold the role)',
        );
      }
    }
    if (update.name !== undefined && update.name.toLowerCase() !== before.name.toLowerCase()) {
      if (await roles.findLiveByName(actor.orgId, update.name)) throw nameTaken(update.name);
    }
    const diff = changedFields(roleView(before), { ...roleView(before), ...update });
    if (!hasChanges(diff)) return roleView(before);
    const accounts = new ServiceAccountRepository(trx);
    const removedFrom =
      update.assignable_to_service_accounts === false && before.assignable_to_service_accounts
        ? await this.#takeFromHolders(trx, actor, before, options)
        : [];
    const after = roleView((await roles.update(actor.orgId, id, update))!);
    const grantsChanged =
      'permissions' in (diff.after ?? {}) || 'assignable_to_service_accounts' in (diff.after ?? {});
    const staleAccounts = [
      ...(await Promise.all(
        removedFrom.map(async (a) => ({
          id: a.id,
          permissionsVersion: await accounts.bumpPermissionsVersion(actor.orgId, a.id),
        })),
      )),
      ...(grantsChanged ? await accounts.bumpPermissionsVersionOfRoleHolders(actor.orgId, id) : []),
    ];
    await recordAudit(trx, actor, {
      action: 'role.updated',
      targetType: 'role',
      targetId: id,
      diff: {
        ...diff,
        ...(removedFrom.length > 0 ? { removed_from_service_account_ids: removedFrom.map((a) => a.id) } : {}),
        ...(staleAccounts.length > 0 ? { affected_service_account_ids: staleAccounts.map((a) => a.id) } : {}),
      },
    });
    // Every cached subject holding the role resolves differently now.
    if (grantsChanged) changed({ type: 'organization', orgId: actor.orgId });
    for (const stale of staleAccounts) changed(staleAccountChange(actor.orgId, stale));
    return after;
  }

  /**
   * A role marked not assignable grants nothing to the accounts holding it, so it is never done behind
   * their admins' backs: while live accounts hold it, the change is refused with the list of them,
   * unless the request says to take the role from every holder (each edit audited on its account).
   */
  async #takeFromHolders(
    trx: Kysely<Database>,
    actor: AdminActor,
    role: Role,
    options: RoleUpdateOptions,
  ): Promise<ServiceAccount[]> {
    const holders = await new ServiceAccountRepository(trx).lockLiveRoleHolders(actor.orgId, role.id);
    if (holders.length === 0) return [];
    if (!options.removeFromHolders) throw roleInUse(holders);
    await removeRoleFromAccounts(
      trx,
      actor,
      role.id,
      holders,
      'role marked not assignable to service accounts',
    );
    return holders;
  }

  /** A deleted role grants nothing any more; the accounts holding it get a new permissions version. */
  delete(actor: AdminActor, id: string): Promise<void> {
    return transactionWithChanges(this.#db, this.#changes, (trx, changed) =>
      keepingManagementHolders(trx, actor, () => this.#delete(trx, changed, actor, id)),
    );
  }

  async #delete(
    trx: Kysely<Database>,
    changed: (event: ChangeEvent) => void,
    actor: AdminActor,
    id: string,
  ): Promise<void> {
    const roles = new RoleRepository(trx);
    const role = await roles.findLive(actor.orgId, id);
    if (!role) throw new NotFoundError('role', id);
    assertEditable(role);
    const authority = await loadAuthority(trx, actor);
    if (authority) assertMayRemovePermissions(authority, role.permissions, 'deleting this role');
    const staleAccounts = await new ServiceAccountRepository(trx).bumpPermissionsVersionOfRoleHolders(
      actor.orgId,
      id,
    );
    await roles.softDelete(actor.orgId, id, new Date());
    await recordAudit(trx, actor, {
      action: 'role.deleted',
      targetType: 'role',
      targetId: id,
      diff: { before: roleView(role), affected_service_account_ids: staleAccounts.map((a) => a.id) },
    });
    changed({ type: 'organization', orgId: actor.orgId });
    for (const stale of staleAccounts) changed(staleAccountChange(actor.orgId, stale));
  }
}

/**
 * The grants an edited role would add to the accounts holding it, where the admin does not hold them
 * (each account judged at its own locations, through the role x location matrix).
 */
async function grantsThroughHolders(
  trx: Kysely<Database>,
  orgId: string,
  authority: Authority,
  edited: Role,
): Promise<Grant[]> {
  const accounts = new ServiceAccountRepository(trx);
  const holders = await accounts.lockLiveRoleHolders(orgId, edited.id);
  if (holders.length === 0) return [];
  const stored = await accounts.loadAssignments(holders.map((h) => h.id));
  const roleIds = new Set([...stored.values()].flatMap((s) => s.roles.map((r) => r.roleId)));
  const roles = await new RoleRepository(trx).findLiveByIds(orgId, [...roleIds]);
  const rolesAfter = roles.map((role) => (role.id === edited.id ? edited : role));
  const beyond = new Map<string, Grant>();
  for (const holder of holders) {
    const assignments = fromStored(holder, stored.get(holder.id)!);
    const grants = grantsBeyondAuthority(
      authority,
      resolveWith(assignments, roles),
      resolveWith(assignments, rolesAfter),
    );
    for (const grant of grants) beyond.set(`${grant.location} ${grant.permission}`, grant);
  }
  return [...beyond.values()];
}

/** Tokens of an account whose permissions version was bumped are stale (the revocation feed says so). */
function staleAccountChange(orgId: string, stale: { id: string; permissionsVersion: number }): ChangeEvent {
  return { type: 'account', orgId, accountId: stale.id, permissionsVersion: stale.permissionsVersion };
}

/** The API Admin role is how an organization is administered; changing it could lock everyone out. */
function assertEditable(role: Role): void {
  if (!role.is_system) return;
  throw new DomainError(
    'system_role',
    `"${role.name}" is a built-in role; it cannot be changed or deleted. Create a role of your own instead`,
  );
}

function roleInUse(holders: readonly ServiceAccount[]): DomainError {
  const count = holders.length;
  const shown = holders
    .slice(0, 3)
    .map((h) => `"${h.name}"`)
    .join(', ');
  return new DomainError(
    'role_in_use',
    `${count} service account${count === 1 ? ' holds' : 's hold'} this role (${shown}${count > 3 ? ', ...' : ''}), ` +
      'and a role not assignable to service accounts would grant them nothing. Remove it from ' +
      `${count === 1 ? 'that account' : 'them'} first, or send remove_from_holders=true to remove it from all of them`,
    {
      service_account_count: count,
      service_accounts: holders.slice(0, LISTED_HOLDERS).map((h) => ({ id: h.id, name: h.name })),
    },
  );
}

function nameTaken(name: string): DomainError {
  return nameTakenError('a role', name);
}

function withNameCheck<T>(name: string, work: () => Promise<T>): Promise<T> {
  return withUniqueLiveName('roles_live_name', () => nameTaken(name), work);
}
