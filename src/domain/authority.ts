/**
 * What an admin holds, whom it may act on, and what an organization must never lose. Pure: services
 * load the rows, these functions decide.
 *
 * - An admin holds the management permissions its token carries, and the product permissions of its
 *   account only when the token is not down-scoped (admin tokens cannot carry product permissions, so
 *   a token asked for with `scope=` holds exactly that scope).
 * - An admin may act on a service account (edit, archive, issue, revoke, rotate or regenerate its
 *   credentials) only when the account holds nothing beyond the admin's own reach: taking away is
 *   bounded exactly like granting.
 * - An organization keeps, for every management permission, at least one usable holder: a live
 *   service account holding it with an active credential of an allowed type.
 */
import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';
import { DomainError } from './errors.ts';
import { type Authority, type Grant, grantsBeyondAuthority } from './escalation.ts';
import { ALL_LOCATIONS, type ResolvedPermissions } from './permissions.ts';
import { type CredentialType, credentialStatus } from './status.ts';

const MANAGEMENT = new Set<string>(MANAGEMENT_PERMISSIONS);

/**
 * The admin's authority from its token and its account's permissions now. A token that carries fewer
 * management permissions than the account holds was down-scoped: it holds its scope and nothing else,
 * so no product permission of the account. An undown-scoped token holds the account's permissions.
 */
export function authorityOf(input: {
  tokenManagement: ReadonlySet<string>;
  account: ResolvedPermissions;
  groupsAdmin: boolean;
}): Authority {
  const accountManagement = new Set(managementHeld(input.account));
  const management = new Set([...input.tokenManagement].filter((p) => accountManagement.has(p)));
  const downScoped = [...accountManagement].some((p) => !management.has(p));
  return {
    management,
    resolved: downScoped ? {} : input.account,
    groupsAdmin: input.groupsAdmin,
  };
}

/**
 * A person's authority, from their management token: its management permissions, groups admin, and
 * the roles on their grantable list. A person holds no product permission of their own; the product
 * permissions of the roles they may grant are within their reach (org-wide), so they can act on the
 * accounts they gave those roles to. Without a list they reach only what they hold.
 */
export function personAuthority(input: {
  management: ReadonlySet<string>;
  groupsAdmin: boolean;
  grantableRoles: ReadonlyArray<{ id: string; permissions: readonly string[] }> | null;
}): Authority {
  const roles = input.grantableRoles;
  const product = [
    ...new Set((roles ?? []).flatMap((role) => role.permissions).filter((p) => !MANAGEMENT.has(p))),
  ].sort();
  return {
    management: new Set(input.management),
    resolved: product.length > 0 ? { [ALL_LOCATIONS]: product } : {},
    groupsAdmin: input.groupsAdmin,
    grantableRoles: roles ? new Set(roles.map((role) => role.id)) : null,
  };
}

/** Management permissions an account holds (org-wide by construction). */
export function managementHeld(resolved: ResolvedPermissions): string[] {
  return (resolved[ALL_LOCATIONS] ?? []).filter((p) => MANAGEMENT.has(p));
}

export interface ActedOnAccount {
  resolved: ResolvedPermissions;
  groupsAdmin: boolean;
}

/**
 * What the account holds beyond the admin's reach. Acting on it is granting or taking away what it
 * holds, which the admin could not have granted. An empty answer means the admin may act on it.
 */
export function reachBeyondAuthority(
  authority: Authority,
  account: ActedOnAccount,
): { grants: Grant[]; groupsAdmin: boolean } {
  return {
    grants: grantsBeyondAuthority(authority, {}, account.resolved),
    groupsAdmin: account.groupsAdmin && !authority.groupsAdmin,
  };
}

/** Refuses (403 escalation_refused) acting on an account holding more than the admin holds. */
export function assertWithinReach(authority: Authority, account: ActedOnAccount, action: string): void {
  const beyond = reachBeyondAuthority(authority, account);
  if (beyond.grants.length > 0) {
    const listed = [...new Set(beyond.grants.map(describeGrant))].join(', ');
    throw new DomainError(
      'escalation_refused',
      `you cannot ${action}: this service account holds ${listed}, which you do not hold yourself; an admin can act only on service accounts holding nothing beyond its own permissions`,
      { grants: beyond.grants },
    );
  }
  if (beyond.groupsAdmin) {
    throw new DomainError(
      'escalation_refused',
      `you cannot ${action}: this service account is a groups administrator, and only an admin that is one can act on it`,
    );
  }
}

/** Refuses (403) removing from a role permissions the admin does not hold: taking away is granting's twin. */
export function assertMayRemovePermissions(authority: Authority, removed: readonly string[], what: string) {
  const heldAnywhere = new Set([...authority.management, ...Object.values(authority.resolved).flat()]);
  const beyond = [...new Set(removed)].filter((p) => !heldAnywhere.has(p)).sort();
  if (beyond.length === 0) return;
  throw new DomainError(
    'escalation_refused',
    `${what} takes away ${beyond.join(', ')}, which you do not hold yourself; an admin can take away only what it could grant`,
    { permissions: beyond },
  );
}

function describeGrant(grant: Grant): string {
  return `${grant.permission} ${grant.location === ALL_LOCATIONS ? 'org-wide' : `at location ${grant.location}`}`;
}

// ---------------------------------------------------------------------------------------------------
// The last holder of each management permission

export interface HolderCredential {
  type: CredentialType;
  revokedAt: Date | null;
  expiresAt: Date | null;
}

/** A live (not archived) service account that holds at least one management permission. */
export interface HolderCandidate {
  accountId: string;
  resolved: ResolvedPermissions;
  credentials: readonly HolderCredential[];
}

/**
 * The management permissions someone can still use: held by a live account that has an active
 * credential of a type the organization allows (anything else can never obtain an admin token).
 */
export function usableManagementPermissions(
  candidates: readonly HolderCandidate[],
  allowedTypes: readonly CredentialType[],
  now: Date,
): Set<string> {
  const usable = new Set<string>();
  for (const candidate of candidates) {
    const canAuthenticate = candidate.credentials.some(
      (c) =>
        allowedTypes.includes(c.type) &&
        credentialStatus({ revokedAt: c.revokedAt, expiresAt: c.expiresAt }, now) === 'active',
    );
    if (!canAuthenticate) continue;
    for (const permission of managementHeld(candidate.resolved)) usable.add(permission);
  }
  return usable;
}

/**
 * Management permissions usable before a change and by nobody after it, sorted by name. A
 * permission nobody could use before (e.g. every admin credential expired) is not this change's doing.
 */
export function managementPermissionsLost(before: ReadonlySet<string>, after: ReadonlySet<string>): string[] {
  return MANAGEMENT_PERMISSIONS.filter((p) => before.has(p) && !after.has(p)).sort();
}

/** Refuses (409 last_management_holder) a change that leaves a management permission with no usable holder. */
export function assertNoManagementPermissionLost(lost: readonly string[], what = 'this change'): void {
  if (lost.length === 0) return;
  const them = lost.length === 1 ? 'it' : 'them';
  throw new DomainError(
    'last_management_holder',
    `${what} would leave this organization with no one able to use ${lost.join(', ')}: no live service account would hold ${them} with an active credential of an allowed type. Give another service account ${them} and a credential first`,
    { permissions: [...lost] },
  );
}
