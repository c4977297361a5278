import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../../src/logging/logger.ts';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../../../src/persistence/database.ts';
import { UsageRecorder } from '../../../src/persistence/usage-recorder.ts';
import { Fixtures } from '../../helpers/fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';

let testDatabase: TestDatabase;
let handle: DatabaseHandle;
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-usage-'));

beforeAll(async () => {
  testDatabase = await createTestDatabase(path.join(workDir, 'data'));
  handle = await openDatabase(testDatabase.config);
  await migrateToLatest(handle.db);
});
afterAll(async () => {
  await handle?.close();
  fs.rmSync(workDir, { recursive: true, force: true });
});

it('writes the latest use of many credentials in one flush, and never moves last_used_at backwards', async () => {
  const fixtures = new Fixtures(handle.db);
  const org = await fixtures.organization();
  const account = await fixtures.account(org.id);
  const [a, b] = [
    await fixtures.credential(org.id, account.id),
    await fixtures.credential(org.id, account.id),
  ];
  const recorder = new UsageRecorder(handle.db, createLogger({ level: 'silent' }), 3_600_000);
  const t1 = new Date('2026-01-01T10:00:00Z');
  const t2 = new Date('2026-01-01T10:00:05Z');
  recorder.record(a.id, '10.0.0.1', t1);
  recorder.record(a.id, '10.0.0.2', t2);
  recorder.record(b.id, null, t1);
  await recorder.flush();

  const rows = await handle.db
    .selectFrom('credentials')
    .select(['id', 'last_used_at', 'last_used_ip'])
    .where('id', 'in', [a.id, b.id])
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  expect(byId.get(a.id)).toMatchObject({ last_used_at: t2, last_used_ip: '10.0.0.2' });
  expect(byId.get(b.id)).toMatchObject({ last_used_at: t1, last_used_ip: null });

  // Another instance flushing an older use afterwards does not win.
  recorder.record(a.id, '10.0.0.9', t1);
  await recorder.close();
  const after = await handle.db
    .selectFrom('credentials')
    .select(['last_used_at', 'last_used_ip'])
    .where('id', '=', a.id)
    .executeTakeFirstOrThrow();
  expect(after).toEqual({ last_used_at: t2, last_used_ip: '10.0.0.2' });
});

it('a use without an address (an API key at /introspect) moves last_used_at and keeps the last address', async () => {
  const fixtures = new Fixtures(handle.db);
  const org = await fixtures.organization();
  const account = await fixtures.account(org.id);
  const key = await fixtures.credential(org.id, account.id);
  const recorder = new UsageRecorder(handle.db, createLogger({ level: 'silent' }), 3_600_000);
  const t1 = new Date('2026-02-01T10:00:00Z');
  const t2 = new Date('2026-02-01T10:00:05Z');
  const t3 = new Date('2026-02-01T10:00:09Z');
  recorder.record(key.id, '10.0.0.1', t1);
  await recorder.flush();
  recorder.record(key.id, null, t2);
  await recorder.flush();
  const read = () =>
    handle.db
      .selectFrom('credentials')
      .select(['last_used_at', 'last_used_ip'])
      .where('id', '=', key.id)
      .executeTakeFirstOrThrow();
  expect(await read()).toEqual({ last_used_at: t2, last_used_ip: '10.0.0.1' });
  // Within one batch too: the address of an earlier use is not lost to a later one without.
  recorder.record(key.id, '10.0.0.7', t2);
  recorder.record(key.id, null, t3);
  await recorder.close();
  expect(await read()).toEqual({ last_used_at: t3, last_used_ip: '10.0.0.7' });
});
