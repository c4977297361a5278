import { type Kysely, sql } from 'kysely';

/**
 * An outbox row also carries the change event (ChangeEvent, as JSON) its revocation was announced
 * with: the instance that commits may reach Postgres but not Redis (a partition), so its announcement
 * reaches no other instance. Whichever instance relays the row announces the change again, and every
 * instance's caches drop what they hold about it within the relay interval. Null for rows without a
 * change (a token revoked through POST /revoke concerns no cache) and rows written before this.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table revocation_outbox add column change text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table revocation_outbox drop column if exists change`.execute(db);
}
