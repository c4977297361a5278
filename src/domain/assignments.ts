/**
 * The rules of an account's locations, roles and role x location matrix. Pure: the service loads the
 * rows, these functions decide, the repository writes what they return.
 */
import { DomainError } from './errors.ts';

export interface RoleAssignment {
  roleId: string;
  /** The matrix: the account locations this role applies at; null = all of them. */
  locationIds: readonly string[] | null;
}

export interface Assignments {
  allLocations: boolean;
  locationIds: readonly string[];
  roles: readonly RoleAssignment[];
}

/** What a partial update may change; an absent member keeps the current value. */
export interface AssignmentsPatch {
  allLocations?: boolean;
  locationIds?: readonly string[];
  roles?: readonly RoleAssignment[];
}

/**
 * Checks a complete set of assignments and returns it normalized (duplicate location ids dropped).
 * Every refusal names the request field at fault in `details.field`.
 */
export function checkAssignments(input: Assignments): Assignments {
  const locationIds = [...new Set(input.locationIds)];
  if (input.allLocations && locationIds.length > 0) {
    throw invalid(
      'location_ids',
      'send either all_locations: true or location_ids, not both: an all-locations account already covers every location',
    );
  }
  if (!input.allLocations && locationIds.length === 0) {
    throw invalid('location_ids', 'choose at least one location in location_ids, or set all_locations: true');
  }
  const accountLocations = new Set(locationIds);
  const seenRoles = new Set<string>();
  const roles = input.roles.map((role, index) => {
    if (seenRoles.has(role.roleId)) {
      throw invalid(`roles[${index}].role_id`, `role ${role.roleId} is listed twice; list each role once`);
    }
    seenRoles.add(role.roleId);
    if (role.locationIds === null) return { roleId: role.roleId, locationIds: null };
    const field = `roles[${index}].location_ids`;
    if (input.allLocations) {
      throw invalid(
        field,
        'an all-locations account holds each role everywhere; omit location_ids, or give the account location_ids',
      );
    }
    const ticked = [...new Set(role.locationIds)];
    if (ticked.length === 0) {
      throw invalid(
        field,
        'tick at least one location, or omit location_ids to apply the role at all of them',
      );
    }
    const outside = ticked.filter((id) => !accountLocations.has(id));
    if (outside.length > 0) {
      throw invalid(
        field,
        `location ${outside.join(', ')} is not one of the account's locations; a role can apply only where the account is`,
      );
    }
    return { roleId: role.roleId, locationIds: ticked };
  });
  return { allLocations: input.allLocations, locationIds, roles };
}

/**
 * Applies a partial update to the current assignments. Sending location_ids implies a
 * location-scoped account; switching to all locations drops locations and matrix restrictions (they
 * mean nothing there). Kept roles keep their ticks at the locations that remain; a role whose ticks
 * would all disappear is refused rather than silently widened or emptied.
 */
export function mergeAssignments(current: Assignments, patch: AssignmentsPatch): Assignments {
  const allLocations = patch.allLocations ?? (patch.locationIds !== undefined ? false : current.allLocations);
  const locationIds = patch.locationIds ?? (allLocations ? [] : current.locationIds);
  if (patch.roles !== undefined) {
    return checkAssignments({ allLocations, locationIds, roles: patch.roles });
  }
  const remaining = new Set(locationIds);
  const roles = current.roles.map((role) => {
    if (role.locationIds === null || allLocations) return { roleId: role.roleId, locationIds: null };
    const kept = role.locationIds.filter((id) => remaining.has(id));
    if (kept.length === 0) {
      throw invalid(
        'location_ids',
        `role ${role.roleId} applies only at locations this change removes; send roles as well to say where it applies`,
      );
    }
    return { roleId: role.roleId, locationIds: kept };
  });
  return checkAssignments({ allLocations, locationIds, roles });
}

/** Did anything that decides permissions change? (Order does not matter.) */
export function assignmentsDiffer(a: Assignments, b: Assignments): boolean {
  return JSON.stringify(canonical(a)) !== JSON.stringify(canonical(b));
}

function canonical(a: Assignments) {
  return {
    allLocations: a.allLocations,
    locationIds: [...a.locationIds].sort(),
    roles: a.roles
      .map((r) => ({ roleId: r.roleId, locationIds: r.locationIds ? [...r.locationIds].sort() : null }))
      .sort((x, y) => x.roleId.localeCompare(y.roleId)),
  };
}

function invalid(field: string, message: string): DomainError {
  return new DomainError('invalid_assignments', message, { field });
}
