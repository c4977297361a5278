import { type Kysely, sql } from 'kysely';

/**
 * Deployment credentials made through the platform API (issue 15: every CLI operation has an API
 * equivalent): resource servers (callers of /introspect and /revocations) and platform operators
 * (callers of /platform/v1), beside the ones listed in RESOURCE_SERVERS and OPERATORS. Like those, a
 * row keeps only the SHA-256 of a 190-bit random secret. A name is unique among the live ones of its
 * kind; a revoked row stays for the record.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table deployment_credentials (
      id uuid primary key default gen_random_uuid(),
      kind text not null check (kind in ('resource_server', 'operator')),
      name text not null check (name ~ '^[A-Za-z0-9._-]{1,64}$'),
      secret_sha256 bytea not null check (length(secret_sha256) = 32),
      created_by_operator text not null check (length(created_by_operator) between 1 and 64),
      created_at timestamptz not null default now(),
      revoked_by_operator text check (length(revoked_by_operator) between 1 and 64),
      revoked_at timestamptz
    )`.execute(db);
  await sql`
    create unique index deployment_credentials_live_name on deployment_credentials (kind, name)
      where revoked_at is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists deployment_credentials`.execute(db);
}
