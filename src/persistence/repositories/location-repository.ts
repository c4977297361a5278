import type { Kysely } from 'kysely';
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
}
