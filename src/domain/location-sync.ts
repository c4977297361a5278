/**
 * Mirroring the product's locations (platform API): what a sync changes, decided from the live
 * locations and the product's list, keyed by the product's location id. Pure: the service loads the
 * rows, this plans, the repository writes the plan.
 */
import { DomainError } from './errors.ts';

export interface LiveLocation {
  id: string;
  name: string;
  /** The product's id; null for a location svcauth alone knows (made through the management API). */
  externalId: string | null;
}

export interface ProductLocation {
  externalId: string;
  name: string;
}

export interface LocationSyncPlan {
  create: ProductLocation[];
  /** Renamed, or adopted: a location without a product id, of the same name, gets the product's id. */
  update: Array<{ before: LiveLocation; name: string; externalId: string }>;
  delete: LiveLocation[];
  unchanged: number;
}

/**
 * `upsert` creates and renames; `replace` (full-set sync) also deletes every live location carrying a
 * product id the list leaves out. Locations without a product id are never deleted by a sync: they
 * are the organization's own (made by its admins), not the product's. A listed location whose name
 * is that of a live location without a product id adopts it (so a product migrating to synced
 * locations keeps the accounts placed at them). Input the plan cannot apply is refused whole, naming
 * the entry at fault, before anything is written.
 */
export function planLocationSync(
  live: readonly LiveLocation[],
  wanted: readonly ProductLocation[],
  mode: 'upsert' | 'replace',
): LocationSyncPlan {
  const seenIds = new Map<string, number>();
  const seenNames = new Map<string, number>();
  wanted.forEach((entry, index) => {
    const sameId = seenIds.get(entry.externalId);
    if (sameId !== undefined) {
      throw invalid(
        `locations[${index}].external_id`,
        `external_id "${entry.externalId}" is listed twice (entries ${sameId} and ${index}); list each location once`,
      );
    }
    seenIds.set(entry.externalId, index);
    const sameName = seenNames.get(entry.name.toLowerCase());
    if (sameName !== undefined) {
      throw invalid(
        `locations[${index}].name`,
        `the name "${entry.name}" is listed twice (entries ${sameName} and ${index}); location names are unique in an organization`,
      );
    }
    seenNames.set(entry.name.toLowerCase(), index);
  });

  const byExternalId = new Map(live.flatMap((l) => (l.externalId === null ? [] : [[l.externalId, l]])));
  const unmanagedByName = new Map(
    live.flatMap((l) => (l.externalId === null ? [[l.name.toLowerCase(), l]] : [])),
  );
  const plan: LocationSyncPlan = { create: [], update: [], delete: [], unchanged: 0 };
  for (const entry of wanted) {
    const known = byExternalId.get(entry.externalId);
    if (known) {
      if (known.name === entry.name) plan.unchanged += 1;
      else plan.update.push({ before: known, name: entry.name, externalId: entry.externalId });
      continue;
    }
    const sameName = unmanagedByName.get(entry.name.toLowerCase());
    if (sameName) {
      plan.update.push({ before: sameName, name: entry.name, externalId: entry.externalId });
      continue;
    }
    plan.create.push(entry);
  }
  if (mode === 'replace') {
    plan.delete = live.filter((l) => l.externalId !== null && !seenIds.has(l.externalId));
  }

  // Every name the organization's live locations would carry afterwards must still be unique.
  const deleted = new Set(plan.delete.map((l) => l.id));
  const updated = new Map(plan.update.map((u) => [u.before.id, u]));
  const after = [
    ...live
      .filter((l) => !deleted.has(l.id))
      .map((l) => {
        const update = updated.get(l.id);
        return update
          ? { name: update.name, externalId: update.externalId, listed: true }
          : { name: l.name, externalId: l.externalId, listed: false };
      }),
    ...plan.create.map((c) => ({ name: c.name, externalId: c.externalId, listed: true })),
  ];
  const byFinalName = new Map<string, (typeof after)[number]>();
  for (const location of after) {
    const other = byFinalName.get(location.name.toLowerCase());
    byFinalName.set(location.name.toLowerCase(), location);
    if (!other) continue;
    const [entry, kept] = location.listed ? [location, other] : [other, location];
    throw new DomainError(
      'name_taken',
      `the name "${entry.name}" (external_id "${entry.externalId}") is that of another location` +
        `${kept.externalId ? ` (external_id "${kept.externalId}")` : ''}, which this sync keeps; rename or remove that one in the same list`,
      { field: `locations[${seenIds.get(entry.externalId!)}].name` },
    );
  }
  return plan;
}

/**
 * The matrix after a location is deleted from under an account: the location leaves the account, and
 * so do ticks at it. A role ticked only there would otherwise fall back to "all the account's
 * locations" (no ticks means all): it is dropped from the account instead, since it granted nothing
 * anywhere else.
 */
export function withoutLocation(
  assignments: {
    locationIds: readonly string[];
    roles: ReadonlyArray<{ roleId: string; restrictedTo: readonly string[] | null }>;
  },
  locationId: string,
): {
  locationIds: string[];
  roles: Array<{ roleId: string; restrictedTo: string[] | null }>;
  droppedRoleIds: string[];
} {
  const droppedRoleIds: string[] = [];
  const roles: Array<{ roleId: string; restrictedTo: string[] | null }> = [];
  for (const role of assignments.roles) {
    if (role.restrictedTo === null) {
      roles.push({ roleId: role.roleId, restrictedTo: null });
      continue;
    }
    const kept = role.restrictedTo.filter((id) => id !== locationId);
    if (kept.length === 0) droppedRoleIds.push(role.roleId);
    else roles.push({ roleId: role.roleId, restrictedTo: kept });
  }
  return { locationIds: assignments.locationIds.filter((id) => id !== locationId), roles, droppedRoleIds };
}

function invalid(field: string, message: string): DomainError {
  return new DomainError('invalid_location_sync', message, { field });
}
