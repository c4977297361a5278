import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.ts';

export interface OutboxRow {
  id: string;
  entry: string;
  /** The change event announced with the revocation, as JSON, or null (see migration 0009). */
  change: string | null;
}

/** A feed entry to relay, and the change event whose announcement the relaying instance repeats. */
export interface OutboxItem {
  entry: object;
  change?: object;
}

/** Any constant unique to this lock: only one instance relays the outbox at a time, in id order. */
const RELAY_LOCK = 7_340_112_003;

/**
 * The revocation feed's transactional outbox (migration 0003). `add` runs on the caller's transaction,
 * next to the revocation it describes; `relay` hands rows to a writer in id order and deletes those it
 * wrote, under a lock that makes instances take turns (a second relay skips, it would only duplicate).
 */
export class RevocationOutboxRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Stores each entry (and change) as a JSON document; the outbox relays them as they are. */
  async add(items: readonly OutboxItem[]): Promise<void> {
    if (items.length === 0) return;
    await this.#db
      .insertInto('revocation_outbox')
      .values(
        items.map(({ entry, change }) => ({
          entry: JSON.stringify(entry),
          change: change === undefined ? null : JSON.stringify(change),
        })),
      )
      .execute();
  }

  /** The id of the oldest row waiting to be relayed, or null (one cheap query for the poll). */
  async oldestPendingId(): Promise<string | null> {
    const row = await this.#db
      .selectFrom('revocation_outbox')
      .select('id')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    return row?.id ?? null;
  }

  /**
   * Passes up to `limit` rows, oldest first, to `write`, stopping at its first failure, and deletes the
   * rows written, all in one transaction. A crash after a write and before the commit relays those rows
   * again (consumers apply an entry twice harmlessly). Returns null when another instance holds the
   * relay, else how many rows were written, whether a write failed (the rest wait for the next try)
   * and whether rows may be left.
   */
  async relay(
    limit: number,
    write: (row: OutboxRow) => Promise<void>,
  ): Promise<{ written: number; failed: unknown; more: boolean } | null> {
    return this.#db.transaction().execute(async (trx) => {
      const { rows } = await sql<{
        locked: boolean;
      }>`select pg_try_advisory_xact_lock(${RELAY_LOCK}::bigint) as locked`.execute(trx);
      if (!rows[0]?.locked) return null;
      const pending = await trx
        .selectFrom('revocation_outbox')
        .select(['id', 'entry', 'change'])
        .orderBy('id')
        .limit(limit)
        .execute();
      const written: string[] = [];
      let failure: unknown = null;
      for (const row of pending) {
        try {
          await write(row);
        } catch (error) {
          failure = error;
          break;
        }
        written.push(row.id);
      }
      if (written.length > 0) await trx.deleteFrom('revocation_outbox').where('id', 'in', written).execute();
      return { written: written.length, failed: failure, more: failure !== null || pending.length === limit };
    });
  }
}
