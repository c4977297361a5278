/**
 * What a change to a location does to the accounts placed at it, shared by the management API and the
 * platform API's location sync. Call inside the change's transaction; each returned account got a new
 * permissions version, so the caller announces it (tokens issued before are stale: the revocation
 * feed, the kit and /introspect refuse them at once).
 */
import type { Kysely } from 'kysely';
import { DomainError } from '../domain/errors.ts';
import { withoutLocation } from '../domain/location-sync.ts';
import { isUniqueViolation } from '../persistence/errors.ts';
import { LocationRepository } from '../persistence/repositories/location-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Database } from '../persistence/schema.ts';
import type { ChangeEvent } from '../state/change-notifier.ts';

export interface StaleAccount {
  id: string;
  permissionsVersion: number;
}

/**
 * The location's token key (its product id, or svcauth's id) changed: tokens of the accounts placed at
 * it name it by the old key, which could later name another location. They become stale.
 */
export async function reKeyLocation(
  trx: Kysely<Database>,
  orgId: string,
  locationId: string,
): Promise<StaleAccount[]> {
  const accounts = new ServiceAccountRepository(trx);
  const stale: StaleAccount[] = [];
  for (const id of await new LocationRepository(trx).liveAccountIdsAt(orgId, locationId)) {
    stale.push({ id, permissionsVersion: await accounts.bumpPermissionsVersion(orgId, id) });
  }
  return stale;
}

/**
 * The location is deleted from under the accounts placed at it (the product removed it): it leaves
 * each account, with its matrix ticks (see withoutLocation), and each account's tokens become stale.
 */
export async function removeLocationFromAccounts(
  trx: Kysely<Database>,
  orgId: string,
  locationId: string,
): Promise<Array<StaleAccount & { droppedRoleIds: string[] }>> {
  const accountIds = await new LocationRepository(trx).liveAccountIdsAt(orgId, locationId);
  if (accountIds.length === 0) return [];
  const accounts = new ServiceAccountRepository(trx);
  const stored = await accounts.loadAssignments(accountIds);
  const result: Array<StaleAccount & { droppedRoleIds: string[] }> = [];
  for (const id of accountIds) {
    const { droppedRoleIds, ...assignments } = withoutLocation(stored.get(id)!, locationId);
    const permissionsVersion = await accounts.replaceAssignments(orgId, id, assignments);
    result.push({ id, permissionsVersion, droppedRoleIds });
  }
  return result;
}

export function staleAccountEvent(orgId: string, stale: StaleAccount): ChangeEvent {
  return { type: 'account', orgId, accountId: stale.id, permissionsVersion: stale.permissionsVersion };
}

/** The refusal for a product location id another live location of the organization already answers to. */
export function locationIdTaken(externalId: string, field = 'external_id'): DomainError {
  return new DomainError(
    'location_id_taken',
    `another location of this organization already goes by "${externalId}" (as its external_id or its svcauth id); a location id names one location`,
    { field },
  );
}

/** Runs a write; the unique index on token keys refusing it becomes locationIdTaken. */
export async function withUniqueLocationKey<T>(externalId: () => string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUniqueViolation(error, 'locations_live_token_key')) throw locationIdTaken(externalId());
    throw error;
  }
}
