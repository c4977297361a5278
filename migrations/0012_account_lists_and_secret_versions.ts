import { type Kysely, sql } from 'kysely';

/**
 * The management API's seed behaviours (issue 15).
 *
 * Account lists page in creation order per organization, filtered by status, role, location and name:
 * (org_id, created_at, id) serves the keyset page of every list (a partial copy for the default list,
 * which leaves archived accounts out), and the role and location indexes answer "accounts holding
 * role X" and "accounts at location Y" without reading every assignment of the organization. The name
 * search is a substring match: it reads the organization's accounts in page order and stops at a full
 * page, so no index of its own.
 *
 * A regenerated secret gets the next `secret_version`; tokens carry the version of the secret they
 * were obtained with, so those of the previous secret stop when it stops (at once, or when its grace
 * period ends), not when they expire. `secret_changed_at` is when the current secret replaced the
 * previous one: the revocation feed is rebuilt from it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index service_accounts_org_page on service_accounts (org_id, created_at, id)`.execute(db);
  await sql`
    create index service_accounts_org_live_page on service_accounts (org_id, created_at, id)
      where archived_at is null`.execute(db);
  await sql`create index service_account_roles_role on service_account_roles (role_id, service_account_id)`.execute(
    db,
  );
  await sql`
    create index service_account_locations_location
      on service_account_locations (location_id, service_account_id)`.execute(db);

  await sql`
    alter table credentials
      add column secret_version integer not null default 1 check (secret_version > 0),
      add column secret_changed_at timestamptz`.execute(db);
  await sql`
    create index credentials_secret_changed on credentials (secret_changed_at)
      where secret_changed_at is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists credentials_secret_changed`.execute(db);
  await sql`
    alter table credentials
      drop column if exists secret_changed_at,
      drop column if exists secret_version`.execute(db);
  await sql`drop index if exists service_account_locations_location`.execute(db);
  await sql`drop index if exists service_account_roles_role`.execute(db);
  await sql`drop index if exists service_accounts_org_live_page`.execute(db);
  await sql`drop index if exists service_accounts_org_page`.execute(db);
}
