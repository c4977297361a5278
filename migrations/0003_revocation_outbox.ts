import { type Kysely, sql } from 'kysely';

/**
 * The transactional outbox of the revocation feed: each revocation's feed entry is written in the same
 * transaction as the revocation itself, so an acknowledged revocation is durable before anyone hears
 * of it. Any instance relays rows to the state store (in id order) and deletes them once written.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table revocation_outbox (
      id bigserial primary key,
      entry text not null,
      created_at timestamptz not null default now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists revocation_outbox`.execute(db);
}
