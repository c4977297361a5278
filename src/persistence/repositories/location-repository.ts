import type { Kysely } from 'kysely';
import type { Page, PageRequest } from '../../domain/pagination.ts';
import { fetchPage } from '../pagination.ts';
import type { Database, Location } from '../schema.ts';

export class LocationRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(orgId: string, name: string, externalId: string | null = null): Promise<Location> {
    return this.#db
      .insertInto('locations')
      .values({ org_id: orgId, name, external_id: externalId })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  listLive(orgId: string): Promise<Location[]> {
    return this.#db
      .selectFrom('locations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
  }

  findLive(orgId: string, id: string): Promise<Location | undefined> {
    return this.#db
      .selectFrom('locations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
  }

  async findLiveByIds(orgId: string, ids: readonly string[]): Promise<Location[]> {
    if (ids.length === 0) return [];
    return this.#db
      .selectFrom('locations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', 'in', [...ids])
      .where('deleted_at', 'is', null)
      .execute();
  }

  async findLiveByNames(orgId: string, names: readonly string[]): Promise<Location[]> {
    if (names.length === 0) return [];
    return this.#db
      .selectFrom('locations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where((eb) =>
        eb(
          eb.fn('lower', ['name']),
          'in',
          names.map((n) => n.toLowerCase()),
        ),
      )
      .where('deleted_at', 'is', null)
      .execute();
  }

  findLiveByName(orgId: string, name: string): Promise<Location | undefined> {
    return this.#db
      .selectFrom('locations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
  }

  /** Live locations in creation order. */
  async listLivePage(orgId: string, page: PageRequest): Promise<Page<Location>> {
    const query = this.#db
      .selectFrom('locations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('deleted_at', 'is', null);
    return fetchPage(query, 'locations', page);
  }

  update(
    orgId: string,
    id: string,
    update: { name?: string; external_id?: string | null },
  ): Promise<Location | undefined> {
    return this.#db
      .updateTable('locations')
      .set(update)
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }

  softDelete(orgId: string, id: string, at: Date): Promise<Location | undefined> {
    return this.#db
      .updateTable('locations')
      .set({ deleted_at: at })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  }

  /** Live locations in creation order, locked for a sync: concurrent syncs of one organization queue. */
  lockLive(orgId: string): Promise<Location[]> {
    return this.#db
      .selectFrom('locations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .forUpdate()
      .execute();
  }

  /** Live locations of these product ids. */
  async findLiveByExternalIds(orgId: string, externalIds: readonly string[]): Promise<Location[]> {
    if (externalIds.length === 0) return [];
    return this.#db
      .selectFrom('locations')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('external_id', 'in', [...externalIds])
      .where('deleted_at', 'is', null)
      .execute();
  }

  /** The live (not archived) accounts placed at the location, by id. */
  async liveAccountIdsAt(orgId: string, id: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('service_account_locations as sal')
      .innerJoin('service_accounts as sa', 'sa.id', 'sal.service_account_id')
      .select('sa.id')
      .where('sal.org_id', '=', orgId)
      .where('sal.location_id', '=', id)
      .where('sa.archived_at', 'is', null)
      .orderBy('sa.id')
      .execute();
    return rows.map((r) => r.id);
  }

  /** How many live (not archived) service accounts are placed at the location. */
  async countLiveAccountsAt(orgId: string, id: string): Promise<number> {
    const { count } = await this.#db
      .selectFrom('service_account_locations as sal')
      .innerJoin('service_accounts as sa', 'sa.id', 'sal.service_account_id')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('sal.org_id', '=', orgId)
      .where('sal.location_id', '=', id)
      .where('sa.archived_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(count);
  }
}
