import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../../../src/persistence/database.ts';
import { DeploymentCredentialRepository } from '../../../src/persistence/repositories/deployment-credential-repository.ts';
import {
  type ChangeSource,
  DeploymentCredentialDirectory,
} from '../../../src/services/deployment-credential-service.ts';
import type { ChangeEvent } from '../../../src/state/change-notifier.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';

/**
 * The directory of resource servers and operators made through the platform API caches what it read;
 * a read that raced a change must never be kept (a cache fill never outlives the invalidation that
 * raced it), and nothing is trusted while change notifications are interrupted. The change source is
 * driven by hand here; the database is real.
 */
let testDatabase: TestDatabase;
let handle: DatabaseHandle;
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-directory-'));

class HandDrivenChanges implements ChangeSource {
  healthy = true;
  readonly #listeners: Array<(event: ChangeEvent) => void> = [];
  readonly #resync: Array<() => void> = [];
  onChange(listener: (event: ChangeEvent) => void) {
    this.#listeners.push(listener);
    return () => undefined;
  }
  onResync(listener: () => void) {
    this.#resync.push(listener);
    return () => undefined;
  }
  announce(): void {
    for (const listener of this.#listeners) listener({ type: 'deployment_credentials' });
  }
}

const digest = (secret: string) => createHash('sha256').update(secret).digest();

beforeAll(async () => {
  testDatabase = await createTestDatabase(path.join(workDir, 'data'));
  handle = await openDatabase(testDatabase.config);
  await migrateToLatest(handle.db);
});
afterAll(async () => {
  await handle?.close();
  fs.rmSync(workDir, { recursive: true, force: true });
});

it('keeps what it read until a change is announced, and never keeps a read that raced one', async () => {
  const changes = new HandDrivenChanges();
  const directory = new DeploymentCredentialDirectory(handle.db, changes);
  const repository = new DeploymentCredentialRepository(handle.db);
  const first = await repository.create({
    kind: 'resource_server',
    name: 'rs-1',
    secretSha256: digest('a'),
    operator: 'ops',
  });
  expect([...(await directory.digests('resource_server')).keys()]).toEqual(['rs-1']);

  // Revoked without an announcement: the cache still answers (this is what the announcement is for).
  await repository.revoke('resource_server', first.id, 'ops');
  expect([...(await directory.digests('resource_server')).keys()]).toEqual(['rs-1']);
  changes.announce();
  expect([...(await directory.digests('resource_server')).keys()]).toEqual([]);

  // A change announced while a read is in flight: that read serves its caller, and is not kept.
  await repository.create({ kind: 'operator', name: 'op-1', secretSha256: digest('b'), operator: 'ops' });
  changes.announce();
  const racing = directory.digests('operator');
  const second = await repository.create({
    kind: 'operator',
    name: 'op-2',
    secretSha256: digest('c'),
    operator: 'ops',
  });
  changes.announce();
  await racing;
  expect([...(await directory.digests('operator')).keys()].sort()).toEqual(['op-1', 'op-2']);

  // While notifications are interrupted, every read goes to the database.
  changes.healthy = false;
  await repository.revoke('operator', second.id, 'ops');
  expect([...(await directory.digests('operator')).keys()]).toEqual(['op-1']);
});
