import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import type { Kysely } from 'kysely';
import type { Config } from '../../src/config/index.ts';
import { migrateToLatest, openDatabase } from '../../src/persistence/database.ts';
import type { Database } from '../../src/persistence/schema.ts';
import { TEMPLATES_FAILED, TEMPLATES_READY } from '../pglite-templates.ts';

/**
 * A database of the test file's own. With DATABASE_URL set (CI, real Postgres) every test file gets a
 * fresh database on that server, so files run in parallel without sharing rows; the run's global
 * teardown drops them all at once (test/global-setup.ts says why not one by one). Without it, the
 * embedded default: PGlite in a temporary directory, which goes with its directory.
 *
 * Both start as copies of templates made once per run (test/global-setup.ts): migrated by default,
 * or with `schema: 'empty'` an empty database, for tests of the migrations themselves.
 */
export interface TestDatabase {
  config: Config['database'];
}

export interface TestDatabaseOptions {
  schema?: 'migrated' | 'empty';
}

export const usingPostgres = Boolean(process.env.DATABASE_URL);
export const usingRedis = Boolean(process.env.REDIS_URL);

export async function createTestDatabase(
  pgliteDataDir: string,
  options: TestDatabaseOptions = {},
): Promise<TestDatabase> {
  const schema = options.schema ?? 'migrated';
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    await copyPgliteTemplate(pgliteDataDir, schema);
    return { config: { kind: 'pglite', dataDir: pgliteDataDir } };
  }
  const name = `${inject('postgresDatabasePrefix')}${randomBytes(6).toString('hex')}`;
  const template = schema === 'migrated' ? inject('postgresTemplate') : null;
  if (schema === 'migrated' && !template) {
    throw new Error('no Postgres template database: run the tests through vitest.config.ts (globalSetup)');
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}${template ? ` template ${template}` : ''}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { config: { kind: 'postgres', url: url.toString(), poolMax: 5 } };
}

/** A migrated database of a test file's own, open, for tests of services and repositories without a server. */
export interface OpenTestDatabase {
  db: Kysely<Database>;
  /** Closes it and removes its temporary directory (a Postgres database goes at the end of the run). */
  destroy(): Promise<void>;
}

/** createTestDatabase in a temporary directory named after `name`, opened and migrated. */
export async function openTestDatabase(name: string): Promise<OpenTestDatabase> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `svcauth-${name}-`));
  const removeDir = () => fs.rmSync(workDir, { recursive: true, force: true });
  try {
    const testDatabase = await createTestDatabase(path.join(workDir, 'data'));
    const handle = await openDatabase(testDatabase.config);
    const destroy = async () => {
      await handle.close();
      removeDir();
    };
    try {
      await migrateToLatest(handle.db);
    } catch (error) {
      await destroy();
      throw error;
    }
    return { db: handle.db, destroy };
  } catch (error) {
    removeDir();
    throw error;
  }
}

/**
 * Fills a PGlite DATA_DIR (as openDatabase lays it out: the data in <dataDir>/pgdata) with a copy of
 * the run's template, so opening it skips initdb (and, migrated, the migrations). The templates are
 * built while the run starts (test/global-setup.ts): this waits until they are.
 */
export async function copyPgliteTemplate(
  dataDir: string,
  schema: 'migrated' | 'empty' = 'migrated',
): Promise<void> {
  const templates = inject('pgliteTemplates');
  if (!templates) {
    throw new Error('no PGlite template: run the tests through vitest.config.ts (globalSetup)');
  }
  await pgliteTemplatesReady(templates.directory);
  const target = path.join(dataDir, 'pgdata');
  if (fs.existsSync(target)) throw new Error(`${target} already holds a database`);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.cpSync(templates[schema], target, { recursive: true });
}

/** The templates directory already seen ready by this worker process (it runs file after file). */
let readyDirectory: string | undefined;

/** Resolves once test/pglite-templates.ts has built the templates; throws what made it fail. */
async function pgliteTemplatesReady(directory: string): Promise<void> {
  // A deadline for a broken run only: the build takes seconds, many on a busy machine.
  const deadline = Date.now() + 180_000;
  while (readyDirectory !== directory) {
    const failed = path.join(directory, TEMPLATES_FAILED);
    if (fs.existsSync(failed)) {
      throw new Error(`the PGlite templates could not be built: ${fs.readFileSync(failed, 'utf8')}`);
    }
    if (fs.existsSync(path.join(directory, TEMPLATES_READY))) readyDirectory = directory;
    else if (Date.now() > deadline)
      throw new Error(`the PGlite templates in ${directory} were not built in time`);
    else await sleep(25);
  }
}
