import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Config } from '../../src/config/index.ts';

/**
 * A database of the test file's own. With DATABASE_URL set (CI, real Postgres) every test file gets a
 * fresh database on that server, dropped afterwards, so files run in parallel without sharing rows.
 * Without it, the embedded default: PGlite in a temporary directory (or in memory).
 */
export interface TestDatabase {
  config: Config['database'];
  drop(): Promise<void>;
}

export const usingPostgres = Boolean(process.env.DATABASE_URL);
export const usingRedis = Boolean(process.env.REDIS_URL);

export async function createTestDatabase(pgliteDataDir: string): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) return { config: { kind: 'pglite', dataDir: pgliteDataDir }, drop: async () => {} };
  const name = `svcauth_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    config: { kind: 'postgres', url: url.toString(), poolMax: 5 },
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
