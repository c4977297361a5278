import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminApi, expectStatus, requestToken } from './admin-helpers.ts';
import { type DocumentedAdmin, startDocumentedAdmin } from './seed-helpers.ts';

/**
 * Seed 000: "Deleting a Service Account permanently removes it". Archiving revokes everything and
 * keeps the row; purging an archived account then removes its row and its credentials for good, while
 * the audit trail keeps what it was called and which credentials it had.
 */
describe('purging an archived service account', () => {
  let ctx: DocumentedAdmin;
  let roleId: string;

  beforeAll(async () => {
    ctx = await startDocumentedAdmin('purge');
    roleId = expectStatus(
      await ctx.api.post('/roles', { name: 'Reader', permissions: ['items:read'] }),
      201,
    ).id;
  });

  afterAll(async () => {
    await ctx?.server.stop();
  });

  async function accountWithKey(name: string) {
    const created = expectStatus(
      await ctx.api.post('/service-accounts', {
        name,
        all_locations: true,
        roles: [{ role_id: roleId }],
        credential: { type: 'api_key', name: `${name} key` },
      }),
      201,
    );
    return created;
  }

  it('refuses to purge an account that is not archived, and changes nothing', async () => {
    const live = await accountWithKey('Still live');
    const refused = await ctx.api.post(`/service-accounts/${live.id}:purge`);
    expect(refused.status).toBe(409);
    expect(refused.body.type).toMatch(/\/account_not_archived$/);
    expect(refused.body.detail).toMatch(/archive it first/);
    expectStatus(await ctx.api.get(`/service-accounts/${live.id}`), 200);
    expect((await requestToken(ctx.server, 'api', live.credential.api_key)).status).toBe(200);
  });

  it('removes the row and the credentials of an archived account; the audit trail keeps the names', async () => {
    const { api } = ctx;
    const account = await accountWithKey('Old BI export');
    const second = expectStatus(
      await api.post(`/service-accounts/${account.id}/credentials`, { name: 'backup', type: 'oauth_client' }),
      201,
    );
    expectStatus(await api.post(`/service-accounts/${account.id}:archive`), 200);

    const purged = await api.post(`/service-accounts/${account.id}:purge`);
    expect(purged.status).toBe(204);
    expect(purged.body).toBeNull();

    // Gone: the account, its credentials, and from every list (archived included).
    expect((await api.get(`/service-accounts/${account.id}`)).status).toBe(404);
    expect((await api.get(`/service-accounts/${account.id}/credentials`)).status).toBe(404);
    expect((await api.get(`/service-accounts/${account.id}/credentials/${second.id}`)).status).toBe(404);
    const all = expectStatus(await api.get('/service-accounts?include_archived=true&limit=200'), 200);
    expect(all.items.map((a: { id: string }) => a.id)).not.toContain(account.id);
    // Purging twice is the 404 of an account that does not exist.
    expect((await api.post(`/service-accounts/${account.id}:purge`)).status).toBe(404);
    const rows = await ctx.server.database.db
      .selectFrom('credentials')
      .select('id')
      .where('service_account_id', '=', account.id)
      .execute();
    expect(rows).toEqual([]);
    expect((await requestToken(ctx.server, 'api', account.credential.api_key)).status).toBe(401);

    // The trail of the account is kept, and the purge event says what was removed, by name.
    const trail = expectStatus(await api.get(`/audit-events?target_id=${account.id}`), 200);
    expect(trail.items.map((e: { action: string }) => e.action)).toEqual([
      'service_account.purged',
      'service_account.archived',
      'service_account.created',
    ]);
    expect(trail.items[0].diff.before).toMatchObject({
      name: 'Old BI export',
      credentials: expect.arrayContaining([
        expect.objectContaining({ id: account.credential.id, name: 'Old BI export key', type: 'api_key' }),
        expect.objectContaining({ id: second.id, name: 'backup', type: 'oauth_client' }),
      ]),
    });
    const credentialTrail = expectStatus(await api.get(`/audit-events?target_id=${second.id}`), 200);
    expect(credentialTrail.items.map((e: { action: string }) => e.action)).toEqual(['credential.created']);

    // The name was free since the archive, and stays free.
    expectStatus(await api.post('/service-accounts', { name: 'Old BI export', all_locations: true }), 201);
  });

  it('needs service_accounts:delete', async () => {
    const { api, server } = ctx;
    const account = await accountWithKey('Needs delete');
    expectStatus(await api.post(`/service-accounts/${account.id}:archive`), 200);
    const writerOnly = adminApi(
      server,
      await requestScopedAdminToken(ctx, 'service_accounts:read service_accounts:write'),
      ctx.check,
    );
    const refused = await writerOnly.post(`/service-accounts/${account.id}:purge`);
    expect(refused.status).toBe(403);
    expect(refused.body.required_permissions).toEqual(['service_accounts:delete']);
    expectStatus(await api.get(`/service-accounts/${account.id}`), 200);
  });
});

async function requestScopedAdminToken(ctx: DocumentedAdmin, scope: string): Promise<string> {
  const response = await fetch(`${ctx.server.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${ctx.admin.clientId}:${ctx.admin.secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      resource: `${ctx.server.issuer}/admin`,
      scope,
    }).toString(),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}
