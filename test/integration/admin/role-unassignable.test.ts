import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, expectStatus, productToken } from './admin-helpers.ts';
import { type DocumentedAdmin, startDocumentedAdmin } from './seed-helpers.ts';

/**
 * Seed 004: "service users cannot be assigned to the owner group". Marking a role not assignable to
 * service accounts while accounts hold it must never silently take it from them: it is refused with
 * the list of those accounts, or, asked for explicitly, the role is removed from each of them (their
 * tokens go stale, the audit trail names every account).
 */
describe('marking a held role not assignable to service accounts', () => {
  let ctx: DocumentedAdmin;
  let owner: { id: string };
  let other: { id: string };
  let paris: { id: string };
  let zapier: { id: string; permissions_version: number; credential: { api_key: string } };
  let etl: { id: string };

  beforeAll(async () => {
    ctx = await startDocumentedAdmin('unassignable');
    const { api } = ctx;
    paris = expectStatus(await api.post('/locations', { name: 'Paris' }), 201);
    owner = expectStatus(
      await api.post('/roles', { name: 'Owners', permissions: ['items:write', 'items:read'] }),
      201,
    );
    other = expectStatus(await api.post('/roles', { name: 'People', permissions: ['people:read'] }), 201);
    zapier = expectStatus(
      await api.post('/service-accounts', {
        name: 'Zapier',
        location_ids: [paris.id],
        roles: [{ role_id: owner.id }, { role_id: other.id }],
        credential: { type: 'api_key' },
      }),
      201,
    );
    etl = expectStatus(
      await api.post('/service-accounts', {
        name: 'ETL',
        location_ids: [paris.id],
        roles: [{ role_id: owner.id, location_ids: [paris.id] }],
      }),
      201,
    );
    // An archived holder no longer counts.
    const gone = expectStatus(
      await api.post('/service-accounts', {
        name: 'Gone',
        all_locations: true,
        roles: [{ role_id: owner.id }],
      }),
      201,
    );
    expectStatus(await api.post(`/service-accounts/${gone.id}:archive`), 200);
  });

  afterAll(async () => {
    await ctx?.server.stop();
  });

  it('is refused with the accounts holding the role, and changes nothing', async () => {
    const { api, server } = ctx;
    const before = claimsOf(await productToken(server, 'api', zapier.credential.api_key));
    const refused = await api.patch(`/roles/${owner.id}`, { assignable_to_service_accounts: false });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body.type).toMatch(/\/role_in_use$/);
    expect(refused.body.detail).toMatch(/2 service accounts hold this role/);
    expect(refused.body.detail).toMatch(/remove_from_holders=true/);
    expect(refused.body.details.service_account_count).toBe(2);
    expect(
      refused.body.details.service_accounts.map((a: { id: string; name: string }) => [a.name, a.id]).sort(),
    ).toEqual(
      [
        ['ETL', etl.id],
        ['Zapier', zapier.id],
      ].sort(),
    );

    expect(expectStatus(await api.get(`/roles/${owner.id}`), 200).assignable_to_service_accounts).toBe(true);
    const after = expectStatus(await api.get(`/service-accounts/${zapier.id}`), 200);
    expect(after.permissions_version).toBe(zapier.permissions_version);
    expect(claimsOf(await productToken(server, 'api', zapier.credential.api_key)).permissions).toEqual(
      before.permissions,
    );
  });

  it('with remove_from_holders=true, takes the role from each holder, makes their tokens stale and says so', async () => {
    const { api, server } = ctx;
    const applied = await api.patch(`/roles/${owner.id}?remove_from_holders=true`, {
      assignable_to_service_accounts: false,
    });
    expectStatus(applied, 200);
    expect(applied.body.assignable_to_service_accounts).toBe(false);

    const zapierAfter = expectStatus(await api.get(`/service-accounts/${zapier.id}`), 200);
    expect(zapierAfter.roles).toEqual([{ role_id: other.id, location_ids: null }]);
    expect(zapierAfter.permissions).toEqual({ [paris.id]: ['people:read'] });
    expect(zapierAfter.permissions_version).toBeGreaterThan(zapier.permissions_version);
    const etlAfter = expectStatus(await api.get(`/service-accounts/${etl.id}`), 200);
    expect(etlAfter).toMatchObject({ roles: [], status: 'disabled' });

    const token = claimsOf(await productToken(server, 'api', zapier.credential.api_key));
    expect(token.permissions).toEqual({ [paris.id]: ['people:read'] });
    expect(token.permissions_version).toBe(zapierAfter.permissions_version);

    const roleEvent = expectStatus(
      await api.get(`/audit-events?target_id=${owner.id}&action=role.updated`),
      200,
    ).items[0];
    expect(roleEvent.diff.after).toEqual({ assignable_to_service_accounts: false });
    expect([...roleEvent.diff.removed_from_service_account_ids].sort()).toEqual([etl.id, zapier.id].sort());
    const accountEvent = expectStatus(
      await api.get(`/audit-events?target_id=${zapier.id}&action=service_account.updated`),
      200,
    ).items[0];
    expect(accountEvent.diff).toMatchObject({
      removed_role_id: owner.id,
      reason: 'role marked not assignable to service accounts',
    });
    expect(accountEvent.diff.before.roles).toContainEqual({ role_id: owner.id, location_ids: null });
    expect(accountEvent.diff.after.roles).toEqual([{ role_id: other.id, location_ids: null }]);

    // Nobody can be given it now, as before.
    const refused = await api.patch(`/service-accounts/${zapier.id}`, {
      roles: [{ role_id: other.id }, { role_id: owner.id }],
    });
    expect(refused.status).toBe(422);
    expect(refused.body.type).toMatch(/\/role_not_assignable$/);
  });

  it('needs no flag when nobody holds the role', async () => {
    const spare = expectStatus(
      await ctx.api.post('/roles', { name: 'Spare', permissions: ['items:read'] }),
      201,
    );
    expectStatus(await ctx.api.patch(`/roles/${spare.id}`, { assignable_to_service_accounts: false }), 200);
  });
});
