import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from './admin-helpers.ts';
import { type DocumentedAdmin, startDocumentedAdmin } from './seed-helpers.ts';

const ACCOUNTS = 10_000;

/**
 * An organization with 10,000 service accounts: every filter of the list still pages through exactly
 * the accounts it matches, each once, in creation order (keyset pages on the indexes of migration 0012).
 */
describe('the service account list at 10,000 accounts', () => {
  let ctx: DocumentedAdmin;
  let roleId: string;
  let locationId: string;

  beforeAll(async () => {
    ctx = await startDocumentedAdmin('list-scale');
    const { api, admin } = ctx;
    roleId = expectStatus(await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201).id;
    locationId = expectStatus(await api.post('/locations', { name: 'Paris' }), 201).id;
    // Test setup straight into the tables, a thousand rows a statement: 10,000 API calls would take minutes.
    const db = ctx.server.database.db;
    for (let start = 0; start < ACCOUNTS; start += 1000) {
      const rows = await db
        .insertInto('service_accounts')
        .values(
          Array.from({ length: 1000 }, (_, offset) => {
            const n = start + offset;
            return {
              org_id: admin.orgId,
              name: `${n % 100 === 0 ? 'Needle ' : 'account '}${String(n).padStart(5, '0')}`,
              created_at: new Date(Date.UTC(2025, 0, 1) + n * 1000),
            };
          }),
        )
        .returning(['id', 'name'])
        .execute();
      const numbered = rows.map((row) => ({ id: row.id, n: Number(row.name.slice(-5)) }));
      const holders = numbered.filter(({ n }) => n % 10 === 0);
      await db
        .insertInto('service_account_roles')
        .values(holders.map(({ id }) => ({ org_id: admin.orgId, service_account_id: id, role_id: roleId })))
        .execute();
      await db
        .insertInto('service_account_locations')
        .values(
          numbered
            .filter(({ n }) => n % 7 === 0)
            .map(({ id }) => ({ org_id: admin.orgId, service_account_id: id, location_id: locationId })),
        )
        .execute();
    }
  }, 180_000);

  afterAll(async () => {
    await ctx?.server.stop();
  });

  /** Every name a filtered list pages through, 200 at a time, checking no account comes twice. */
  async function walk(query: string): Promise<string[]> {
    const names: string[] = [];
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: { items: Array<{ id: string; name: string }>; next_cursor: string | null } = expectStatus(
        await ctx.api.get(`/service-accounts?limit=200&${query}${cursor ? `&cursor=${cursor}` : ''}`),
        200,
      );
      for (const item of page.items) {
        expect(seen.has(item.id)).toBe(false);
        seen.add(item.id);
        names.push(item.name);
      }
      cursor = page.next_cursor;
    } while (cursor);
    return names;
  }

  const numbers = (names: string[]) => names.filter((n) => /\d{5}$/.test(n)).map((n) => Number(n.slice(-5)));
  const expected = (keep: (n: number) => boolean) =>
    Array.from({ length: ACCOUNTS }, (_, n) => n).filter(keep);

  it('finds the few accounts a name search matches', async () => {
    expect(numbers(await walk('q=needle'))).toEqual(expected((n) => n % 100 === 0));
  });

  it('pages through the holders of a role, and through its holders at a location', async () => {
    expect(numbers(await walk(`role_id=${roleId}`))).toEqual(expected((n) => n % 10 === 0));
    expect(numbers(await walk(`role_id=${roleId}&location_id=${locationId}&status=active`))).toEqual(
      expected((n) => n % 70 === 0),
    );
  });

  it('pages through the active accounts, and starts the whole list in creation order', async () => {
    expect(numbers(await walk('status=active'))).toEqual(expected((n) => n % 10 === 0));
    const first = expectStatus(await ctx.api.get('/service-accounts?limit=200'), 200);
    const second = expectStatus(
      await ctx.api.get(`/service-accounts?limit=200&cursor=${first.next_cursor}`),
      200,
    );
    const names = [...first.items, ...second.items].map((a: { name: string }) => a.name);
    // The 10,000 were dated 2025 (before the admin and the built-in account): they come first, in order.
    expect(numbers(names)).toEqual(expected((n) => n < 400));
  });
});
