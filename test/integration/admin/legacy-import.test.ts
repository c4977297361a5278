import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/persistence/database.ts';
import { LocationRepository } from '../../../src/persistence/repositories/location-repository.ts';
import { OrganizationRepository } from '../../../src/persistence/repositories/organization-repository.ts';
import { RoleRepository } from '../../../src/persistence/repositories/role-repository.ts';
import { runCli } from '../../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  bootstrapAdmin,
  claimsOf,
  expectStatus,
  productToken,
  requestToken,
} from './admin-helpers.ts';

/**
 * Seed 000's migration: keys of the old system become service accounts whose credential accepts the
 * old key string unchanged, through the API and through `svcauth import-legacy-keys`.
 */

const KEY_A = 'old-system-key-0001-aaaaaaaaaaaaaaaa';
const KEY_B = 'old system key with spaces & symbols!';

describe('legacy key import over HTTP', () => {
  let server: TestServer;
  let api: AdminApi;
  let paris: { id: string };
  let reader: { id: string };
  let body: { keys: Array<Record<string, unknown>> };

  beforeAll(async () => {
    server = await startTestServer();
    api = adminApi(server, await adminToken(server, await bootstrapAdmin(server, 'acme')));
    paris = expectStatus(await api.post('/locations', { name: 'Paris' }), 201);
    reader = expectStatus(await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201);
    body = {
      keys: [
        { key: KEY_A, name: 'Old CRM sync', location_names: ['paris'], role_names: ['Reader'] },
        { key: KEY_B, name: 'Old BI export', all_locations: true, role_ids: [reader.id] },
        {
          key: 'old-system-key-0003-cccccccccccc',
          name: 'Ghost role',
          all_locations: true,
          role_names: ['Nope'],
        },
        {
          key: 'old-system-key-0004-dddddddddddd',
          name: 'Ghost location',
          location_ids: ['00000000-0000-4000-8000-000000000000'],
          role_names: ['Reader'],
        },
        { key: 'short', name: 'Too short', all_locations: true },
      ],
    };
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('imports the good rows and reports the others without writing anything of them', async () => {
    const report = expectStatus(await api.post('/legacy-keys:import', body), 200);
    expect(report.summary).toEqual({ imported: 2, already_imported: 0, failed: 3 });
    expect(report.results.map((r: { status: string }) => r.status)).toEqual([
      'imported',
      'imported',
      'failed',
      'failed',
      'failed',
    ]);
    expect(report.results[2].error).toMatchObject({ code: 'unknown_reference' });
    expect(report.results[2].error.message).toContain('role named "Nope"');
    expect(report.results[3].error.message).toContain(
      'location with id 00000000-0000-4000-8000-000000000000',
    );
    expect(report.results[4].error).toMatchObject({ code: 'invalid_legacy_key', field: 'key' });
    expect(JSON.stringify(report)).not.toContain(KEY_A);

    const accounts = expectStatus(await api.get('/service-accounts?limit=200'), 200);
    const names = accounts.items.map((a: { name: string }) => a.name);
    expect(names).toEqual(expect.arrayContaining(['Old CRM sync', 'Old BI export']));
    for (const failed of ['Ghost role', 'Ghost location', 'Too short']) expect(names).not.toContain(failed);

    const crm = expectStatus(await api.get(`/service-accounts/${report.results[0].service_account_id}`), 200);
    expect(crm).toMatchObject({
      status: 'active',
      location_ids: [paris.id],
      roles: [{ role_id: reader.id, location_ids: null }],
      permissions: { [paris.id]: ['items:read'] },
    });
    const credential = expectStatus(
      await api.get(`/service-accounts/${crm.id}/credentials/${report.results[0].credential_id}`),
      200,
    );
    expect(credential).toMatchObject({ type: 'api_key', is_legacy: true, status: 'active' });
    expect(credential.display_hint).toBe('legacy_…');

    const audit = expectStatus(await api.get('/audit-events?action=legacy_key.imported'), 200);
    expect(audit.items).toHaveLength(2);
    expect(JSON.stringify(audit.items)).not.toContain(KEY_A);
  });

  it('lets the old key obtain tokens unchanged, as HTTP Basic api:<key>', async () => {
    const claims = claimsOf(await productToken(server, 'api', KEY_A));
    expect(claims.permissions).toEqual({ [paris.id]: ['items:read'] });
    const other = claimsOf(await productToken(server, 'api', KEY_B));
    expect(other.permissions).toEqual({ '*': ['items:read'] });
    expect((await requestToken(server, 'api', `${KEY_A}x`)).status).toBe(401);
  });

  it('is idempotent: a second run reports the rows already imported and creates nothing', async () => {
    const first = expectStatus(await api.get('/service-accounts?limit=200'), 200);
    const report = expectStatus(await api.post('/legacy-keys:import', body), 200);
    expect(report.summary).toEqual({ imported: 0, already_imported: 2, failed: 3 });
    const again = expectStatus(await api.get('/service-accounts?limit=200'), 200);
    expect(again.items).toHaveLength(first.items.length);
  });

  it('refuses a malformed file as a whole, naming the field', async () => {
    const response = await api.post('/legacy-keys:import', { keys: [{ key: KEY_A }] });
    expect(response.status).toBe(400);
    expect(response.body.errors.map((e: { field: string }) => e.field)).toContain('keys[0].name');
  });
});

describe('svcauth import-legacy-keys', () => {
  let workDir: string;
  let env: NodeJS.ProcessEnv;
  let database: TestDatabase | undefined;
  let server: TestServer | undefined;
  let file: string;

  /** The CLI in this process (test/integration/cli runs the real binary). */
  const svcauth = (args: string[]) => runCli(args, env);

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-legacy-'));
    env = { ...process.env, LOG_LEVEL: 'silent', KEYS_DIR: path.join(workDir, 'keys') };
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'DATA_DIR', 'PORT', 'ISSUER']) delete env[name];
    database = await createTestDatabase(path.join(workDir, 'data'));
    if (database.config.kind === 'postgres') env.DATABASE_URL = database.config.url;
    else env.DATA_DIR = database.config.dataDir;
    const bootstrap = await svcauth(['bootstrap', '--org', 'legacy-co', '--json']);
    expect(bootstrap.code, bootstrap.stderr).toBe(0);

    // The old system's locations and roles exist before its keys are imported.
    const handle = await openDatabase(
      env.DATABASE_URL
        ? { kind: 'postgres', url: env.DATABASE_URL, poolMax: 2 }
        : { kind: 'pglite', dataDir: env.DATA_DIR! },
    );
    try {
      const org = (await new OrganizationRepository(handle.db).findBySlug('legacy-co'))!;
      await new LocationRepository(handle.db).create(org.id, 'Lyon');
      await new RoleRepository(handle.db).create(org.id, { name: 'Viewer', permissions: ['charts:read'] });
    } finally {
      await handle.close();
    }
    file = path.join(workDir, 'keys.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        keys: [
          { key: KEY_A, name: 'Dashboard feed', location_names: ['Lyon'], role_names: ['Viewer'] },
          { key: KEY_B, name: 'Ghost', location_names: ['Atlantis'], role_names: ['Viewer'] },
        ],
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('imports, reports each row, and fails when a row could not be imported', async () => {
    const run = await svcauth(['import-legacy-keys', file, '--org', 'legacy-co', '--json']);
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.summary).toEqual({ imported: 1, already_imported: 0, failed: 1 });
    expect(report.results[1].error.message).toContain('location named "Atlantis"');
    expect(run.stdout).not.toContain(KEY_A);
  }, 60_000);

  it('is idempotent', async () => {
    fs.writeFileSync(
      file,
      JSON.stringify({
        keys: [{ key: KEY_A, name: 'Dashboard feed', location_names: ['Lyon'], role_names: ['Viewer'] }],
      }),
    );
    const run = await svcauth(['import-legacy-keys', file, '--org', 'legacy-co']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/#0 Dashboard feed: already_imported/);
    expect(run.stdout).toMatch(/imported 0, already imported 1, failed 0/);
  }, 60_000);

  it('refuses an unknown organization and a malformed file with a one-line reason', async () => {
    const unknownOrg = await svcauth(['import-legacy-keys', file, '--org', 'nobody']);
    expect(unknownOrg.code).toBe(64);
    expect(unknownOrg.stderr).toMatch(/no organization "nobody"/);
    const bad = path.join(workDir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ keys: [{ key: KEY_A, name: 'x', colour: 'red' }] }));
    const malformed = await svcauth(['import-legacy-keys', bad, '--org', 'legacy-co']);
    expect(malformed.code).toBe(64);
    expect(malformed.stderr).toMatch(/keys\.0: Unrecognized key/);
  }, 60_000);

  it('lets the imported key obtain a token from the server', async () => {
    server = await startTestServer(
      env.DATABASE_URL
        ? { DATABASE_URL: env.DATABASE_URL, KEYS_DIR: env.KEYS_DIR! }
        : { DATA_DIR: env.DATA_DIR!, KEYS_DIR: env.KEYS_DIR! },
    );
    const claims = claimsOf(await productToken(server, 'api', KEY_A));
    expect(Object.values(claims.permissions)).toEqual([['charts:read']]);
  }, 60_000);
});
