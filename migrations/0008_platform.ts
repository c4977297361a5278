import { type Kysely, sql } from 'kysely';

/**
 * The platform tier (issue 15): organizations made by the product through /platform/v1 carry the
 * product's own tenant id (`external_id`, unique, so creation is idempotent on it) and a status the
 * operator controls: `suspended` refuses every token of the organization until resumed, `archived`
 * (delete) has revoked every credential and keeps the rows and the audit trail.
 *
 * Audit events done by an operator through the platform API name the operator (OPERATORS entry name):
 * `actor_operator`. The platform audit list reads those rows, across organizations.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table organizations
      add column external_id text unique check (length(external_id) between 1 and 200),
      add column status text not null default 'active'
        check (status in ('active', 'suspended', 'archived')),
      add column status_changed_at timestamptz`.execute(db);
  await sql`
    alter table audit_events
      add column actor_operator text check (length(actor_operator) between 1 and 64)`.execute(db);
  await sql`create index audit_events_operator on audit_events (id desc) where actor_operator is not null`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists audit_events_operator`.execute(db);
  await sql`alter table audit_events drop column if exists actor_operator`.execute(db);
  await sql`
    alter table organizations
      drop column if exists status_changed_at,
      drop column if exists status,
      drop column if exists external_id`.execute(db);
}
