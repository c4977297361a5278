import { type Kysely, sql } from 'kysely';
import type { Logger } from '../logging/logger.ts';
import type { Database } from './schema.ts';

/** How often collected usage reaches the database: well inside the promised minute. */
export const USAGE_FLUSH_INTERVAL_MS = 15_000;

/**
 * Keeps `last_used_at` / `last_used_ip` of credentials within a minute of the truth without a database
 * write per token: uses are collected in memory (latest per credential) and written in one statement
 * per interval. Several instances write independently; the newest timestamp wins.
 */
export class UsageRecorder {
  readonly #db: Kysely<Database>;
  readonly #logger: Logger;
  #pending = new Map<string, { at: Date; ip: string | null }>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(db: Kysely<Database>, logger: Logger, intervalMs = USAGE_FLUSH_INTERVAL_MS) {
    this.#db = db;
    this.#logger = logger;
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  /**
   * A use without an address (an API key checked at /introspect, where the caller is a resource
   * server) moves last_used_at and keeps the last address seen.
   */
  record(credentialId: string, ip: string | null, at: Date = new Date()): void {
    this.#pending.set(credentialId, { at, ip: ip ?? this.#pending.get(credentialId)?.ip ?? null });
  }

  /** Writes what has been collected; a failed write keeps the entries for the next attempt. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write());
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    const rows = [...batch].map(
      ([id, { at, ip }]) => sql`(${id}::uuid, ${at.toISOString()}::timestamptz, ${ip}::text)`,
    );
    try {
      await sql`
        update credentials as c
        set last_used_at = u.at, last_used_ip = coalesce(u.ip, c.last_used_ip)
        from (values ${sql.join(rows)}) as u(id, at, ip)
        where c.id = u.id and (c.last_used_at is null or c.last_used_at < u.at)`.execute(this.#db);
    } catch (error) {
      for (const [id, usage] of batch) if (!this.#pending.has(id)) this.#pending.set(id, usage);
      this.#logger.warn(
        { err: error, credentials: batch.size },
        'could not record credential usage; will retry',
      );
    }
  }
}
