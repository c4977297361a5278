import type { Kysely } from 'kysely';
import { changedFields } from '../domain/audit-diff.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import { type LiveLocation, planLocationSync, type ProductLocation } from '../domain/location-sync.ts';
import type { Page, PageRequest } from '../domain/pagination.ts';
import { LocationRepository } from '../persistence/repositories/location-repository.ts';
import { OrganizationRepository } from '../persistence/repositories/organization-repository.ts';
import type { Database, Location } from '../persistence/schema.ts';
import { recordAudit } from './admin-actor.ts';
import { type LocationView, locationView } from './admin-views.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import {
  locationIdTaken,
  reKeyLocation,
  removeLocationFromAccounts,
  type StaleAccount,
  staleAccountEvent,
} from './location-changes.ts';
import { isUniqueViolation } from '../persistence/errors.ts';
import { actorFor, lockChangeableOrganization, type PlatformOperator } from './platform-service.ts';

export interface LocationSyncResult {
  summary: { created: number; updated: number; deleted: number; unchanged: number };
  created: LocationView[];
  updated: LocationView[];
  deleted: LocationView[];
  /** Accounts whose tokens became stale (a location deleted from under them, or re-keyed). */
  affected_service_account_ids: string[];
}

/**
 * The product's locations mirrored into an organization, keyed by the product's location id. A sync
 * writes only what differs: the same list twice changes nothing and records nothing. Each location
 * created, renamed, adopted or deleted is audited in the organization's trail as the operator's action
 * (so also in the platform audit list); a deleted location leaves the accounts placed at it, whose
 * tokens are refused at once (new permissions version: caches, the feed, /introspect).
 */
export class PlatformLocationService {
  readonly #db: Kysely<Database>;
  readonly #changes: ChangePublisher;
  constructor(db: Kysely<Database>, changes: ChangePublisher) {
    this.#db = db;
    this.#changes = changes;
  }

  async list(operator: PlatformOperator, orgId: string, page: PageRequest): Promise<Page<LocationView>> {
    if (!(await new OrganizationRepository(this.#db).findById(orgId))) {
      throw new NotFoundError('organization', orgId);
    }
    const result = await new LocationRepository(this.#db).listLivePage(orgId, page);
    await recordAudit(this.#db, actorFor(operator, orgId), {
      action: 'locations.read',
      targetType: 'organization',
      targetId: orgId,
    });
    return { items: result.items.map(locationView), next: result.next };
  }

  sync(
    operator: PlatformOperator,
    orgId: string,
    wanted: readonly ProductLocation[],
    mode: 'upsert' | 'replace',
  ): Promise<LocationSyncResult> {
    return refusingConcurrentConflicts(() =>
      transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
        await lockChangeableOrganization(trx, orgId);
        const locations = new LocationRepository(trx);
        const live = await locations.lockLive(orgId);
        const plan = planLocationSync(live.map(liveLocation), wanted, mode);
        refuseTakenKeys(live, plan, wanted);
        const actor = actorFor(operator, orgId);
        const stale = new Map<string, StaleAccount>();
        const result: LocationSyncResult = {
          summary: {
            created: plan.create.length,
            updated: plan.update.length,
            deleted: plan.delete.length,
            unchanged: plan.unchanged,
          },
          created: [],
          updated: [],
          deleted: [],
          affected_service_account_ids: [],
        };
        const byId = new Map(live.map((l) => [l.id, l]));

        for (const gone of plan.delete) {
          const affected = await removeLocationFromAccounts(trx, orgId, gone.id);
          await locations.softDelete(orgId, gone.id, new Date());
          const view = locationView(byId.get(gone.id)!);
          result.deleted.push(view);
          for (const account of affected) stale.set(account.id, account);
          await recordAudit(trx, actor, {
            action: 'location.deleted',
            targetType: 'location',
            targetId: gone.id,
            diff: {
              before: view,
              affected_service_account_ids: affected.map((a) => a.id),
              dropped_role_assignments: affected
                .filter((a) => a.droppedRoleIds.length > 0)
                .map((a) => ({ service_account_id: a.id, role_ids: a.droppedRoleIds })),
            },
          });
        }

        // Renames first step aside (each to its own id, unique by construction), so names can
        // move between locations within one sync without tripping the unique index on the way.
        for (const update of plan.update) {
          if (update.name !== update.before.name) {
            await locations.update(orgId, update.before.id, { name: update.before.id });
          }
        }
        for (const update of plan.update) {
          const before = byId.get(update.before.id)!;
          const after = (await locations.update(orgId, before.id, {
            name: update.name,
            external_id: update.externalId,
          }))!;
          const reKeyed =
            before.external_id !== update.externalId ? await reKeyLocation(trx, orgId, before.id) : [];
          for (const account of reKeyed) stale.set(account.id, account);
          const view = locationView(after);
          result.updated.push(view);
          await recordAudit(trx, actor, {
            action: 'location.updated',
            targetType: 'location',
            targetId: before.id,
            diff: {
              ...changedFields(locationView(before), view),
              ...(reKeyed.length > 0 ? { affected_service_account_ids: reKeyed.map((a) => a.id) } : {}),
            },
          });
        }

        for (const entry of plan.create) {
          const view = locationView(await locations.create(orgId, entry.name, entry.externalId));
          result.created.push(view);
          await recordAudit(trx, actor, {
            action: 'location.created',
            targetType: 'location',
            targetId: view.id,
            diff: { after: view },
          });
        }

        if (plan.create.length + plan.update.length + plan.delete.length > 0) {
          changed({ type: 'organization', orgId });
        }
        for (const account of stale.values()) changed(staleAccountEvent(orgId, account));
        result.affected_service_account_ids = [...stale.keys()].sort();
        return result;
      }),
    );
  }
}

/**
 * The plan checked names and ids against the rows it locked; a location created meanwhile through the
 * management API can still collide, and the unique indexes then refuse the whole sync: say what to do.
 */
async function refusingConcurrentConflicts<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (
      isUniqueViolation(error, 'locations_live_name') ||
      isUniqueViolation(error, 'locations_live_token_key')
    ) {
      throw new DomainError(
        'name_taken',
        'a location created at the same time took one of the listed names or ids; send the list again',
      );
    }
    throw error;
  }
}

function liveLocation(row: Location): LiveLocation {
  return { id: row.id, name: row.name, externalId: row.external_id };
}

/**
 * A product id that is another live location's svcauth id would make one token key name two
 * locations: refused, naming the entry, before anything is written (the unique index is the backstop).
 */
function refuseTakenKeys(
  live: readonly Location[],
  plan: ReturnType<typeof planLocationSync>,
  wanted: readonly ProductLocation[],
): void {
  const ids = new Map(live.map((l) => [l.id, l]));
  const keyed = [
    ...plan.create.map((c) => ({ externalId: c.externalId, locationId: null as string | null })),
    ...plan.update.map((u) => ({ externalId: u.externalId, locationId: u.before.id })),
  ];
  for (const { externalId, locationId } of keyed) {
    const holder = ids.get(externalId);
    if (holder && holder.id !== locationId) {
      const index = wanted.findIndex((w) => w.externalId === externalId);
      throw locationIdTaken(externalId, `locations[${index}].external_id`);
    }
  }
}
