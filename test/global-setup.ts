import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateToLatest, openDatabase } from '../src/persistence/database.ts';

/**
 * Databases every test file copies instead of creating its own from scratch, made once per run:
 * - PGlite: a fresh data directory costs an initdb (several seconds of WebAssembly per file); a copy
 *   of an initialised one, empty or migrated, opens in well under a second.
 * - Postgres (DATABASE_URL): `create database ... template` of a migrated database is a file copy on
 *   the server, instead of every file's server running the migrations.
 * Test files read them with inject() (test/helpers/test-database.ts).
 */
export default async function setup(project: TestProject) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-templates-'));
  const adminUrl = process.env.DATABASE_URL;
  const postgresTemplate = adminUrl ? `svcauth_test_template_${randomBytes(6).toString('hex')}` : null;
  const [pglite] = await Promise.all([
    pgliteTemplates(root),
    postgresTemplate ? createPostgresTemplate(adminUrl!, postgresTemplate) : undefined,
  ]);
  project.provide('pgliteTemplates', pglite);
  project.provide('postgresTemplate', postgresTemplate);

  return async () => {
    fs.rmSync(root, { recursive: true, force: true });
    if (postgresTemplate)
      await adminQuery(adminUrl!, `drop database if exists ${postgresTemplate} with (force)`);
  };
}

async function pgliteTemplates(root: string): Promise<{ empty: string; migrated: string }> {
  const empty = path.join(root, 'empty');
  const migrated = path.join(root, 'migrated');
  // openDatabase keeps the data in <dataDir>/pgdata: the templates are copies of that directory.
  await (await openDatabase({ kind: 'pglite', dataDir: empty })).close();
  fs.cpSync(empty, migrated, { recursive: true });
  const handle = await openDatabase({ kind: 'pglite', dataDir: migrated });
  try {
    await migrateToLatest(handle.db);
  } finally {
    await handle.close();
  }
  return { empty: path.join(empty, 'pgdata'), migrated: path.join(migrated, 'pgdata') };
}

async function createPostgresTemplate(adminUrl: string, name: string): Promise<void> {
  await adminQuery(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'postgres', url: url.toString(), poolMax: 1 });
  try {
    await migrateToLatest(handle.db);
  } finally {
    // Nobody may be connected to a template while a database is created from it.
    await handle.close();
  }
}

async function adminQuery(adminUrl: string, query: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** PGlite data directories (the pgdata folder) to copy: initialised, and initialised + migrated. */
    pgliteTemplates: { empty: string; migrated: string };
    /** With DATABASE_URL: a migrated database to create test databases from. */
    postgresTemplate: string | null;
  }
}
