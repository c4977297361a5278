import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus, productToken, requestToken } from './admin-helpers.ts';
import { createReaderAccount, type DocumentedAdmin, startDocumentedAdmin } from './seed-helpers.ts';

/**
 * Seeds 003 and 004: a lineage holds a primary and at most one secondary. Rotating revokes the older
 * secondary only as the documented side effect of rotating the primary; naming the secondary itself
 * never revokes it behind the caller's back, and a secondary left alone (its primary revoked) is
 * rotated like a primary: a new primary, the secondary keeps working.
 */
describe('rotating a secondary credential', () => {
  let ctx: DocumentedAdmin;
  let accountPath: string;

  beforeAll(async () => {
    ctx = await startDocumentedAdmin('rotation-slots');
    accountPath = await createReaderAccount(ctx.api, 'Sync');
  });

  afterAll(async () => {
    await ctx?.server.stop();
  });

  it('refuses to rotate a secondary while its primary is live, and leaves it working', async () => {
    const { api, server } = ctx;
    const first = expectStatus(
      await api.post(`${accountPath}/credentials`, { name: 'a', type: 'oauth_client' }),
      201,
    );
    const second = expectStatus(await api.post(`${accountPath}/credentials/${first.id}:rotate`, {}), 201);
    expect(expectStatus(await api.get(`${accountPath}/credentials/${first.id}`), 200).slot).toBe('secondary');

    const refused = await api.post(`${accountPath}/credentials/${first.id}:rotate`, {});
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body.type).toMatch(/\/rotate_the_primary$/);
    expect(refused.body.detail).toContain(second.id);
    expect(refused.body.details).toMatchObject({ primary_credential_id: second.id });

    // Nothing changed: both still work, in their slots.
    expect(expectStatus(await api.get(`${accountPath}/credentials/${first.id}`), 200)).toMatchObject({
      status: 'active',
      slot: 'secondary',
    });
    expect(expectStatus(await api.get(`${accountPath}/credentials/${second.id}`), 200)).toMatchObject({
      status: 'active',
      slot: 'primary',
    });
    await productToken(server, first.client_id, first.client_secret);
    await productToken(server, second.client_id, second.client_secret);
  });

  it('rotates a lone secondary (its primary revoked): a new primary, the secondary kept working', async () => {
    const { api, server } = ctx;
    const first = expectStatus(
      await api.post(`${accountPath}/credentials`, { name: 'b', type: 'api_key' }),
      201,
    );
    const second = expectStatus(await api.post(`${accountPath}/credentials/${first.id}:rotate`, {}), 201);
    expectStatus(await api.post(`${accountPath}/credentials/${second.id}:revoke`), 200);

    const rotated = expectStatus(await api.post(`${accountPath}/credentials/${first.id}:rotate`, {}), 201);
    expect(rotated).toMatchObject({ slot: 'primary', lineage_id: first.lineage_id, status: 'active' });
    expect(rotated.api_key).toMatch(/^svcak_/);
    // Promoted in place of the revoked primary, then demoted by the rotation like any primary.
    expect(rotated.rotation).toEqual({
      promoted_credential_id: first.id,
      demoted_credential_id: first.id,
      revoked_credential_ids: [],
    });
    expect(expectStatus(await api.get(`${accountPath}/credentials/${first.id}`), 200)).toMatchObject({
      status: 'active',
      slot: 'secondary',
    });
    await productToken(server, 'api', first.api_key);
    await productToken(server, 'api', rotated.api_key);
    expect((await requestToken(server, 'api', second.api_key)).status).toBe(401);

    // The lineage is whole again: rotating its primary now drops that secondary, as documented.
    const again = expectStatus(await api.post(`${accountPath}/credentials/${rotated.id}:rotate`, {}), 201);
    expect(again.rotation).toEqual({
      promoted_credential_id: null,
      demoted_credential_id: rotated.id,
      revoked_credential_ids: [first.id],
    });

    const audit = expectStatus(
      await api.get(`/audit-events?action=credential.rotated&target_id=${first.id}`),
      200,
    );
    expect(audit.items[0].diff.after).toMatchObject({
      promoted_credential_id: first.id,
      revoked_credential_ids: [],
    });
  });
});
