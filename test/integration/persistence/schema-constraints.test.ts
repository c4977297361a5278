import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DatabaseHandle,
  DataDirectoryInUseError,
  migrateToLatest,
  openDatabase,
} from '../../../src/persistence/database.ts';
import { OrganizationRepository } from '../../../src/persistence/repositories/organization-repository.ts';
import { ServiceAccountRepository } from '../../../src/persistence/repositories/service-account-repository.ts';
import { Fixtures } from '../../helpers/fixtures.ts';
import { copyPgliteTemplate, createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';

/** The database refuses bad data on its own, whatever the application code does. */
describe('schema constraints', () => {
  let testDatabase: TestDatabase;
  let handle: DatabaseHandle;
  let fixtures: Fixtures;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-schema-'));

  beforeAll(async () => {
    testDatabase = await createTestDatabase(path.join(workDir, 'data'), { schema: 'empty' });
    handle = await openDatabase(testDatabase.config);
    expect(await migrateToLatest(handle.db)).toEqual([
      '0001_initial',
      '0002_revocation',
      '0003_revocation_outbox',
      '0004_legacy_key_lookup',
      '0008_platform',
      '0009_revocation_outbox_change',
      '0010_product_ids_and_catalog',
      '0011_tenancy',
      '0012_account_lists_and_secret_versions',
      '0013_token_exchange',
      '0015_deployment_credentials',
    ]);
    fixtures = new Fixtures(handle.db);
  });

  afterAll(async () => {
    await handle?.close();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('migrating again is a no-op', async () => {
    expect(await migrateToLatest(handle.db)).toEqual([]);
  });

  it('keeps external ids unique and statuses to active, suspended or archived', async () => {
    const organizations = new OrganizationRepository(handle.db);
    await organizations.createForExternalId('tenant-1', 'One', ['ext-one']);
    await expect(
      handle.db
        .insertInto('organizations')
        .values({ slug: 'ext-two', name: 'Two', external_id: 'tenant-1' })
        .execute(),
    ).rejects.toThrow(/duplicate key|unique/);
    await expect(
      handle.db
        .insertInto('organizations')
        // @ts-expect-error -- the schema refuses what the type refuses
        .values({ slug: 'ext-three', name: 'Three', status: 'deleted' })
        .execute(),
    ).rejects.toThrow(/check constraint/);
  });

  it('keeps one row of organization defaults and limits to known credential types and bounds', async () => {
    await expect(
      handle.db
        .insertInto('organization_defaults')
        .values({ singleton: true } as never)
        .execute(),
    ).rejects.toThrow(/duplicate key|unique/);
    const organization = await fixtures.organization();
    for (const limit of [
      { limit_allowed_credential_types: ['password'] },
      { limit_allowed_credential_types: [] },
      { limit_access_token_ttl_seconds: 7200 },
      { limit_max_credentials_per_account: 0 },
    ]) {
      await expect(
        handle.db
          .updateTable('organizations')
          .set(limit as never)
          .where('id', '=', organization.id)
          .execute(),
      ).rejects.toThrow(/check constraint/);
    }
  });

  it('cannot link an account to another organization’s role or location', async () => {
    const orgA = await fixtures.organization();
    const orgB = await fixtures.organization();
    const roleB = await fixtures.role(orgB.id, ['items:read']);
    const locationB = await fixtures.location(orgB.id);
    const account = await fixtures.account(orgA.id);
    const accounts = new ServiceAccountRepository(handle.db);
    await expect(
      accounts.replaceAssignments(orgA.id, account.id, {
        locationIds: [],
        roles: [{ roleId: roleB.id, restrictedTo: null }],
      }),
    ).rejects.toThrow(/foreign key/);
    await expect(
      accounts.replaceAssignments(orgA.id, account.id, { locationIds: [locationB.id], roles: [] }),
    ).rejects.toThrow(/foreign key/);
  });

  it('cannot tick a matrix location the account does not have', async () => {
    const org = await fixtures.organization();
    const role = await fixtures.role(org.id, ['items:read']);
    const [l1, l2] = [await fixtures.location(org.id), await fixtures.location(org.id)];
    const account = await fixtures.account(org.id, { locationIds: [l1.id] });
    await expect(
      new ServiceAccountRepository(handle.db).replaceAssignments(org.id, account.id, {
        locationIds: [l1.id],
        roles: [{ roleId: role.id, restrictedTo: [l2.id] }],
      }),
    ).rejects.toThrow(/foreign key/);
  });

  it('keeps names unique among live rows only, case-insensitively', async () => {
    const org = await fixtures.organization();
    await fixtures.account(org.id, { name: 'ETL job' });
    await expect(fixtures.account(org.id, { name: 'etl JOB' })).rejects.toThrow(/duplicate key|unique/);
    await handle.db
      .updateTable('service_accounts')
      .set({ archived_at: new Date() })
      .where('org_id', '=', org.id)
      .where('name', '=', 'ETL job')
      .execute();
    await expect(fixtures.account(org.id, { name: 'ETL job' })).resolves.toMatchObject({ name: 'ETL job' });
  });

  it('refuses malformed permission names, settings out of bounds and plaintext secrets', async () => {
    const org = await fixtures.organization();
    await expect(fixtures.role(org.id, ['items read'])).rejects.toThrow(/check constraint/);
    await expect(
      handle.db
        .updateTable('organizations')
        .set({ access_token_ttl_seconds: 7200 })
        .where('id', '=', org.id)
        .execute(),
    ).rejects.toThrow(/check constraint/);
    const account = await fixtures.account(org.id);
    await expect(
      handle.db
        .insertInto('credentials')
        .values({
          org_id: org.id,
          service_account_id: account.id,
          type: 'oauth_client',
          name: 'plain',
          client_id: 'svcc_plaintextsecret',
          secret_hash: 'not-a-bcrypt-hash',
          lineage_id: crypto.randomUUID(),
        })
        .execute(),
    ).rejects.toThrow(/check constraint/);
  });

  it('allows one protected account per organization and never archives it', async () => {
    const org = await fixtures.organization();
    await expect(
      new ServiceAccountRepository(handle.db).create(org.id, { name: 'second built-in', is_protected: true }),
    ).rejects.toThrow(/duplicate key|unique/);
    await expect(
      handle.db
        .updateTable('service_accounts')
        .set({ archived_at: new Date() })
        .where('org_id', '=', org.id)
        .where('is_protected', '=', true)
        .execute(),
    ).rejects.toThrow(/check constraint/);
  });

  it('keeps audit ids as strings on both engines', async () => {
    const org = await fixtures.organization();
    await handle.db.insertInto('audit_events').values({ org_id: org.id, action: 'test.event' }).execute();
    const row = await handle.db
      .selectFrom('audit_events')
      .select(['id'])
      .where('org_id', '=', org.id)
      .executeTakeFirstOrThrow();
    expect(typeof row.id).toBe('string');
    const { rows } = await sql<{ n: string }>`select count(*) as n from audit_events`.execute(handle.db);
    expect(typeof rows[0]!.n).toBe('string');
  });
});

describe('embedded database directory lock', () => {
  it('refuses a second opener with a message that says what to do, and frees the lock on close', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-lock-'));
    try {
      // A live process other than this one holds the lock: our parent (the test runner) will do.
      await copyPgliteTemplate(dataDir, 'empty');
      fs.writeFileSync(path.join(dataDir, 'svcauth.lock'), String(process.ppid));
      await expect(openDatabase({ kind: 'pglite', dataDir })).rejects.toBeInstanceOf(DataDirectoryInUseError);
      await expect(openDatabase({ kind: 'pglite', dataDir })).rejects.toThrow(
        /stop that process|DATABASE_URL/,
      );
      // A lock left by a process that no longer exists is taken over.
      fs.writeFileSync(path.join(dataDir, 'svcauth.lock'), '999999999');
      const handle = await openDatabase({ kind: 'pglite', dataDir });
      await handle.close();
      expect(fs.existsSync(path.join(dataDir, 'svcauth.lock'))).toBe(false);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
