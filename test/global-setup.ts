import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateToLatest, openDatabase } from '../src/persistence/database.ts';
import { TEMPLATES_FAILED, templatePaths } from './pglite-templates.ts';

/**
 * Databases every test file copies instead of creating its own from scratch, made once per run:
 * - PGlite: a fresh data directory costs an initdb (several seconds of WebAssembly per file); a copy
 *   of an initialised one, empty or migrated, opens in well under a second. They are built in a
 *   process of their own (test/pglite-templates.ts) while the test files start: the files that need
 *   one wait for it (test/helpers/test-database.ts), the others (unit tests, and on Postgres nearly
 *   every file) do not wait for its seconds of initdb.
 * - Postgres (DATABASE_URL): `create database ... template` of a migrated database is a file copy on
 *   the server, instead of every file's server running the migrations.
 * Test files read them with inject() (test/helpers/test-database.ts).
 */
export default async function setup(project: TestProject) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-templates-'));
  const builder = buildPgliteTemplates(root);
  const adminUrl = process.env.DATABASE_URL;
  const postgresTemplate = adminUrl ? `svcauth_test_template_${randomBytes(6).toString('hex')}` : null;
  if (postgresTemplate) await createPostgresTemplate(adminUrl!, postgresTemplate);
  project.provide('pgliteTemplates', { ...templatePaths(root), directory: root });
  project.provide('postgresTemplate', postgresTemplate);

  return async () => {
    if (builder.exitCode === null && builder.signalCode === null) {
      const exited = new Promise((resolve) => builder.once('exit', resolve));
      builder.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(root, { recursive: true, force: true });
    if (postgresTemplate)
      await adminQuery(adminUrl!, `drop database if exists ${postgresTemplate} with (force)`);
  };
}

/** Starts test/pglite-templates.ts; a crash without its own report is reported here. */
function buildPgliteTemplates(root: string): ChildProcess {
  const script = path.join(import.meta.dirname, 'pglite-templates.ts');
  // The project's Node (the `node` dev dependency), as the tests run `node src/main.ts`.
  const node = path.resolve(import.meta.dirname, '../node_modules/.bin/node');
  const child = spawn(node, [script, root], { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const fail = (reason: string) => {
    const failed = path.join(root, TEMPLATES_FAILED);
    if (!fs.existsSync(failed) && fs.existsSync(root)) fs.writeFileSync(failed, reason);
  };
  child.once('error', (error) => fail(`cannot start ${script}: ${error.message}`));
  child.once('exit', (code, signal) => {
    if (code !== 0) fail(`${script} exited with ${code ?? signal}: ${stderr}`);
  });
  return child;
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
    /**
     * PGlite data directories (the pgdata folder) to copy: initialised, and initialised + migrated;
     * both exist once `directory` holds the file `ready` (test/pglite-templates.ts).
     */
    pgliteTemplates: { empty: string; migrated: string; directory: string };
    /** With DATABASE_URL: a migrated database to create test databases from. */
    postgresTemplate: string | null;
  }
}
