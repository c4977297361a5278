import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from './admin-helpers.ts';
import { type DocumentedAdmin, startDocumentedAdmin } from './seed-helpers.ts';

type Listed = { id: string; name: string; credential_counts: Record<string, number> };

/**
 * The seeds' account list: find an account by name, by status, by role and by location, see how many
 * credentials each has, and see which accounts hold a role. Filters combine, and pages continue with
 * the filters they were asked with.
 */
describe('the service account list', () => {
  let ctx: DocumentedAdmin;
  const ids: Record<string, string> = {};
  let reader: { id: string };
  let writer: { id: string };
  let paris: { id: string };
  let berlin: { id: string };

  beforeAll(async () => {
    ctx = await startDocumentedAdmin('account-list');
    const { api } = ctx;
    paris = expectStatus(await api.post('/locations', { name: 'Paris' }), 201);
    berlin = expectStatus(await api.post('/locations', { name: 'Berlin' }), 201);
    reader = expectStatus(await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201);
    writer = expectStatus(await api.post('/roles', { name: 'Writer', permissions: ['items:write'] }), 201);
    const create = async (body: Record<string, unknown>) => {
      const created = expectStatus(await api.post('/service-accounts', body), 201);
      ids[created.name] = created.id;
      return created;
    };
    const sync = await create({
      name: 'Zapier Sync',
      location_ids: [paris.id],
      roles: [{ role_id: reader.id }],
      credential: { type: 'api_key' },
    });
    const spare = expectStatus(
      await api.post(`/service-accounts/${sync.id}/credentials`, { name: 'spare', type: 'oauth_client' }),
      201,
    );
    expectStatus(await api.post(`/service-accounts/${sync.id}/credentials/${spare.id}:revoke`), 200);
    await create({ name: 'zapier backup', location_ids: [berlin.id], roles: [{ role_id: writer.id }] });
    await create({ name: 'ETL nightly', all_locations: true });
    await create({ name: '100% coverage_bot', location_ids: [paris.id], roles: [{ role_id: writer.id }] });
    const old = await create({
      name: 'Old export',
      location_ids: [paris.id],
      roles: [{ role_id: reader.id }],
    });
    expectStatus(await api.post(`/service-accounts/${old.id}:archive`), 200);
  });

  afterAll(async () => {
    await ctx?.server.stop();
  });

  /** The names a query lists, among the accounts this test made (the admin and built-in exist too). */
  async function names(query: string, path = '/service-accounts'): Promise<string[]> {
    const page = expectStatus(await ctx.api.get(`${path}?limit=200&${query}`), 200);
    return page.items
      .map((a: Listed) => a.name)
      .filter((name: string) => name in ids)
      .sort();
  }

  it('searches names case-insensitively, by substring, taking the search literally', async () => {
    expect(await names('q=zapier')).toEqual(['Zapier Sync', 'zapier backup']);
    expect(await names('q=SYNC')).toEqual(['Zapier Sync']);
    expect(await names(`q=${encodeURIComponent('100%')}`)).toEqual(['100% coverage_bot']);
    expect(await names(`q=${encodeURIComponent('%')}`)).toEqual(['100% coverage_bot']);
    expect(await names('q=_')).toEqual(['100% coverage_bot']);
    expect(await names('q=export')).toEqual([]);
    expect(await names('q=export&include_archived=true')).toEqual(['Old export']);
  });

  it('filters by derived status', async () => {
    expect(await names('status=active')).toEqual(['100% coverage_bot', 'Zapier Sync', 'zapier backup']);
    expect(await names('status=disabled')).toEqual(['ETL nightly']);
    expect(await names('status=archived')).toEqual(['Old export']);
  });

  it('filters by role and by location (an account on all locations is at every one)', async () => {
    expect(await names(`role_id=${reader.id}`)).toEqual(['Zapier Sync']);
    expect(await names(`role_id=${reader.id}&include_archived=true`)).toEqual(['Old export', 'Zapier Sync']);
    expect(await names(`location_id=${berlin.id}`)).toEqual(['ETL nightly', 'zapier backup']);
    expect(await names(`location_id=${paris.id}`)).toEqual([
      '100% coverage_bot',
      'ETL nightly',
      'Zapier Sync',
    ]);
    expect(await names(`q=zapier&location_id=${berlin.id}`)).toEqual(['zapier backup']);
    expect(await names(`role_id=${writer.id}&location_id=${paris.id}&status=active`)).toEqual([
      '100% coverage_bot',
    ]);
    // Another organization's ids, or made-up ones, simply match nothing.
    expect(await names('role_id=00000000-0000-4000-8000-000000000000')).toEqual([]);
  });

  it('shows credential counts per account', async () => {
    const page = expectStatus(await ctx.api.get('/service-accounts?q=zapier'), 200);
    const byName = new Map(page.items.map((a: Listed) => [a.name, a.credential_counts]));
    expect(byName.get('Zapier Sync')).toEqual({ active: 1, expired: 0, revoked: 1 });
    expect(byName.get('zapier backup')).toEqual({ active: 0, expired: 0, revoked: 0 });
    const one = expectStatus(await ctx.api.get(`/service-accounts/${ids['Zapier Sync']}`), 200);
    expect(one.credential_counts).toEqual({ active: 1, expired: 0, revoked: 1 });
  });

  it('lists the accounts holding a role', async () => {
    expect(await names('', `/roles/${writer.id}/service-accounts`)).toEqual([
      '100% coverage_bot',
      'zapier backup',
    ]);
    expect(await names(`location_id=${berlin.id}`, `/roles/${writer.id}/service-accounts`)).toEqual([
      'zapier backup',
    ]);
    expect(await names('include_archived=true', `/roles/${reader.id}/service-accounts`)).toEqual([
      'Old export',
      'Zapier Sync',
    ]);
    const unknown = await ctx.api.get('/roles/00000000-0000-4000-8000-000000000000/service-accounts');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('pages through a filtered list with the same filters, one page at a time', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Listed[]; next_cursor: string | null } = expectStatus(
        await ctx.api.get(`/service-accounts?q=zapier&limit=1${cursor ? `&cursor=${cursor}` : ''}`),
        200,
      );
      expect(page.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.items.map((a) => a.name));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['Zapier Sync', 'zapier backup']);
  });

  it('refuses filters it cannot read, naming them', async () => {
    const refused = await ctx.api.get('/service-accounts?status=sleeping&role_id=nope');
    expect(refused.status).toBe(400);
    expect(refused.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['role_id', 'status']);
  });
});
