import type { Kysely } from 'kysely';
import type { Page, PageRequest } from '../../domain/pagination.ts';
import { fetchPage } from '../pagination.ts';
import type { Database, Location } from '../schema.ts';

export class LocationRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(orgId: string, name: string): Promise<Location> {
    return this.#db
      .insertInto('locations')
      .values({ org_id: orgId, name })
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

  rename(orgId: string, id: string, name: string): Promise<Location | undefined> {
    return this.#db
      .updateTable('locations')
      .set({ name })
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
