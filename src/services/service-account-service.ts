import type { Kysely } from 'kysely';
import {
  type Assignments,
  type AssignmentsPatch,
  assignmentsDiffer,
  checkAssignments,
  mergeAssignments,
} from '../domain/assignments.ts';
import { changedFields } from '../domain/audit-diff.ts';
import { assertWithinReach } from '../domain/authority.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import {
  assertGroupsAdminChangeAllowed,
  assertNoEscalatingGrants,
  assertRolesOnGrantableList,
  grantsBeyondAuthority,
} from '../domain/escalation.ts';
import { type ResolvedPermissions, resolvePermissions } from '../domain/permissions.ts';
import { accountStatus } from '../domain/status.ts';
import type { Page, PageRequest } from '../domain/pagination.ts';
import { CredentialRepository } from '../persistence/repositories/credential-repository.ts';
import { LocationRepository } from '../persistence/repositories/location-repository.ts';
import { RoleRepository } from '../persistence/repositories/role-repository.ts';
import {
  type AccountListFilter,
  ServiceAccountRepository,
  type StoredAssignments,
} from '../persistence/repositories/service-account-repository.ts';
import type { Database, Role, ServiceAccount } from '../persistence/schema.ts';
import { type AdminActor, createdByColumns, loadAuthority, recordAudit } from './admin-actor.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import { nameTakenError, withUniqueLiveName } from './unique-names.ts';
import { type ServiceAccountView, serviceAccountView } from './admin-views.ts';
import type { ChangeEvent } from '../state/change-notifier.ts';
import { keepingManagementHolders } from './management-holders.ts';
import {
  type IssuedCredentialView,
  issueCredential,
  type NewCredentialInput,
  prepareSecret,
} from './credential-service.ts';
import type { SecretHasher } from '../keys/secret-hasher.ts';
import { OrganizationRepository } from '../persistence/repositories/organization-repository.ts';

export interface RoleAssignmentInput {
  role_id: string;
  location_ids?: string[] | null | undefined;
}

export interface ServiceAccountInput {
  name: string;
  description?: string | undefined;
  all_locations?: boolean | undefined;
  location_ids?: string[] | undefined;
  roles?: RoleAssignmentInput[] | undefined;
  groups_admin?: boolean | undefined;
}

export type ServiceAccountPatch = Partial<ServiceAccountInput>;

export interface NewServiceAccountInput extends ServiceAccountInput {
  /** Seed 003: the account's first credential, issued in the same transaction (name: the account's). */
  credential?: (Omit<NewCredentialInput, 'name'> & { name?: string | undefined }) | undefined;
}

export type CreatedServiceAccountView = ServiceAccountView & { credential?: IssuedCredentialView };

/** An account as lists and reads show it: with how many credentials it has, by state. */
export type ListedServiceAccountView = ServiceAccountView & {
  credential_counts: { active: number; expired: number; revoked: number };
};

export class ServiceAccountService {
  readonly #db: Kysely<Database>;
  readonly #changes: ChangePublisher;
  readonly #hasher: SecretHasher;
  constructor(db: Kysely<Database>, changes: ChangePublisher, hasher: SecretHasher) {
    this.#db = db;
    this.#changes = changes;
    this.#hasher = hasher;
  }

  async list(
    actor: AdminActor,
    filter: AccountListFilter,
    page: PageRequest,
  ): Promise<Page<ListedServiceAccountView>> {
    const result = await new ServiceAccountRepository(this.#db).listPage(actor.orgId, filter, page);
    return { items: await this.#withCounts(result.items), next: result.next };
  }

  /** "Accounts holding role X": the list, filtered by a role that must exist (404 otherwise). */
  async listHoldingRole(
    actor: AdminActor,
    roleId: string,
    filter: Omit<AccountListFilter, 'roleId'>,
    page: PageRequest,
  ): Promise<Page<ListedServiceAccountView>> {
    if (!(await new RoleRepository(this.#db).findLive(actor.orgId, roleId))) {
      throw new NotFoundError('role', roleId);
    }
    return this.list(actor, { ...filter, roleId }, page);
  }

  async get(actor: AdminActor, id: string): Promise<ListedServiceAccountView> {
    const account = await new ServiceAccountRepository(this.#db).findById(actor.orgId, id);
    if (!account) throw new NotFoundError('service account', id);
    return (await this.#withCounts([account]))[0]!;
  }

  async #withCounts(accounts: readonly ServiceAccount[]): Promise<ListedServiceAccountView[]> {
    const orgId = accounts[0]?.org_id;
    if (orgId === undefined) return [];
    const [views, counts] = await Promise.all([
      describeAccounts(this.#db, orgId, accounts),
      new ServiceAccountRepository(this.#db).credentialCounts(
        accounts.map((a) => a.id),
        new Date(),
      ),
    ]);
    return views.map((view) => ({ ...view, credential_counts: counts.get(view.id)! }));
  }

  /**
   * With `credential`, the account's first credential is issued in the same transaction, within the
   * organization's API security settings: a credential the settings refuse creates no account either.
   */
  async create(actor: AdminActor, input: NewServiceAccountInput): Promise<CreatedServiceAccountView> {
    const assignments = checkAssignments({
      allLocations: input.all_locations ?? false,
      locationIds: input.location_ids ?? [],
      roles: (input.roles ?? []).map(toRoleAssignment),
    });
    const first = input.credential;
    // bcrypt takes tens of milliseconds: hash before the transaction so no row lock waits on it.
    const prepared = first ? await prepareSecret(this.#hasher, first.type) : null;
    return withNameCheck(input.name, () =>
      this.#db.transaction().execute(async (trx) => {
        const accounts = new ServiceAccountRepository(trx);
        if (await accounts.findLiveByName(actor.orgId, input.name)) throw nameTaken(input.name);
        const roles = await resolveReferences(trx, actor.orgId, assignments, new Set());
        const authority = await loadAuthority(trx, actor);
        if (authority) {
          assertGroupsAdminChangeAllowed(authority, false, input.groups_admin);
          assertRolesOnGrantableList(authority, new Set(), roles, 'this service account');
          assertNoEscalatingGrants(
            grantsBeyondAuthority(authority, {}, resolveWith(assignments, roles)),
            'this service account',
          );
        }
        const created = await accounts.create(actor.orgId, {
          name: input.name,
          description: input.description ?? '',
          all_locations: assignments.allLocations,
          groups_admin: input.groups_admin ?? false,
          ...createdByColumns(actor),
        });
        await accounts.replaceAssignments(actor.orgId, created.id, toStored(assignments));
        const view = (
          await describeAccounts(trx, actor.orgId, [(await accounts.findById(actor.orgId, created.id))!])
        )[0]!;
        await recordAudit(trx, actor, {
          action: 'service_account.created',
          targetType: 'service_account',
          targetId: view.id,
          diff: { after: auditedFields(view) },
        });
        if (!first || !prepared) return view;
        const organization = (await new OrganizationRepository(trx).findById(actor.orgId))!;
        const credential = await underField('credential', () =>
          issueCredential(
            trx,
            actor,
            { account: created, organization },
            { ...first, name: first.name ?? input.name },
            prepared,
          ),
        );
        return { ...view, credential };
      }),
    );
  }

  /**
   * Edits reach every credential at once: any change to locations, roles, the matrix or groups_admin
   * bumps the account's permissions version, so new tokens carry the new permissions and tokens issued
   * before are stale.
   */
  update(actor: AdminActor, id: string, patch: ServiceAccountPatch): Promise<ServiceAccountView> {
    return withNameCheck(patch.name ?? '', () =>
      transactionWithChanges(this.#db, this.#changes, (trx, changed) =>
        keepingManagementHolders(trx, actor, () => this.#update(trx, changed, actor, id, patch)),
      ),
    );
  }

  async #update(
    trx: Kysely<Database>,
    changed: (event: ChangeEvent) => void,
    actor: AdminActor,
    id: string,
    patch: ServiceAccountPatch,
  ): Promise<ServiceAccountView> {
    const accounts = new ServiceAccountRepository(trx);
    const account = await accounts.lockById(actor.orgId, id);
    if (!account) throw new NotFoundError('service account', id);
    assertEditable(account, patch);
    await assertMayActOn(trx, actor, account, 'edit this service account');
    const [beforeView] = await describeAccounts(trx, actor.orgId, [account]);
    const stored = (await accounts.loadAssignments([id])).get(id)!;
    const current = fromStored(account, stored);
    const assignmentPatch = toAssignmentsPatch(patch);
    const proposed =
      Object.keys(assignmentPatch).length > 0 ? mergeAssignments(current, assignmentPatch) : current;
    const assignmentsChanged = assignmentsDiffer(current, proposed);
    const groupsAdminChanged =
      patch.groups_admin !== undefined && patch.groups_admin !== account.groups_admin;

    if (assignmentsChanged) {
      const keptRoles = new Set(current.roles.map((r) => r.roleId));
      const roles = await resolveReferences(trx, actor.orgId, proposed, keptRoles);
      const authority = await loadAuthority(trx, actor);
      if (authority) {
        assertRolesOnGrantableList(authority, keptRoles, roles, 'this change');
        const currentRoles = await new RoleRepository(trx).findLiveByIds(
          actor.orgId,
          current.roles.map((r) => r.roleId),
        );
        assertNoEscalatingGrants(
          grantsBeyondAuthority(authority, resolveWith(current, currentRoles), resolveWith(proposed, roles)),
          'this change',
        );
      }
    }
    if (groupsAdminChanged) {
      const authority = await loadAuthority(trx, actor);
      if (authority) assertGroupsAdminChangeAllowed(authority, account.groups_admin, patch.groups_admin);
    }
    if (patch.name !== undefined && patch.name.toLowerCase() !== account.name.toLowerCase()) {
      if (await accounts.findLiveByName(actor.orgId, patch.name)) throw nameTaken(patch.name);
    }

    await accounts.update(actor.orgId, id, {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(groupsAdminChanged ? { groups_admin: patch.groups_admin } : {}),
      ...(assignmentsChanged ? { all_locations: proposed.allLocations } : {}),
    });
    if (assignmentsChanged) await accounts.replaceAssignments(actor.orgId, id, toStored(proposed));
    else if (groupsAdminChanged) await accounts.bumpPermissionsVersion(actor.orgId, id);

    const [afterView] = await describeAccounts(trx, actor.orgId, [
      (await accounts.findById(actor.orgId, id))!,
    ]);
    const diff = changedFields(auditedFields(beforeView!), auditedFields(afterView!));
    if (Object.keys(diff.after ?? {}).length > 0) {
      await recordAudit(trx, actor, {
        action: 'service_account.updated',
        targetType: 'service_account',
        targetId: id,
        diff,
      });
      changed({
        type: 'account',
        orgId: actor.orgId,
        accountId: id,
        // Tokens issued before the bump are stale: the revocation feed tells resource servers.
        ...(assignmentsChanged || groupsAdminChanged
          ? { permissionsVersion: afterView!.permissions_version }
          : {}),
      });
    }
    return afterView!;
  }

  /**
   * Archiving revokes every credential in the same transaction, keeps the row for the audit trail
   * and frees the name (the live-name index ignores archived accounts). Archiving twice changes nothing.
   */
  archive(actor: AdminActor, id: string): Promise<ServiceAccountView> {
    return transactionWithChanges(this.#db, this.#changes, (trx, changed) =>
      keepingManagementHolders(trx, actor, () => this.#archive(trx, changed, actor, id)),
    );
  }

  /** Removes an archived account and its credentials for good (see purgeArchivedAccount). */
  purge(actor: AdminActor, id: string): Promise<void> {
    return transactionWithChanges(this.#db, this.#changes, (trx, changed) =>
      purgeArchivedAccount(trx, changed, actor, id),
    );
  }

  async #archive(
    trx: Kysely<Database>,
    changed: (event: ChangeEvent) => void,
    actor: AdminActor,
    id: string,
  ): Promise<ServiceAccountView> {
    const accounts = new ServiceAccountRepository(trx);
    const account = await accounts.lockById(actor.orgId, id);
    if (!account) throw new NotFoundError('service account', id);
    if (account.is_protected) throw protectedAccount();
    const [before] = await describeAccounts(trx, actor.orgId, [account]);
    if (account.archived_at) return before!;
    await assertMayActOn(trx, actor, account, 'archive this service account');
    const now = new Date();
    const revoked = await new CredentialRepository(trx).revokeAllOfAccount(
      id,
      now,
      'service account archived',
    );
    const [after] = await describeAccounts(trx, actor.orgId, [await accounts.archive(actor.orgId, id, now)]);
    await recordAudit(trx, actor, {
      action: 'service_account.archived',
      targetType: 'service_account',
      targetId: id,
      diff: {
        ...changedFields(auditedFields(before!), auditedFields(after!)),
        revoked_credential_ids: revoked.map((c) => c.id),
      },
    });
    changed({ type: 'account', orgId: actor.orgId, accountId: id });
    for (const credential of revoked) {
      changed({
        type: 'credential',
        orgId: actor.orgId,
        accountId: id,
        credentialId: credential.id,
        clientId: credential.client_id,
        revoked: true,
      });
    }
    return after!;
  }
}

/**
 * Seed 000, "delete permanently removes": an archived account (its credentials revoked by the archive)
 * is removed with its credentials. The audit trail stays, and the purge event records the account and
 * its credentials by name, so the trail still says who did what. Anything not archived is refused: the
 * archive is where credentials are revoked, the feed told and the last-admin rule applied.
 */
export async function purgeArchivedAccount(
  trx: Kysely<Database>,
  changed: (event: ChangeEvent) => void,
  actor: AdminActor,
  id: string,
): Promise<void> {
  const accounts = new ServiceAccountRepository(trx);
  const account = await accounts.lockById(actor.orgId, id);
  if (!account) throw new NotFoundError('service account', id);
  if (account.is_protected) throw protectedAccount();
  if (!account.archived_at) {
    throw new DomainError(
      'account_not_archived',
      'only an archived service account can be purged; archive it first (that revokes its credentials), then purge it',
    );
  }
  const [view] = await describeAccounts(trx, actor.orgId, [account]);
  const credentials = await new CredentialRepository(trx).deleteAllOfAccount(id);
  await accounts.delete(actor.orgId, id);
  await recordAudit(trx, actor, {
    action: 'service_account.purged',
    targetType: 'service_account',
    targetId: id,
    diff: {
      before: {
        ...auditedFields(view!),
        credentials: credentials.map((c) => ({
          id: c.id,
          name: c.name,
          type: c.type,
          client_id: c.client_id,
          created_at: c.created_at.toISOString(),
          revoked_at: c.revoked_at?.toISOString() ?? null,
        })),
      },
    },
  });
  changed({ type: 'account', orgId: actor.orgId, accountId: id });
}

/**
 * Takes a role from the accounts holding it, each audited as an edit of that account naming the role
 * and the reason. The caller bumps their permissions versions and announces them; call inside its
 * transaction, with the accounts locked.
 */
export async function removeRoleFromAccounts(
  trx: Kysely<Database>,
  actor: AdminActor,
  roleId: string,
  holders: readonly ServiceAccount[],
  reason: string,
): Promise<void> {
  const accounts = new ServiceAccountRepository(trx);
  const before = await describeAccounts(trx, actor.orgId, holders);
  for (const holder of holders) await accounts.removeRole(actor.orgId, holder.id, roleId);
  const after = await describeAccounts(
    trx,
    actor.orgId,
    await Promise.all(holders.map(async (h) => (await accounts.findById(actor.orgId, h.id))!)),
  );
  for (const [index, holder] of holders.entries()) {
    await recordAudit(trx, actor, {
      action: 'service_account.updated',
      targetType: 'service_account',
      targetId: holder.id,
      diff: {
        ...changedFields(auditedFields(before[index]!), auditedFields(after[index]!)),
        removed_role_id: roleId,
        reason,
      },
    });
  }
}

/** Views of accounts with their assignments, resolved permissions and derived status, in four queries. */
export async function describeAccounts(
  db: Kysely<Database>,
  orgId: string,
  accounts: readonly ServiceAccount[],
): Promise<ServiceAccountView[]> {
  const assignments = await new ServiceAccountRepository(db).loadAssignments(accounts.map((a) => a.id));
  const roleIds = [...new Set([...assignments.values()].flatMap((a) => a.roles.map((r) => r.roleId)))];
  const roles = await new RoleRepository(db).findLiveByIds(orgId, roleIds);
  const grantingRoles = new Set(roles.filter((r) => r.assignable_to_service_accounts).map((r) => r.id));
  return accounts.map((account) => {
    const stored = assignments.get(account.id)!;
    // As at the token endpoint: only roles that can grant something keep an account active.
    const roleCount = stored.roles.filter((r) => grantingRoles.has(r.roleId)).length;
    const status = accountStatus({ archivedAt: account.archived_at, roleCount });
    return serviceAccountView(account, stored, status, resolveWith(fromStored(account, stored), roles));
  });
}

/**
 * An admin may act on an account (edit it, archive it, issue, revoke, rotate or regenerate its
 * credentials) only when the account holds nothing beyond the admin's reach: whoever could not have
 * granted what the account holds may not take it away either.
 */
export async function assertMayActOn(
  db: Kysely<Database>,
  actor: AdminActor,
  account: ServiceAccount,
  action: string,
): Promise<void> {
  const authority = await loadAuthority(db, actor);
  if (!authority) return;
  assertWithinReach(
    authority,
    { resolved: await resolvedPermissionsOf(db, account), groupsAdmin: account.groups_admin },
    action,
  );
}

/** The permissions an account resolves to right now, for checks that compare it with an admin's. */
export async function resolvedPermissionsOf(
  db: Kysely<Database>,
  account: ServiceAccount,
): Promise<ResolvedPermissions> {
  return resolvePermissions(
    await new ServiceAccountRepository(db).loadGrants(account.id, account.all_locations),
  );
}

/**
 * Every location and role named must be live in the organization (another organization's ids are
 * unknown here, exactly like made-up ones), and newly assigned roles must be assignable to service
 * accounts. Returns the roles, for permission resolution.
 */
export async function resolveReferences(
  db: Kysely<Database>,
  orgId: string,
  assignments: Assignments,
  alreadyAssigned: ReadonlySet<string>,
): Promise<Role[]> {
  const found = new Set(
    (await new LocationRepository(db).findLiveByIds(orgId, assignments.locationIds)).map((l) => l.id),
  );
  assignments.locationIds.forEach((id, index) => {
    if (!found.has(id)) throw unknownReference(`location_ids[${index}]`, 'location', id);
  });
  const roles = await new RoleRepository(db).findLiveByIds(
    orgId,
    assignments.roles.map((r) => r.roleId),
  );
  const byId = new Map(roles.map((r) => [r.id, r]));
  assignments.roles.forEach((assignment, index) => {
    const role = byId.get(assignment.roleId);
    if (!role) throw unknownReference(`roles[${index}].role_id`, 'role', assignment.roleId);
    if (!role.assignable_to_service_accounts && !alreadyAssigned.has(role.id)) {
      throw new DomainError(
        'role_not_assignable',
        `role "${role.name}" is marked not assignable to service accounts`,
        { field: `roles[${index}].role_id` },
      );
    }
  });
  return roles;
}

export function resolveWith(assignments: Assignments, roles: readonly Role[]): ResolvedPermissions {
  const byId = new Map(roles.map((r) => [r.id, r]));
  return resolvePermissions({
    allLocations: assignments.allLocations,
    locationIds: assignments.locationIds,
    roles: assignments.roles.flatMap((r) => {
      const role = byId.get(r.roleId);
      if (!role) return [];
      return [
        {
          roleId: role.id,
          permissions: role.permissions,
          restrictedTo: r.locationIds,
          assignable: role.assignable_to_service_accounts,
        },
      ];
    }),
  });
}

export function toStored(assignments: Assignments) {
  return {
    locationIds: [...assignments.locationIds],
    roles: assignments.roles.map((r) => ({
      roleId: r.roleId,
      restrictedTo: r.locationIds ? [...r.locationIds] : null,
    })),
  };
}

export function fromStored(account: ServiceAccount, stored: StoredAssignments): Assignments {
  return {
    allLocations: account.all_locations,
    locationIds: stored.locationIds,
    roles: stored.roles.map((r) => ({ roleId: r.roleId, locationIds: r.restrictedTo })),
  };
}

function toRoleAssignment(input: RoleAssignmentInput) {
  return { roleId: input.role_id, locationIds: input.location_ids ?? null };
}

function toAssignmentsPatch(patch: ServiceAccountPatch): AssignmentsPatch {
  return {
    ...(patch.all_locations !== undefined ? { allLocations: patch.all_locations } : {}),
    ...(patch.location_ids !== undefined ? { locationIds: patch.location_ids } : {}),
    ...(patch.roles !== undefined ? { roles: patch.roles.map(toRoleAssignment) } : {}),
  };
}

/** What an audit event records of an account: its definition, not derived or bookkeeping fields. */
function auditedFields(view: ServiceAccountView): Record<string, unknown> {
  const { created_at: _c, updated_at: _u, permissions_version: _v, ...fields } = view;
  return fields;
}

/**
 * An archived account is not edited. The built-in account is the product's: its admins choose only
 * its roles (and where each applies), so its status follows them like any account's; its name,
 * description, locations and groups_admin are not theirs to change.
 */
function assertEditable(account: ServiceAccount, patch: ServiceAccountPatch): void {
  if (account.is_protected) {
    const refused = Object.entries(patch)
      .filter(([field, value]) => field !== 'roles' && value !== undefined)
      .map(([field]) => field);
    if (refused.length > 0) {
      throw new DomainError(
        'protected_account',
        `the built-in service account is managed by the product; its admins may change only its roles, not ${refused.join(', ')}`,
        { field: refused[0] },
      );
    }
  }
  if (account.archived_at) {
    throw new DomainError('account_archived', 'this service account is archived; it can no longer be edited');
  }
}

function protectedAccount(): DomainError {
  return new DomainError(
    'protected_account',
    'the built-in service account is managed by the product; it cannot be renamed, archived, purged or given credentials (only its roles can change)',
  );
}

function unknownReference(field: string, kind: string, id: string): DomainError {
  return new DomainError('unknown_reference', `no ${kind} with id "${id}" exists in this organization`, {
    field,
  });
}

function nameTaken(name: string): DomainError {
  return nameTakenError('a service account', name, 'choose another name (archived accounts do not count)');
}

function withNameCheck<T>(name: string, work: () => Promise<T>): Promise<T> {
  return withUniqueLiveName('service_accounts_live_name', () => nameTaken(name), work);
}

/** A refusal about a nested object names its field from the request's root (`credential.type`). */
async function underField<T>(prefix: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DomainError && typeof error.details?.field === 'string') {
      throw new DomainError(error.code, error.message, {
        ...error.details,
        field: `${prefix}.${error.details.field}`,
      });
    }
    throw error;
  }
}
