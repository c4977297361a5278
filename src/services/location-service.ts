import type { Kysely } from 'kysely';
import { changedFields, hasChanges } from '../domain/audit-diff.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import type { Page, PageRequest } from '../domain/pagination.ts';
import { LocationRepository } from '../persistence/repositories/location-repository.ts';
import type { Database } from '../persistence/schema.ts';
import { type AdminActor, recordAudit } from './admin-actor.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import { nameTakenError, withUniqueLiveName } from './unique-names.ts';
import { type LocationView, locationView } from './admin-views.ts';
import { reKeyLocation, staleAccountEvent, withUniqueLocationKey } from './location-changes.ts';

export class LocationService {
  readonly #db: Kysely<Database>;
  readonly #changes: ChangePublisher;
  constructor(db: Kysely<Database>, changes: ChangePublisher) {
    this.#db = db;
    this.#changes = changes;
  }

  async list(actor: AdminActor, page: PageRequest): Promise<Page<LocationView>> {
    const result = await new LocationRepository(this.#db).listLivePage(actor.orgId, page);
    return { items: result.items.map(locationView), next: result.next };
  }

  async get(actor: AdminActor, id: string): Promise<LocationView> {
    const row = await new LocationRepository(this.#db).findLive(actor.orgId, id);
    if (!row) throw new NotFoundError('location', id);
    return locationView(row);
  }

  create(
    actor: AdminActor,
    input: { name: string; external_id?: string | null | undefined },
  ): Promise<LocationView> {
    const externalId = input.external_id ?? null;
    return withNameCheck(input.name, externalId, () =>
      this.#db.transaction().execute(async (trx) => {
        const locations = new LocationRepository(trx);
        if (await locations.findLiveByName(actor.orgId, input.name)) throw nameTaken(input.name);
        const view = locationView(await locations.create(actor.orgId, input.name, externalId));
        await recordAudit(trx, actor, {
          action: 'location.created',
          targetType: 'location',
          targetId: view.id,
          diff: { after: view },
        });
        return view;
      }),
    );
  }

  /**
   * Renames, or gives (changes, removes with null) the product's id. A new id changes the key tokens
   * name the location by, so tokens of the accounts placed there become stale.
   */
  update(
    actor: AdminActor,
    id: string,
    input: { name?: string | undefined; external_id?: string | null | undefined },
  ): Promise<LocationView> {
    return withNameCheck(input.name ?? '', input.external_id ?? null, () =>
      transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
        const locations = new LocationRepository(trx);
        const before = await locations.findLive(actor.orgId, id);
        if (!before) throw new NotFoundError('location', id);
        const update: { name?: string; external_id?: string | null } = {};
        if (input.name !== undefined && input.name !== before.name) update.name = input.name;
        if (input.external_id !== undefined && input.external_id !== before.external_id) {
          update.external_id = input.external_id;
        }
        if (Object.keys(update).length === 0) return locationView(before);
        if (update.name !== undefined) {
          const sameName = await locations.findLiveByName(actor.orgId, update.name);
          if (sameName && sameName.id !== id) throw nameTaken(update.name);
        }
        const after = locationView((await locations.update(actor.orgId, id, update))!);
        const stale = 'external_id' in update ? await reKeyLocation(trx, actor.orgId, id) : [];
        const diff = changedFields(locationView(before), after);
        if (hasChanges(diff)) {
          await recordAudit(trx, actor, {
            action: 'location.updated',
            targetType: 'location',
            targetId: id,
            diff: {
              ...diff,
              ...(stale.length > 0 ? { affected_service_account_ids: stale.map((a) => a.id) } : {}),
            },
          });
        }
        if (stale.length > 0) changed({ type: 'organization', orgId: actor.orgId });
        for (const account of stale) changed(staleAccountEvent(actor.orgId, account));
        return after;
      }),
    );
  }

  /**
   * A location still holding live accounts is not deleted: those accounts would silently lose the
   * permissions they hold there. Move or archive them first.
   */
  delete(actor: AdminActor, id: string): Promise<void> {
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const locations = new LocationRepository(trx);
      const location = await locations.findLive(actor.orgId, id);
      if (!location) throw new NotFoundError('location', id);
      const inUse = await locations.countLiveAccountsAt(actor.orgId, id);
      if (inUse > 0) {
        throw new DomainError(
          'location_in_use',
          `${inUse} service account${inUse === 1 ? ' is' : 's are'} placed at this location; remove it from ${inUse === 1 ? 'that account' : 'those accounts'} first`,
          { accounts: inUse },
        );
      }
      await locations.softDelete(actor.orgId, id, new Date());
      await recordAudit(trx, actor, {
        action: 'location.deleted',
        targetType: 'location',
        targetId: id,
        diff: { before: locationView(location) },
      });
      changed({ type: 'organization', orgId: actor.orgId });
    });
  }
}

function nameTaken(name: string): DomainError {
  return nameTakenError('a location', name);
}

function withNameCheck<T>(name: string, externalId: string | null, work: () => Promise<T>): Promise<T> {
  return withUniqueLiveName(
    'locations_live_name',
    () => nameTaken(name),
    () => withUniqueLocationKey(() => externalId ?? '', work),
  );
}
