import fs from 'node:fs';
import path from 'node:path';
import { migrateToLatest, openDatabase } from '../src/persistence/database.ts';

/**
 * Builds the run's PGlite templates in a process of its own (test/global-setup.ts starts it): an
 * initialised data directory and a migrated copy of it, the pgdata folders test files copy. initdb in
 * WebAssembly takes seconds; in this process it no longer holds back the test files that do not need
 * it, nor Vitest's own process. It writes `ready` when both exist, or `failed` with the reason.
 *
 * Usage: node test/pglite-templates.ts <directory>
 */
export const TEMPLATES_READY = 'ready';
export const TEMPLATES_FAILED = 'failed';

export function templatePaths(root: string): { empty: string; migrated: string } {
  return { empty: path.join(root, 'empty', 'pgdata'), migrated: path.join(root, 'migrated', 'pgdata') };
}

/**
 * Test databases are small and the suite opens about a hundred of them: PGlite zeroes its whole buffer
 * pool (shared_buffers, 128MB by default) at every start, a third of the start's CPU time. 16MB holds
 * any test file's database. The real binary's own initdb (test/integration/cli) keeps the default.
 */
const TEST_SETTINGS = 'shared_buffers = 16MB';

async function build(root: string): Promise<void> {
  const empty = path.join(root, 'empty');
  const migrated = path.join(root, 'migrated');
  // openDatabase keeps the data in <dataDir>/pgdata: the templates are copies of that directory.
  await (await openDatabase({ kind: 'pglite', dataDir: empty })).close();
  fs.appendFileSync(path.join(empty, 'pgdata', 'postgresql.conf'), `\n${TEST_SETTINGS}\n`);
  fs.cpSync(empty, migrated, { recursive: true });
  const handle = await openDatabase({ kind: 'pglite', dataDir: migrated });
  try {
    await migrateToLatest(handle.db);
  } finally {
    await handle.close();
  }
}

if (import.meta.main) {
  const root = process.argv[2];
  if (!root) throw new Error('usage: node test/pglite-templates.ts <directory>');
  try {
    await build(root);
    fs.writeFileSync(path.join(root, TEMPLATES_READY), '');
  } catch (error) {
    fs.writeFileSync(
      path.join(root, TEMPLATES_FAILED),
      error instanceof Error ? (error.stack ?? error.message) : String(error),
    );
    process.exitCode = 1;
  }
}
