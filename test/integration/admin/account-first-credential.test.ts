import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, expectStatus, productToken } from './admin-helpers.ts';
import { type DocumentedAdmin, startDocumentedAdmin } from './seed-helpers.ts';

/**
 * Seed 003: "you receive an API key on creation". Creating an account may issue its first credential
 * in the same request, shown once in that response, within the organization's API security settings;
 * a refused credential creates no account either.
 */
describe('creating a service account with its first credential', () => {
  let ctx: DocumentedAdmin;
  let roleId: string;

  beforeAll(async () => {
    ctx = await startDocumentedAdmin('first-credential');
    const { api } = ctx;
    roleId = expectStatus(await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201).id;
    expectStatus(
      await api.patch('/settings', {
        allowed_credential_types: ['oauth_client', 'api_key'],
        max_credential_lifetime_seconds: 30 * 86_400,
      }),
      200,
    );
  });

  afterAll(async () => {
    await ctx?.server.stop();
  });

  const accountNames = async () =>
    expectStatus(await ctx.api.get('/service-accounts?limit=200'), 200).items.map(
      (a: { name: string }) => a.name,
    );

  it('returns the API key once, in the 201, and the key gets tokens at once', async () => {
    const { api, server } = ctx;
    const created = expectStatus(
      await api.post('/service-accounts', {
        name: 'Zapier',
        all_locations: true,
        roles: [{ role_id: roleId }],
        credential: { type: 'api_key' },
      }),
      201,
    );
    expect(created).toMatchObject({ name: 'Zapier', status: 'active' });
    expect(created.credential).toMatchObject({
      service_account_id: created.id,
      type: 'api_key',
      slot: 'primary',
      status: 'active',
      name: 'Zapier',
    });
    expect(created.credential.api_key).toMatch(/^svcak_/);
    expect(created.credential.api_key).toContain(created.credential.client_id);
    // The organization's maximum lifetime applies as to any credential.
    expect(Date.parse(created.credential.expires_at)).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    const claims = claimsOf(await productToken(server, 'api', created.credential.api_key));
    expect(claims.sub).toBe(created.id);
    expect(claims.permissions).toEqual({ '*': ['items:read'] });

    // Shown once: neither the account nor its credentials show the key again.
    const again = expectStatus(await api.get(`/service-accounts/${created.id}`), 200);
    expect(again).not.toHaveProperty('credential');
    const listed = expectStatus(await api.get(`/service-accounts/${created.id}/credentials`), 200);
    expect(listed.items).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(created.credential.api_key);

    const audit = expectStatus(await api.get(`/audit-events?target_id=${created.credential.id}`), 200);
    expect(audit.items.map((e: { action: string }) => e.action)).toEqual(['credential.created']);
    expect(JSON.stringify(audit)).not.toContain(created.credential.api_key);
  });

  it('names the credential and issues an OAuth client when asked', async () => {
    const created = expectStatus(
      await ctx.api.post('/service-accounts', {
        name: 'ETL',
        all_locations: true,
        roles: [{ role_id: roleId }],
        credential: { type: 'oauth_client', name: 'nightly job' },
      }),
      201,
    );
    expect(created.credential).toMatchObject({ type: 'oauth_client', name: 'nightly job' });
    expect(created.credential.client_secret).toMatch(/^svcs_/);
    await productToken(ctx.server, created.credential.client_id, created.credential.client_secret);
  });

  it('answers no credential when none was asked for', async () => {
    const created = expectStatus(
      await ctx.api.post('/service-accounts', { name: 'Bare', all_locations: true }),
      201,
    );
    expect(created).not.toHaveProperty('credential');
  });

  it('refuses a credential the settings do not allow, and then creates no account', async () => {
    const wrongType = await ctx.api.post('/service-accounts', {
      name: 'Refused type',
      all_locations: true,
      credential: {
        type: 'private_key_jwt',
        jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] },
      },
    });
    expect(wrongType.status).toBe(422);
    expect(wrongType.body.type).toMatch(/\/credential_type_not_allowed$/);
    expect(wrongType.body.field).toBe('credential.type');
    expect(wrongType.body.detail).toMatch(
      /allow (oauth_client, api_key|api_key, oauth_client); not private_key_jwt/,
    );

    const tooLong = await ctx.api.post('/service-accounts', {
      name: 'Refused expiry',
      all_locations: true,
      credential: { type: 'api_key', expires_at: new Date(Date.now() + 400 * 86_400_000).toISOString() },
    });
    expect(tooLong.status).toBe(422);
    expect(tooLong.body.type).toMatch(/\/expiry_too_far$/);

    const malformed = await ctx.api.post('/service-accounts', {
      name: 'Refused body',
      all_locations: true,
      credential: { type: 'api_key', jwks: { keys: [{}] } },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([
      { field: 'credential.jwks', message: 'is not accepted for a api_key credential' },
    ]);

    expect(await accountNames()).not.toEqual(expect.arrayContaining([expect.stringMatching(/^Refused/)]));
  });
});
