import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  type AdminApi,
  adminApi,
  adminToken,
  bootstrapAdmin,
  claimsOf,
  expectStatus,
  productToken,
} from './admin-helpers.ts';

/** What c6c131b used as an imported key's public id: the unsalted SHA-256 of the key, truncated. */
function unsaltedDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * An imported legacy key cannot be recovered offline from anything svcauth shows (its id is not a hash
 * anyone can compute, no display shows its characters), and an import answers "in use in another
 * organization" exactly like any other key it cannot take.
 */
describe('legacy keys stay secret', () => {
  let server: TestServer;
  let acme: AdminApi;
  let globex: AdminApi;
  const KEY = 'legacy-key-from-the-old-system-Zq9w';

  beforeAll(async () => {
    server = await startTestServer();
    acme = adminApi(server, await adminToken(server, await bootstrapAdmin(server, 'acme')));
    globex = adminApi(server, await adminToken(server, await bootstrapAdmin(server, 'globex')));
    expectStatus(await acme.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('shows neither a hash of the key nor its characters in views, tokens, introspection or audit', async () => {
    const report = expectStatus(
      await acme.post('/legacy-keys:import', {
        keys: [{ key: KEY, name: 'Old sync', all_locations: true, role_names: ['Reader'] }],
      }),
      200,
    );
    expect(report.results[0]).toMatchObject({ status: 'imported' });
    const { service_account_id: accountId, credential_id: credentialId } = report.results[0];
    const credential = expectStatus(
      await acme.get(`/service-accounts/${accountId}/credentials/${credentialId}`),
      200,
    );
    const digest = unsaltedDigest(KEY);
    const leaks = (text: string) => {
      expect(text).not.toContain(digest.slice(0, 12));
      expect(text).not.toContain('Zq9w');
      expect(text).not.toContain(KEY);
    };
    expect(credential.client_id).toMatch(/^legacy_/);
    leaks(JSON.stringify(credential));
    leaks(JSON.stringify(expectStatus(await acme.get(`/service-accounts/${accountId}/credentials`), 200)));
    leaks(JSON.stringify(expectStatus(await acme.get('/audit-events?action=legacy_key.imported'), 200)));

    const token = await productToken(server, 'api', KEY);
    const claims = claimsOf(token) as unknown as { client_id: string };
    expect(claims.client_id).toBe(credential.client_id);
    leaks(JSON.stringify(claims));
    // Two imports of different keys never get related ids, and the key keeps working.
    expect((await productToken(server, 'api', KEY)).length).toBeGreaterThan(0);
  });

  it('answers a key registered in another organization like any key it cannot take', async () => {
    const shared = 'a-key-both-organizations-know-1234';
    expectStatus(
      await acme.post('/legacy-keys:import', {
        keys: [{ key: shared, name: 'Shared', all_locations: true }],
      }),
      200,
    );
    const report = expectStatus(
      await globex.post('/legacy-keys:import', {
        keys: [
          { key: shared, name: 'Shared here too', all_locations: true },
          { key: 'aaaaaaaaaaaaaaaaaaaaaaaa', name: 'Weak key', all_locations: true },
        ],
      }),
      200,
    );
    expect(report.summary).toEqual({ imported: 0, already_imported: 0, failed: 2 });
    const [elsewhere, weak] = report.results;
    expect(elsewhere.error).toEqual(weak.error);
    expect(JSON.stringify(elsewhere.error)).not.toMatch(/registered|in use|already|another/i);
  });
});
