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

  create(actor: AdminActor, input: { name: string }): Promise<LocationView> {
    return withNameCheck(input.name, () =>
      this.#db.transaction().execute(async (trx) => {
        const locations = new LocationRepository(trx);
        if (await locations.findLiveByName(actor.orgId, input.name)) throw nameTaken(input.name);
        const view = locationView(await locations.create(actor.orgId, input.name));
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

  update(actor: AdminActor, id: string, input: { name?: string | undefined }): Promise<LocationView> {
    return withNameCheck(input.name ?? '', () =>
      this.#db.transaction().execute(async (trx) => {
        const locations = new LocationRepository(trx);
        const before = await locations.findLive(actor.orgId, id);
        if (!before) throw new NotFoundError('location', id);
        if (input.name === undefined || input.name === before.name) return locationView(before);
        const sameName = await locations.findLiveByName(actor.orgId, input.name);
        if (sameName && sameName.id !== id) throw nameTaken(input.name);
        const after = locationView((await locations.rename(actor.orgId, id, input.name))!);
        const diff = changedFields(locationView(before), after);
        if (hasChanges(diff)) {
          await recordAudit(trx, actor, {
            action: 'location.updated',
            targetType: 'location',
            targetId: id,
            diff,
          });
        }
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

function withNameCheck<T>(name: string, work: () => Promise<T>): Promise<T> {
  return withUniqueLiveName('locations_live_name', () => nameTaken(name), work);
}
