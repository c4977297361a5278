/**
 * Issue 19, row (j): token subjects are loaded in batches, one statement for many client ids. A batch
 * must answer every client id exactly as the row-by-row reads do (CredentialRepository and
 * ServiceAccountRepository, one query per table), whatever else shares the batch: a credential that
 * cannot authenticate is absent, never mistaken for another, and refusals stay what they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { permissionNames, resolvePermissions, keyedForTokens } from '../../../src/domain/permissions.ts';
import { CredentialRepository } from '../../../src/persistence/repositories/credential-repository.ts';
import { LocationRepository } from '../../../src/persistence/repositories/location-repository.ts';
import { OrganizationRepository } from '../../../src/persistence/repositories/organization-repository.ts';
import { RoleRepository } from '../../../src/persistence/repositories/role-repository.ts';
import { ServiceAccountRepository } from '../../../src/persistence/repositories/service-account-repository.ts';
import { TokenSubjectService } from '../../../src/services/token-subject-service.ts';
import { Fixtures } from '../../helpers/fixtures.ts';
import { openTestDatabase, type OpenTestDatabase } from '../../helpers/test-database.ts';

let database: OpenTestDatabase;
let fixtures: Fixtures;

beforeAll(async () => {
  database = await openTestDatabase('subject-batches');
  fixtures = new Fixtures(database.db);
}, 120_000);

afterAll(async () => {
  await database?.destroy();
});

/**
 * Revokes now, a millisecond on: created_at comes from the database clock in microseconds and may lie
 * later in the same millisecond as Date.now(), and a revoke may not predate its credential.
 */
function revoke(credentialId: string) {
  return new CredentialRepository(database.db).revoke([credentialId], new Date(Date.now() + 1), 'test');
}

/**
 * Two organizations (the second with its API turned off), and accounts whose grants use every part of
 * the model: all locations, a location list with a deleted location and one with a product id, a role
 * restricted by the matrix, a deleted role, a role not assignable to service accounts, no role at all.
 */
async function seedBatch() {
  const org = await fixtures.organization();
  const off = await fixtures.organization({ api_enabled: false });
  const locations = new LocationRepository(database.db);
  const north = await locations.create(org.id, 'north', `ext-north-${org.id}`);
  const south = await locations.create(org.id, 'south');
  const gone = await locations.create(org.id, 'gone');
  await locations.softDelete(org.id, gone.id, new Date());
  const reader = await fixtures.role(org.id, ['items:read', 'people:read']);
  const writer = await fixtures.role(org.id, ['items:write']);
  const deletedRole = await fixtures.role(org.id, ['charts:read']);
  const humansOnly = await fixtures.role(org.id, ['people:write'], { assignable: false });
  const everywhere = await fixtures.account(org.id, { allLocations: true, roles: [{ roleId: reader.id }] });
  const placed = await fixtures.account(org.id, {
    locationIds: [north.id, south.id, gone.id],
    roles: [
      { roleId: reader.id },
      { roleId: writer.id, restrictedTo: [south.id, gone.id] },
      { roleId: deletedRole.id },
      { roleId: humansOnly.id },
    ],
  });
  await new RoleRepository(database.db).softDelete(org.id, deletedRole.id, new Date());
  const roleless = await fixtures.account(org.id, { allLocations: true });
  const archived = await fixtures.account(org.id, { allLocations: true, roles: [{ roleId: reader.id }] });
  const offRole = await fixtures.role(off.id, ['items:read']);
  const offAccount = await fixtures.account(off.id, { allLocations: true, roles: [{ roleId: offRole.id }] });

  const live = {
    everywhere: await fixtures.credential(org.id, everywhere.id),
    placed: await fixtures.credential(org.id, placed.id),
    placedJwt: await fixtures.credential(org.id, placed.id, 'private_key_jwt'),
    roleless: await fixtures.credential(org.id, roleless.id),
    apiOff: await fixtures.credential(off.id, offAccount.id),
  };
  const revoked = await fixtures.credential(org.id, everywhere.id);
  await revoke(revoked.id);
  const expired = await fixtures.credential(org.id, everywhere.id, 'oauth_client', {
    expiresAt: new Date(Date.now() + 1000),
  });
  const ofArchived = await fixtures.credential(org.id, archived.id);
  await new ServiceAccountRepository(database.db).archive(org.id, archived.id, new Date());
  return { live, gone: { revoked, expired, ofArchived } };
}

/** The subject as the row-by-row reads make it: what a batch must agree with. */
async function readOneByOne(clientId: string) {
  const found = await new CredentialRepository(database.db).findWithOwnerByClientId(clientId);
  if (!found) throw new Error(`no credential ${clientId}`);
  const grants = await new ServiceAccountRepository(database.db).loadGrants(
    found.account.id,
    found.account.all_locations,
  );
  const permissions = keyedForTokens(resolvePermissions(grants), grants.productLocationIds);
  return { ...found, permissions, scopes: permissionNames(permissions) };
}

describe('token subjects loaded in one batch', () => {
  it('answers each client id as the row-by-row reads do, with the rows’ own types', async () => {
    const { live, gone } = await seedBatch();
    const service = new TokenSubjectService(database.db);
    const liveIds = Object.values(live).map((credential) => credential.clientId);
    const goneIds = Object.values(gone).map((credential) => credential.clientId);
    // Past the expired credential's end, in the batch's own clock.
    const now = new Date(Date.now() + 5000);
    const subjects = await service.findByClientIds(
      [...goneIds, ...liveIds, 'cid_nothing_has_this_id', 'bad\u0000id', liveIds[0]!],
      now,
    );

    expect([...subjects.keys()].sort()).toEqual([...liveIds].sort());
    for (const clientId of liveIds) {
      const subject = subjects.get(clientId)!;
      const expected = await readOneByOne(clientId);
      expect(subject.credential).toStrictEqual(expected.credential);
      expect(subject.account).toStrictEqual(expected.account);
      expect(subject.organization).toStrictEqual(expected.organization);
      expect(subject.permissions).toStrictEqual(expected.permissions);
      expect(subject.scopes).toStrictEqual(expected.scopes);
      // A batch of one agrees with the batch of many.
      expect(await service.findByClientId(clientId, now)).toStrictEqual(subject);
    }
    expect(subjects.get(live.placed.clientId)!.account.created_at).toBeInstanceOf(Date);
    expect(subjects.get(live.placed.clientId)!.organization.updated_at).toBeInstanceOf(Date);
  });

  it('keeps each refusal and each grant with its own credential', async () => {
    const { live } = await seedBatch();
    const subjects = await new TokenSubjectService(database.db).findByClientIds(
      Object.values(live).map((credential) => credential.clientId),
    );
    const placed = subjects.get(live.placed.clientId)!;
    const org = placed.organization;
    const [north, south] = await Promise.all(
      ['north', 'south'].map((name) => new LocationRepository(database.db).findLiveByName(org.id, name)),
    );
    // The reader role everywhere the account is (the deleted location excluded), the writer only where
    // the matrix allows; the deleted role and the one for people only grant nothing.
    expect(placed.permissions).toEqual({
      [north!.external_id!]: ['items:read', 'people:read'],
      [south!.id]: ['items:read', 'items:write', 'people:read'],
    });
    expect(placed.refusal).toBeNull();
    expect(subjects.get(live.placedJwt.clientId)!.credential.type).toBe('private_key_jwt');
    expect(subjects.get(live.placedJwt.clientId)!.permissions).toEqual(placed.permissions);
    expect(subjects.get(live.everywhere.clientId)!.permissions).toEqual({
      '*': ['items:read', 'people:read'],
    });
    expect(subjects.get(live.roleless.clientId)!.refusal).toBeTruthy();
    expect(subjects.get(live.apiOff.clientId)!.refusal).toBeTruthy();
    expect(subjects.get(live.apiOff.clientId)!.adminRefusal).toBeNull();
    expect(subjects.get(live.apiOff.clientId)!.organization.api_enabled).toBe(false);
  });

  it('a credential revoked or an organization changed since a batch is read as it now is by the next', async () => {
    const { live } = await seedBatch();
    const service = new TokenSubjectService(database.db);
    const ids = Object.values(live).map((credential) => credential.clientId);
    const before = await service.findByClientIds(ids);
    await revoke(live.placed.id);
    await new OrganizationRepository(database.db).updateSettings(
      before.get(live.apiOff.clientId)!.organization.id,
      {
        api_enabled: true,
      },
    );
    const after = await service.findByClientIds(ids);
    expect(after.has(live.placed.clientId)).toBe(false);
    expect(after.get(live.placedJwt.clientId)?.credential.id).toBe(live.placedJwt.id);
    expect(after.get(live.apiOff.clientId)!.refusal).toBeNull();
  });

  it('a batch of nothing, or of values no credential could have as its id, finds nothing', async () => {
    const service = new TokenSubjectService(database.db);
    expect((await service.findByClientIds([])).size).toBe(0);
    expect((await service.findByClientIds(['\u0000', 'x'.repeat(100_000)])).size).toBe(0);
  });
});
