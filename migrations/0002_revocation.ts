import { type Kysely, sql } from 'kysely';

/**
 * What the revocation feed is rebuilt from when the state store comes back empty (Postgres is the
 * source of truth): when each account's permissions last changed, and the access tokens revoked through
 * POST /revoke (kept until they expire). Revoked credentials and disabled organizations are already
 * recorded by credentials.revoked_at and organizations.api_enabled.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table service_accounts add column permissions_changed_at timestamptz`.execute(db);
  await sql`
    create index service_accounts_permissions_changed on service_accounts (permissions_changed_at)
    where permissions_changed_at is not null`.execute(db);
  await sql`create index credentials_revoked on credentials (revoked_at) where revoked_at is not null`.execute(
    db,
  );
  await sql`
    create table revoked_tokens (
      jti text primary key check (length(jti) between 1 and 256),
      org_id uuid not null references organizations (id) on delete cascade,
      client_id text not null,
      expires_at timestamptz not null,
      revoked_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index revoked_tokens_expiry on revoked_tokens (expires_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists revoked_tokens`.execute(db);
  await sql`drop index if exists credentials_revoked`.execute(db);
  await sql`drop index if exists service_accounts_permissions_changed`.execute(db);
  await sql`alter table service_accounts drop column if exists permissions_changed_at`.execute(db);
}
