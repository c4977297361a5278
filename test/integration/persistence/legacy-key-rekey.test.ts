import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rekeyImportedLegacyKeys } from '../../../migrations/0004_legacy_key_lookup.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  adminApi,
  adminToken,
  bootstrapAdmin,
  claimsOf,
  expectStatus,
  productToken,
} from '../admin/admin-helpers.ts';

/**
 * Migration 0004 on keys imported before it: their public id stops being the unsalted digest of the
 * key at once, their key keeps working, and the digest (kept only as an internal lookup value) is
 * replaced by the keyed hash the first time the key is presented.
 */
describe('migration 0004: legacy keys imported before it', () => {
  let server: TestServer;
  const KEY = 'key-imported-before-the-migration-Xy7';
  const oldId = `legacy_${createHash('sha256').update(KEY).digest('hex').slice(0, 24)}`;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('moves them to a random id, keeps the key working, and rekeys the lookup on first use', async () => {
    const api = adminApi(server, await adminToken(server, await bootstrapAdmin(server, 'before-0004')));
    expectStatus(await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201);
    const report = expectStatus(
      await api.post('/legacy-keys:import', {
        keys: [{ key: KEY, name: 'Old', all_locations: true, role_names: ['Reader'] }],
      }),
      200,
    );
    const credentialId = report.results[0].credential_id as string;
    const db = server.database.db;
    // The row and its audit event as c6c131b wrote them.
    await db
      .updateTable('credentials')
      .set({ client_id: oldId, legacy_lookup: null, display_hint: '…-Xy7' })
      .where('id', '=', credentialId)
      .execute();
    const event = await db
      .selectFrom('audit_events')
      .select(['id', 'diff'])
      .where('action', '=', 'legacy_key.imported')
      .where('target_id', '=', report.results[0].service_account_id)
      .executeTakeFirstOrThrow();
    const diff = event.diff as { after: Record<string, unknown> };
    await db
      .updateTable('audit_events')
      .set({
        diff: sql`${JSON.stringify({ after: { ...diff.after, client_id: oldId, display_hint: '…-Xy7' } })}::jsonb`,
      })
      .where('id', '=', event.id)
      .execute();

    expect(await rekeyImportedLegacyKeys(db as unknown as Kysely<unknown>)).toBe(1);
    expect(await rekeyImportedLegacyKeys(db as unknown as Kysely<unknown>)).toBe(0);

    const row = await db
      .selectFrom('credentials')
      .selectAll()
      .where('id', '=', credentialId)
      .executeTakeFirstOrThrow();
    expect(row.client_id).toMatch(/^legacy_[0-9a-f]{32}$/);
    expect(row.client_id).not.toBe(oldId);
    expect(row.display_hint).toBe('legacy_…');
    expect(row.legacy_lookup).toBe(`sha256:${oldId.slice('legacy_'.length)}`);
    const audit = expectStatus(await api.get('/audit-events?action=legacy_key.imported'), 200);
    expect(JSON.stringify(audit.items)).not.toContain(oldId.slice(7));
    expect(JSON.stringify(audit.items)).not.toContain('Xy7');
    expect(JSON.stringify(audit.items)).toContain(row.client_id);

    const claims = claimsOf(await productToken(server, 'api', KEY)) as unknown as { client_id: string };
    expect(claims.client_id).toBe(row.client_id);
    const after = await db
      .selectFrom('credentials')
      .select('legacy_lookup')
      .where('id', '=', credentialId)
      .executeTakeFirstOrThrow();
    expect(after.legacy_lookup).toMatch(/^hmac:[0-9a-f]{64}$/);
    expect((await productToken(server, 'api', KEY)).length).toBeGreaterThan(0);
  });
});
