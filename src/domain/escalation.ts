/**
 * No escalation: an admin may hand out only what it holds itself. Management permissions are held
 * org-wide, through the admin's token; product permissions are held location by location, through
 * the admin account's own roles.
 */
import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';
import { DomainError } from './errors.ts';
import { ALL_LOCATIONS, isAllowed, permissionNames, type ResolvedPermissions } from './permissions.ts';

export interface Authority {
  /** Management permissions the admin's token carries (its org-wide "*" grants). */
  management: ReadonlySet<string>;
  /** The admin account's own resolved permissions; product permissions are judged against these. */
  resolved: ResolvedPermissions;
  groupsAdmin: boolean;
  /**
   * A person with a grantable-roles list (a Role Admin, in the seeds' words) may give accounts only
   * the roles on it, by id; absent or null, roles are judged by the permissions they grant alone.
   */
  grantableRoles?: ReadonlySet<string> | null;
}

export interface Grant {
  location: string;
  permission: string;
}

const MANAGEMENT = new Set<string>(MANAGEMENT_PERMISSIONS);

function holds(authority: Authority, permission: string, location: string): boolean {
  if (MANAGEMENT.has(permission)) return authority.management.has(permission);
  // isAllowed lets an org-wide grant cover any location; an org-wide grant ("*") needs one itself.
  return isAllowed(authority.resolved, permission, location);
}

/**
 * The grants `proposed` adds to `current` that the admin does not hold where they would apply. Grants
 * the account already had are not the admin's doing; whether the admin may act on that account at all
 * is decided first, by assertWithinReach (authority.ts).
 */
export function grantsBeyondAuthority(
  authority: Authority,
  current: ResolvedPermissions,
  proposed: ResolvedPermissions,
): Grant[] {
  const beyond: Grant[] = [];
  for (const [location, permissions] of Object.entries(proposed)) {
    for (const permission of permissions) {
      if (isAllowed(current, permission, location)) continue;
      if (!holds(authority, permission, location)) beyond.push({ location, permission });
    }
  }
  return beyond;
}

/**
 * Permissions a role definition names that the admin holds nowhere. A role is not tied to locations;
 * where it applies is checked when it is assigned (grantsBeyondAuthority).
 */
export function permissionsBeyondAuthority(authority: Authority, permissions: readonly string[]): string[] {
  const heldAnywhere = new Set([...authority.management, ...permissionNames(authority.resolved)]);
  return [...new Set(permissions)].filter((p) => !heldAnywhere.has(p)).sort();
}

export function assertNoEscalatingGrants(grants: Grant[], what: string): void {
  if (grants.length === 0) return;
  const listed = grants
    .map((g) => `${g.permission} ${g.location === ALL_LOCATIONS ? 'org-wide' : `at location ${g.location}`}`)
    .join(', ');
  throw new DomainError(
    'escalation_refused',
    `${what} would grant ${listed}, which you do not hold yourself; an admin can grant only what it holds`,
    { grants },
  );
}

export function assertNoEscalatingPermissions(permissions: string[], what: string): void {
  if (permissions.length === 0) return;
  throw new DomainError(
    'escalation_refused',
    `${what} names ${permissions.join(', ')}, which you do not hold yourself; an admin can grant only what it holds`,
    { permissions },
  );
}

/** Only a groups administrator may give or take away the groups administrator flag. */
export function assertGroupsAdminChangeAllowed(
  authority: Authority,
  current: boolean,
  requested: boolean | undefined,
): void {
  if (requested === undefined || requested === current || authority.groupsAdmin) return;
  throw new DomainError(
    'escalation_refused',
    'only an admin that is itself a groups administrator can change groups_admin',
    { field: 'groups_admin' },
  );
}

/**
 * A Role Admin grants only the roles on their list: roles newly given to an account (not held by it
 * already) that the list does not name are refused, whatever they contain. Without a list, nothing
 * to check here (grantsBeyondAuthority judges the permissions).
 */
export function assertRolesOnGrantableList(
  authority: Authority,
  alreadyHeld: ReadonlySet<string>,
  proposed: ReadonlyArray<{ id: string; name: string }>,
  what: string,
): void {
  const list = authority.grantableRoles;
  if (!list) return;
  const beyond = proposed.filter((role) => !alreadyHeld.has(role.id) && !list.has(role.id));
  if (beyond.length === 0) return;
  const names = beyond.map((role) => `"${role.name}"`).join(', ');
  throw new DomainError(
    'escalation_refused',
    `${what} would grant the role${beyond.length > 1 ? 's' : ''} ${names}, which ${beyond.length > 1 ? 'are' : 'is'} not on your list of roles you may grant`,
    { roles: beyond.map((role) => role.id) },
  );
}
