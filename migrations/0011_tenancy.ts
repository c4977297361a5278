import { type Kysely, sql } from 'kysely';

/**
 * The platform tier's tenancy controls (issue 15).
 *
 * `api_entitled`: whether the product entitles the organization to the API module. Its admins' own
 * switch (`api_enabled`) opens the API only while it is entitled. Existing organizations stay
 * entitled, so nothing changes for them.
 *
 * `limit_*`: ceilings the operator sets on what the organization's admins may choose in their API
 * security settings (null: no ceiling). The settings stay within them: both sides' changes are
 * checked against the other.
 *
 * `organization_defaults`: one row, what a new organization starts with (settings, entitlement and
 * limits), set by the operator through the platform API. Its initial values are the columns' own
 * defaults, so organizations are made as before until an operator changes it.
 */
const CREDENTIAL_TYPES = sql`array['oauth_client','api_key','private_key_jwt']::text[]`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table organizations
      add column api_entitled boolean not null default true,
      add column limit_allowed_credential_types text[]
        check (limit_allowed_credential_types <@ ${CREDENTIAL_TYPES}
               and cardinality(limit_allowed_credential_types) > 0),
      add column limit_access_token_ttl_seconds integer
        check (limit_access_token_ttl_seconds between 60 and 3600),
      add column limit_max_credentials_per_account integer
        check (limit_max_credentials_per_account between 1 and 100),
      add column limit_max_credential_lifetime_seconds integer
        check (limit_max_credential_lifetime_seconds > 0)`.execute(db);

  await sql`
    create table organization_defaults (
      singleton boolean primary key default true check (singleton),
      api_entitled boolean not null default true,
      api_enabled boolean not null default true,
      allowed_credential_types text[] not null default '{oauth_client,api_key,private_key_jwt}'
        check (allowed_credential_types <@ ${CREDENTIAL_TYPES} and cardinality(allowed_credential_types) > 0),
      access_token_ttl_seconds integer not null default 300
        check (access_token_ttl_seconds between 60 and 3600),
      max_credentials_per_account integer not null default 10
        check (max_credentials_per_account between 1 and 100),
      max_credential_lifetime_seconds integer check (max_credential_lifetime_seconds > 0),
      limit_allowed_credential_types text[]
        check (limit_allowed_credential_types <@ ${CREDENTIAL_TYPES}
               and cardinality(limit_allowed_credential_types) > 0),
      limit_access_token_ttl_seconds integer
        check (limit_access_token_ttl_seconds between 60 and 3600),
      limit_max_credentials_per_account integer
        check (limit_max_credentials_per_account between 1 and 100),
      limit_max_credential_lifetime_seconds integer
        check (limit_max_credential_lifetime_seconds > 0),
      updated_at timestamptz not null default now()
    )`.execute(db);
  await sql`insert into organization_defaults default values`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists organization_defaults`.execute(db);
  await sql`
    alter table organizations
      drop column if exists limit_max_credential_lifetime_seconds,
      drop column if exists limit_max_credentials_per_account,
      drop column if exists limit_access_token_ttl_seconds,
      drop column if exists limit_allowed_credential_types,
      drop column if exists api_entitled`.execute(db);
}
