import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../../../src/persistence/database.ts';
import { RoleRepository } from '../../../src/persistence/repositories/role-repository.ts';
import type { AdminActor } from '../../../src/services/admin-actor.ts';
import { bootstrapOrganization } from '../../../src/services/bootstrap-service.ts';
import { LegacyKeyImportService } from '../../../src/services/legacy-key-import-service.ts';
import { SecretHasher } from '../../../src/keys/secret-hasher.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';

/**
 * A SecretHasher that counts its calls and holds each hash until the test releases it, so the test can
 * see how many hashes an import runs and how many run at once.
 */
class ObservedHasher extends SecretHasher {
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.#open();
  }

  override async hash(secret: string): Promise<string> {
    this.calls++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.#gate;
      return await super.hash(secret);
    } finally {
      this.inFlight--;
    }
  }
}

async function until(condition: () => boolean, polls: number): Promise<boolean> {
  for (let i = 0; i < polls; i++) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return condition();
}

describe('legacy key import: bcrypt only for rows it can take, and a bounded amount of it', () => {
  let workDir: string;
  let testDatabase: TestDatabase;
  let handle: DatabaseHandle;
  let actor: AdminActor;
  const secret = { legacyKeyIdSecrets: [Buffer.alloc(32, 7)] };
  let row = 0;
  const goodRow = () => ({
    key: `a-legacy-key-of-the-old-system-${String(++row).padStart(4, '0')}-Qx7`,
    name: `imported ${row}`,
    all_locations: true,
    role_names: ['Reader'],
  });

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-import-'));
    testDatabase = await createTestDatabase(path.join(workDir, 'data'));
    handle = await openDatabase(testDatabase.config);
    await migrateToLatest(handle.db);
    const org = await bootstrapOrganization(handle.db, new SecretHasher(4), { slug: 'import-bounds' });
    await new RoleRepository(handle.db).create(org.org_id, { name: 'Reader', permissions: ['items:read'] });
    actor = { kind: 'operator', orgId: org.org_id };
  });

  afterAll(async () => {
    await handle?.close();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('checks every row before hashing its key: rows it cannot take cost no bcrypt', async () => {
    const hasher = new ObservedHasher(4);
    const service = new LegacyKeyImportService(handle.db, hasher, secret);
    const rows = Array.from({ length: 40 }, (_, i) => ({
      key: `a-bad-row-of-the-old-system-${String(i).padStart(4, '0')}`,
      name: `bad ${i}`,
      all_locations: true,
      role_names: ['No such role'],
    }));
    const report = await service.import(actor, rows);
    expect(report.summary).toEqual({ imported: 0, already_imported: 0, failed: 40 });
    expect(hasher.calls).toBe(0);
  });

  it('runs the hashing of concurrent imports one at a time', async () => {
    const hasher = new ObservedHasher(4);
    hasher.hold();
    const service = new LegacyKeyImportService(handle.db, hasher, secret);
    const first = service.import(actor, [goodRow(), goodRow()]);
    const second = service.import(actor, [goodRow(), goodRow()]);
    expect(await until(() => hasher.inFlight >= 1, 1000)).toBe(true);
    // Give the other import every chance to start hashing too: it must wait for the first.
    await until(() => hasher.inFlight >= 2, 100);
    hasher.release();
    const reports = await Promise.all([first, second]);
    expect(reports.map((r) => r.summary.imported)).toEqual([2, 2]);
    expect(hasher.calls).toBe(4);
    expect(hasher.maxInFlight).toBe(1);
  });
});
