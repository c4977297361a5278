import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';

/** Key of org-wide grants in the `permissions` claim. */
export const ALL_LOCATIONS = '*';

/**
 * Location id (or "*") to the sorted permission names that apply there. Keys are product location ids,
 * any printable string (`__proto__`, `constructor` included): the objects made here have no prototype,
 * and lookups go through {@link grantsAt}, so a key is never an inherited member.
 */
export type ResolvedPermissions = Record<string, string[]>;

export interface RoleGrant {
  roleId: string;
  permissions: readonly string[];
  /** Role x location matrix: the account locations this role is ticked for; null = all of them. */
  restrictedTo: readonly string[] | null;
  /** A role deleted from the organization grants nothing, whatever still points at it. */
  removed?: boolean;
  /** Roles marked not assignable to service accounts grant nothing to one, even if linked. */
  assignable?: boolean;
}

export interface AccountGrants {
  /** "All locations" accounts receive org-wide grants, including locations created later. */
  allLocations: boolean;
  locationIds: readonly string[];
  roles: readonly RoleGrant[];
}

const MANAGEMENT = new Set<string>(MANAGEMENT_PERMISSIONS);

/**
 * What an account may do, location by location: for each role, its permissions at each location the
 * matrix lets it apply; the union over roles. Management permissions are org-wide ("*"). Given the
 * current catalog (`known`: product and management names), names not in it are dropped: a permission
 * removed from the catalog grants nothing, even from a role that still names it.
 */
export function resolvePermissions(account: AccountGrants, known?: ReadonlySet<string>): ResolvedPermissions {
  const byLocation = new Map<string, Set<string>>();
  const grant = (location: string, permission: string) => {
    const set = byLocation.get(location) ?? new Set<string>();
    set.add(permission);
    byLocation.set(location, set);
  };
  const accountLocations = new Set(account.locationIds);

  for (const role of account.roles) {
    if (role.removed || role.assignable === false) continue;
    const locations = account.allLocations
      ? [ALL_LOCATIONS]
      : role.restrictedTo === null
        ? [...accountLocations]
        : role.restrictedTo.filter((id) => accountLocations.has(id));
    for (const permission of role.permissions) {
      if (known && !known.has(permission)) continue;
      if (MANAGEMENT.has(permission)) {
        // An org-wide power needs the role to apply somewhere; a role ticked nowhere grants nothing.
        if (locations.length > 0) grant(ALL_LOCATIONS, permission);
        continue;
      }
      for (const location of locations) grant(location, permission);
    }
  }
  return sortResolved(byLocation);
}

/** Every permission name the account holds anywhere: the scopes it may request. */
export function permissionNames(resolved: ResolvedPermissions): string[] {
  return [...new Set(Object.values(resolved).flat())].sort();
}

/** Keeps only the requested scopes (down-scoping a token); locations left empty disappear. */
export function restrictToScopes(
  resolved: ResolvedPermissions,
  scopes: ReadonlySet<string>,
): ResolvedPermissions {
  const kept = new Map<string, Set<string>>();
  for (const [location, permissions] of Object.entries(resolved)) {
    const left = permissions.filter((p) => scopes.has(p));
    if (left.length > 0) kept.set(location, new Set(left));
  }
  return sortResolved(kept);
}

/** Does a resolved set allow a permission at a location (org-wide grants count everywhere)? */
export function isAllowed(resolved: ResolvedPermissions, permission: string, locationId: string): boolean {
  return (
    grantsAt(resolved, ALL_LOCATIONS).includes(permission) ||
    grantsAt(resolved, locationId).includes(permission)
  );
}

/** The permissions granted at one key: own entries only, never an Object.prototype member. */
export function grantsAt(resolved: ResolvedPermissions, location: string): readonly string[] {
  return Object.hasOwn(resolved, location) ? resolved[location]! : [];
}

/**
 * The key a location's permissions go under in tokens, `/introspect` answers and the kit's `can()`:
 * the product's own location id where one was given, svcauth's id otherwise. The database keeps these
 * keys unique among an organization's live locations, so a key names one location (see migration 0010).
 */
export function tokenLocationKey(location: { id: string; externalId: string | null }): string {
  return location.externalId ?? location.id;
}

/**
 * Resolved permissions (keyed by svcauth location ids) rekeyed as tokens carry them: each location
 * with a product id under that id; "*" and locations without one unchanged.
 */
export function keyedForTokens(
  resolved: ResolvedPermissions,
  productIds: ReadonlyMap<string, string>,
): ResolvedPermissions {
  if (productIds.size === 0) return resolved;
  const byKey = new Map<string, Set<string>>();
  for (const [location, permissions] of Object.entries(resolved)) {
    byKey.set(productIds.get(location) ?? location, new Set(permissions));
  }
  return sortResolved(byKey);
}

function sortResolved(byLocation: Map<string, Set<string>>): ResolvedPermissions {
  // No prototype: `result['__proto__'] = ...` on a plain object would set its prototype, not a key.
  const result: ResolvedPermissions = Object.create(null) as ResolvedPermissions;
  for (const location of [...byLocation.keys()].sort()) {
    result[location] = [...byLocation.get(location)!].sort();
  }
  return result;
}
