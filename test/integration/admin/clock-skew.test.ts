import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectStatus, productToken } from './admin-helpers.ts';
import { createReaderAccount, type DocumentedAdmin, startDocumentedAdmin } from './seed-helpers.ts';

/**
 * The database stamps `created_at` with its own clock; svcauth stamps `revoked_at` with the clock of the
 * instance that revokes. Those clocks are never exactly the same (another host, NTP drift, or only the
 * same millisecond), and the schema requires revoked_at >= created_at. A credential revoked right after
 * it was created, by an instance whose clock runs behind the database's, must still be revoked: never
 * a 500 that leaves it working.
 *
 * The instance's clock is set behind by faking Date in this process (the server runs in it). On the
 * embedded database (PGlite reads the same faked clock) the two clocks agree and the test only checks
 * the revoke; on Postgres it reproduces the skew. The instance also signs the admin token it gets under
 * that clock with the deployment's first key, written a moment before by the other clock.
 */
const SKEW_MS = 3000;

describe('revoking with an instance clock behind the database clock', () => {
  let ctx: DocumentedAdmin;
  let accountPath: string;

  beforeAll(async () => {
    ctx = await startDocumentedAdmin('clock-skew');
    accountPath = await createReaderAccount(ctx.api, 'Sync');
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  afterAll(async () => {
    await ctx?.server.stop();
  });

  it('revokes a credential created a moment earlier, and it stops working', async () => {
    const created = expectStatus(
      await ctx.api.post(`${accountPath}/credentials`, { name: 'short-lived', type: 'oauth_client' }),
      201,
    );
    await productToken(ctx.server, created.client_id, created.client_secret);

    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, now: Date.now() - SKEW_MS });
    const api = await ctx.reconnect();
    const revoked = await api.post(`${accountPath}/credentials/${created.id}:revoke`);
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    // Never recorded as revoked before it existed.
    expect(Date.parse(revoked.body.revoked_at)).toBeGreaterThanOrEqual(Date.parse(created.created_at));
    vi.useRealTimers();

    await expect(productToken(ctx.server, created.client_id, created.client_secret)).rejects.toThrow();
  });

  it('revokes a just-created API key that presents itself at /revoke (the kill switch)', async () => {
    const created = expectStatus(
      await ctx.api.post(`${accountPath}/credentials`, { name: 'leaked', type: 'api_key' }),
      201,
    );
    const key: string = created.api_key;
    await productToken(ctx.server, 'api', key);

    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, now: Date.now() - SKEW_MS });
    const response = await fetch(`${ctx.server.issuer}/revoke`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`api:${key}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: key }).toString(),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    vi.useRealTimers();

    await expect(productToken(ctx.server, 'api', key)).rejects.toThrow();
  });
});
