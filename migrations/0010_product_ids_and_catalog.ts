import { type Kysely, sql } from 'kysely';

/**
 * The product's own ids and permission catalog (issue 15).
 *
 * Locations may carry the product's location id (`external_id`): the platform API mirrors the
 * product's locations by it, and tokens key a location's permissions by it instead of svcauth's UUID.
 * A location's token key is therefore `coalesce(external_id, id::text)`; the unique index makes that
 * key name exactly one live location of its organization, so a product id can never be read as
 * another location's svcauth id (and `*`, the org-wide key, is no location's key).
 *
 * The product permissions are rows of `permission_catalog`, owned by the deployment (PERMISSIONS_FILE
 * at start, the platform API at run time), each with a description for the console. Management
 * permissions stay fixed in code and are never rows here. The catalog starts with the permissions
 * config/permissions.ts listed until now, so roles already holding them keep working.
 */
const NAME_SHAPE = '^[a-z][a-z_]*:[a-z][a-z_]*$';

const SAMPLE_CATALOG: ReadonlyArray<[string, string]> = [
  ['items:read', 'Read items'],
  ['items:read_private', 'Read items marked private'],
  ['items:write', 'Create, change and delete items'],
  ['people:read', 'Read people'],
  ['charts:read', 'Read charts'],
];

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table locations
      add column external_id text
        check (length(external_id) between 1 and 200 and external_id ~ '^[\\x21-\\x7e]+$' and external_id <> '*')`.execute(
    db,
  );
  await sql`
    create unique index locations_live_token_key
      on locations (org_id, (coalesce(external_id, id::text))) where deleted_at is null`.execute(db);

  await sql`
    create table permission_catalog (
      name text primary key check (name ~ ${sql.lit(NAME_SHAPE)} and length(name) <= 100),
      description text not null default '' check (length(description) <= 2000),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`.execute(db);
  for (const [name, description] of SAMPLE_CATALOG) {
    await sql`
      insert into permission_catalog (name, description) values (${name}, ${description})
      on conflict (name) do nothing`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists permission_catalog`.execute(db);
  await sql`drop index if exists locations_live_token_key`.execute(db);
  await sql`alter table locations drop column if exists external_id`.execute(db);
}
