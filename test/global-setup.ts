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
 *
 * The Postgres databases of the test files are dropped here, at the end of the run, all at once: every
 * DROP DATABASE forces a checkpoint (Postgres 15), which writes every dirty page of every database on
 * the server and waits for its fsyncs. Dropped by each file as it ended, they cost about a second of
 * waiting per file and 10 s of the server's CPU per run; dropped together, concurrent drops share
 * their checkpoints, and the pages of a database dropped before a checkpoint wrote them are never written.
 */
export default async function setup(project: TestProject) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-templates-'));
  const builder = buildPgliteTemplates(root);
  const adminUrl = process.env.DATABASE_URL;
  const run = randomBytes(6).toString('hex');
  const postgresTemplate = adminUrl ? `svcauth_test_template_${run}` : null;
  // Names no other run's database can have: the teardown drops this run's own and nobody else's.
  const postgresDatabasePrefix = `svcauth_test_${run}_`;
  if (postgresTemplate) await createPostgresTemplate(adminUrl!, postgresTemplate);
  project.provide('pgliteTemplates', { ...templatePaths(root), directory: root });
  project.provide('postgresTemplate', postgresTemplate);
  project.provide('postgresDatabasePrefix', postgresDatabasePrefix);

  return async () => {
    if (builder.exitCode === null && builder.signalCode === null) {
      const exited = new Promise((resolve) => builder.once('exit', resolve));
      builder.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(root, { recursive: true, force: true });
    if (postgresTemplate) {
      await dropDatabases(adminUrl!, postgresDatabasePrefix);
      await adminQuery(adminUrl!, `drop database if exists ${postgresTemplate} with (force)`);
    }
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

/**
 * Drops every database whose name starts with `prefix`, all at once: each drop tells the checkpointer
 * to forget its files, then waits for a checkpoint that started after it asked, so drops in flight
 * together share checkpoints, and the first skips the files of every database already being dropped.
 * One by one at the end of a run, 76 drops took 6 s (20 checkpoints, the first syncing 23,832 files);
 * all at once, 1.7 s (6 checkpoints). The server's free connections bound how many run at once.
 */
async function dropDatabases(adminUrl: string, prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  let names: string[];
  let freeConnections: number;
  try {
    const databases = await client.query<{ datname: string }>(
      'select datname from pg_database where starts_with(datname, $1)',
      [prefix],
    );
    names = databases.rows.map((row) => row.datname);
    const free = await client.query<{ free: number }>(
      `select current_setting('max_connections')::int
         - current_setting('superuser_reserved_connections')::int
         - (select count(*) from pg_stat_activity)::int as free`,
    );
    freeConnections = free.rows[0]!.free;
  } finally {
    await client.end();
  }
  const queue = [...names];
  const dropNext = async () => {
    for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
      await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    }
  };
  // Half the free connections, leaving room for whatever else uses the server.
  const atOnce = Math.max(1, Math.min(names.length, Math.floor(freeConnections / 2)));
  await Promise.all(Array.from({ length: atOnce }, dropNext));
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
    /** The names of this run's test databases start with it: the teardown drops them all. */
    postgresDatabasePrefix: string;
  }
}
