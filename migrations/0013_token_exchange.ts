import { type Kysely, sql } from 'kysely';

/**
 * People act through the product (issue 16, RFC 8693 token exchange).
 *
 * `delegations`: the credentials the platform operator allows to exchange a product-signed subject
 * token for a person's management token, with the most they may hand on. Kept per credential
 * lineage, so a rotation (a new primary in the same lineage) keeps the permission and the rotated-out
 * credential loses it when it is revoked. Withdrawing deletes the row (the audit trail keeps it).
 *
 * Audit events name their actor whatever its kind: `actor_kind` (person, service_account, operator,
 * system), `actor_id` (the person's id in the product, the account id, the operator name),
 * `actor_display_name` as it was then, and `actor_client_id`: the delegating client of a person.
 * Events written before this migration have no kind; the views derive it as before.
 *
 * `created_by_actor` on accounts and credentials: the same snapshot ({kind, id, display_name,
 * client_id}) of whoever created the row, so "created by" can show a person, who has no row here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table delegations (
      id uuid primary key default gen_random_uuid(),
      org_id uuid not null references organizations (id) on delete cascade,
      credential_id uuid not null,
      lineage_id uuid not null unique,
      max_permissions text[] not null
        check (cardinality(max_permissions) > 0
          and array_to_string(max_permissions, ' ') ~ '^([a-z][a-z_]*:[a-z][a-z_]*( |$))*$'),
      created_by_operator text not null check (length(created_by_operator) between 1 and 64),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      foreign key (org_id, credential_id) references credentials (org_id, id) on delete cascade
    )`.execute(db);

  await sql`
    alter table audit_events
      add column actor_kind text check (actor_kind in ('person', 'service_account', 'operator', 'system')),
      add column actor_id text check (length(actor_id) between 1 and 200),
      add column actor_display_name text check (length(actor_display_name) <= 200),
      add column actor_client_id text check (length(actor_client_id) <= 100)`.execute(db);
  await sql`create index audit_events_actor_id on audit_events (org_id, actor_id, id desc) where actor_id is not null`.execute(
    db,
  );

  await sql`alter table service_accounts add column created_by_actor jsonb`.execute(db);
  await sql`alter table credentials add column created_by_actor jsonb`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table credentials drop column if exists created_by_actor`.execute(db);
  await sql`alter table service_accounts drop column if exists created_by_actor`.execute(db);
  await sql`drop index if exists audit_events_actor_id`.execute(db);
  await sql`
    alter table audit_events
      drop column if exists actor_client_id,
      drop column if exists actor_display_name,
      drop column if exists actor_id,
      drop column if exists actor_kind`.execute(db);
  await sql`drop table if exists delegations`.execute(db);
}
