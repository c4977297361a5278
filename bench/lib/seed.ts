import { type Kysely, sql } from 'kysely';
import { generateClientSecret } from '../../src/domain/credential-format.ts';
import type { Database } from '../../src/persistence/schema.ts';
import { provisionOrganization } from '../../src/services/bootstrap-service.ts';
import { SecretHasher } from '../../src/keys/secret-hasher.ts';

export interface SeededCredentials {
  orgId: string;
  locationIds: string[];
  /** Every seeded credential shares one secret (one bcrypt hash): seeding 200,000 hashes would take hours. */
  secret: string;
  clientIds: string[];
}

/**
 * Bulk-seeds an organization with `accounts` service accounts, `credentialsPerAccount` oauth_client
 * credentials each, five locations and two roles (one restricted by the role x location matrix), so
 * tokens carry a realistic permissions claim. Set-based SQL: 200,000 credentials take seconds.
 */
export async function seedOrganization(
  db: Kysely<Database>,
  options: { slug: string; accounts: number; credentialsPerAccount: number; bcryptCost: number },
): Promise<SeededCredentials> {
  const { organization } = await provisionOrganization(db, options.slug, options.slug);
  const orgId = organization.id;
  const secret = generateClientSecret();
  const hash = await new SecretHasher(options.bcryptCost).hash(secret);
  const locationIds: string[] = [];
  for (let i = 1; i <= 5; i++) {
    const row = await db
      .insertInto('locations')
      .values({ org_id: orgId, name: `site ${i}` })
      .returning('id')
      .executeTakeFirstOrThrow();
    locationIds.push(row.id);
  }
  const reader = await db
    .insertInto('roles')
    .values({ org_id: orgId, name: 'reader', permissions: ['items:read', 'people:read', 'charts:read'] })
    .returning('id')
    .executeTakeFirstOrThrow();
  const writer = await db
    .insertInto('roles')
    .values({ org_id: orgId, name: 'writer', permissions: ['items:write', 'items:read_private'] })
    .returning('id')
    .executeTakeFirstOrThrow();

  await sql`
    insert into service_accounts (org_id, name)
    select ${orgId}::uuid, 'bench account ' || g from generate_series(1, ${options.accounts}::int) as g`.execute(
    db,
  );
  await sql`
    insert into service_account_locations (org_id, service_account_id, location_id)
    select a.org_id, a.id, l.id from service_accounts a cross join locations l
    where a.org_id = ${orgId}::uuid and l.org_id = ${orgId}::uuid and not a.is_protected`.execute(db);
  await sql`
    insert into service_account_roles (org_id, service_account_id, role_id)
    select a.org_id, a.id, r.id from service_accounts a cross join roles r
    where a.org_id = ${orgId}::uuid and r.id in (${reader.id}::uuid, ${writer.id}::uuid) and not a.is_protected`.execute(
    db,
  );
  await sql`
    insert into service_account_role_locations (org_id, service_account_id, role_id, location_id)
    select a.org_id, a.id, ${writer.id}::uuid, l.id from service_accounts a cross join locations l
    where a.org_id = ${orgId}::uuid and l.id in (${locationIds[0]!}::uuid, ${locationIds[1]!}::uuid)
      and not a.is_protected`.execute(db);
  await sql`
    insert into credentials (id, org_id, service_account_id, type, name, client_id, secret_hash, lineage_id)
    select id, org_id, account_id, 'oauth_client', 'bench credential', client_id, ${hash}, id
    from (
      select gen_random_uuid() as id, a.org_id, a.id as account_id,
             'svcc_' || substr(md5(random()::text || a.id::text || g::text), 1, 22) as client_id
      from service_accounts a cross join generate_series(1, ${options.credentialsPerAccount}::int) as g
      where a.org_id = ${orgId}::uuid and not a.is_protected
    ) as c`.execute(db);
  // Fresh statistics and a vacuumed heap now, rather than autovacuum waking up during a measured row
  // (after the 200,000-credential seed it did, and that row lost a quarter of its throughput).
  for (const table of [
    'service_accounts',
    'service_account_locations',
    'service_account_roles',
    'service_account_role_locations',
    'credentials',
  ]) {
    await sql`vacuum analyze ${sql.table(table)}`.execute(db);
  }
  const rows = await db
    .selectFrom('credentials')
    .select('client_id')
    .where('org_id', '=', orgId)
    .orderBy('client_id')
    .execute();
  return { orgId, locationIds, secret, clientIds: rows.map((r) => r.client_id) };
}
