import { type Kysely, sql } from 'kysely';

/**
 * The whole domain model of DESIGN.md. Tenancy is enforced by the database itself: every child row
 * carries org_id and references its parent through (org_id, id), so a buggy caller cannot link an
 * account to another organization's role or location.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table organizations (
      id uuid primary key default gen_random_uuid(),
      slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
      name text not null check (length(name) between 1 and 200),
      api_enabled boolean not null default true,
      allowed_credential_types text[] not null default '{oauth_client,api_key,private_key_jwt}'
        check (allowed_credential_types <@ array['oauth_client','api_key','private_key_jwt']::text[]),
      access_token_ttl_seconds integer not null default 300
        check (access_token_ttl_seconds between 60 and 3600),
      max_credentials_per_account integer not null default 10
        check (max_credentials_per_account between 1 and 100),
      max_credential_lifetime_seconds integer check (max_credential_lifetime_seconds > 0),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`.execute(db);

  await sql`
    create table locations (
      id uuid primary key default gen_random_uuid(),
      org_id uuid not null references organizations (id) on delete cascade,
      name text not null check (length(name) between 1 and 200),
      created_at timestamptz not null default now(),
      deleted_at timestamptz,
      unique (org_id, id)
    )`.execute(db);
  await sql`create unique index locations_live_name on locations (org_id, lower(name)) where deleted_at is null`.execute(
    db,
  );

  await sql`
    create table roles (
      id uuid primary key default gen_random_uuid(),
      org_id uuid not null references organizations (id) on delete cascade,
      name text not null check (length(name) between 1 and 200),
      description text not null default '' check (length(description) <= 2000),
      permissions text[] not null default '{}'
        check (array_to_string(permissions, ' ') ~ '^([a-z][a-z_]*:[a-z][a-z_]*( |$))*$'),
      assignable_to_service_accounts boolean not null default true,
      is_system boolean not null default false,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz,
      unique (org_id, id)
    )`.execute(db);
  await sql`create unique index roles_live_name on roles (org_id, lower(name)) where deleted_at is null`.execute(
    db,
  );

  await sql`
    create table service_accounts (
      id uuid primary key default gen_random_uuid(),
      org_id uuid not null references organizations (id) on delete cascade,
      name text not null check (length(name) between 1 and 200),
      description text not null default '' check (length(description) <= 2000),
      is_protected boolean not null default false,
      groups_admin boolean not null default false,
      all_locations boolean not null default false,
      -- Bumped by every change to roles, locations or the matrix; tokens carry it so stale ones are refused.
      permissions_version integer not null default 1 check (permissions_version > 0),
      created_by_account_id uuid,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      archived_at timestamptz,
      unique (org_id, id),
      check (not (is_protected and archived_at is not null))
    )`.execute(db);
  await sql`create unique index service_accounts_live_name on service_accounts (org_id, lower(name)) where archived_at is null`.execute(
    db,
  );
  await sql`create unique index service_accounts_one_protected on service_accounts (org_id) where is_protected`.execute(
    db,
  );

  await sql`
    create table service_account_locations (
      org_id uuid not null,
      service_account_id uuid not null,
      location_id uuid not null,
      primary key (service_account_id, location_id),
      foreign key (org_id, service_account_id) references service_accounts (org_id, id) on delete cascade,
      foreign key (org_id, location_id) references locations (org_id, id) on delete cascade
    )`.execute(db);

  await sql`
    create table service_account_roles (
      org_id uuid not null,
      service_account_id uuid not null,
      role_id uuid not null,
      primary key (service_account_id, role_id),
      foreign key (org_id, service_account_id) references service_accounts (org_id, id) on delete cascade,
      foreign key (org_id, role_id) references roles (org_id, id) on delete cascade
    )`.execute(db);

  // The role x location matrix: rows restrict a role to some of the account's locations. A role
  // without rows applies at all of them. Both references make a tick outside the account impossible.
  await sql`
    create table service_account_role_locations (
      org_id uuid not null,
      service_account_id uuid not null,
      role_id uuid not null,
      location_id uuid not null,
      primary key (service_account_id, role_id, location_id),
      foreign key (service_account_id, role_id)
        references service_account_roles (service_account_id, role_id) on delete cascade,
      foreign key (service_account_id, location_id)
        references service_account_locations (service_account_id, location_id) on delete cascade,
      foreign key (org_id, service_account_id) references service_accounts (org_id, id) on delete cascade
    )`.execute(db);

  await sql`
    create table credentials (
      id uuid primary key default gen_random_uuid(),
      org_id uuid not null,
      service_account_id uuid not null,
      type text not null check (type in ('oauth_client', 'api_key', 'private_key_jwt')),
      name text not null check (length(name) between 1 and 200),
      -- The public identifier: OAuth client id, or the key id embedded in an API key.
      client_id text not null unique check (length(client_id) between 8 and 100),
      secret_hash text check (secret_hash ~ '^\\$2[aby]\\$[0-9]{2}\\$.{53}$'),
      -- A regenerated secret's predecessor, accepted until previous_secret_expires_at.
      previous_secret_hash text check (previous_secret_hash ~ '^\\$2[aby]\\$[0-9]{2}\\$.{53}$'),
      previous_secret_expires_at timestamptz,
      jwks jsonb,
      display_hint text not null default '',
      lineage_id uuid not null,
      slot text not null default 'primary' check (slot in ('primary', 'secondary')),
      is_legacy boolean not null default false,
      created_by_account_id uuid,
      created_by_credential_id uuid,
      created_at timestamptz not null default now(),
      expires_at timestamptz,
      revoked_at timestamptz,
      revoked_reason text,
      last_used_at timestamptz,
      last_used_ip text,
      unique (org_id, id),
      foreign key (org_id, service_account_id) references service_accounts (org_id, id) on delete cascade,
      check ((type = 'private_key_jwt') = (jwks is not null)),
      check ((type = 'private_key_jwt') = (secret_hash is null)),
      check ((previous_secret_hash is null) = (previous_secret_expires_at is null)),
      check (expires_at is null or expires_at > created_at),
      check (revoked_at is null or revoked_at >= created_at)
    )`.execute(db);
  await sql`create index credentials_account on credentials (service_account_id)`.execute(db);
  await sql`create unique index credentials_live_slot on credentials (lineage_id, slot) where revoked_at is null`.execute(
    db,
  );

  await sql`
    create table audit_events (
      id bigint generated always as identity primary key,
      org_id uuid references organizations (id) on delete cascade,
      occurred_at timestamptz not null default now(),
      actor_account_id uuid,
      actor_credential_id uuid,
      action text not null check (length(action) between 1 and 100),
      outcome text not null default 'success' check (outcome in ('success', 'failure')),
      target_type text,
      target_id text,
      diff jsonb,
      source_ip text,
      request_id text
    )`.execute(db);
  await sql`create index audit_events_org on audit_events (org_id, id desc)`.execute(db);
  await sql`create index audit_events_target on audit_events (org_id, target_id, id desc)`.execute(db);
  await sql`create index audit_events_actor on audit_events (org_id, actor_account_id, id desc)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'audit_events',
    'credentials',
    'service_account_role_locations',
    'service_account_roles',
    'service_account_locations',
    'service_accounts',
    'roles',
    'locations',
    'organizations',
  ]) {
    await sql`drop table if exists ${sql.table(table)}`.execute(db);
  }
}
