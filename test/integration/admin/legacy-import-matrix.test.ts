import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, expectStatus, productToken } from './admin-helpers.ts';
import { type DocumentedAdmin, startDocumentedAdmin } from './seed-helpers.ts';

const KEY = 'legacy-matrix-key-0001-qwertyuiopasdf';

/**
 * Seed 002's "Advanced Role Configuration": a legacy key whose role applied only in some of its
 * locations is imported with that role x location matrix, so the imported key reaches exactly what the
 * old key reached, no more (a role at every location would widen it) and no less.
 */
describe('legacy key import with the role x location matrix', () => {
  let ctx: DocumentedAdmin;
  let paris: { id: string };
  let berlin: { id: string };
  let lyon: { id: string };
  let reader: { id: string };
  let writer: { id: string };

  beforeAll(async () => {
    ctx = await startDocumentedAdmin('legacy-matrix');
    const { api } = ctx;
    paris = expectStatus(await api.post('/locations', { name: 'Paris' }), 201);
    berlin = expectStatus(await api.post('/locations', { name: 'Berlin' }), 201);
    lyon = expectStatus(await api.post('/locations', { name: 'Lyon' }), 201);
    reader = expectStatus(await api.post('/roles', { name: 'Reader', permissions: ['items:read'] }), 201);
    writer = expectStatus(
      await api.post('/roles', { name: 'Writer', permissions: ['items:write', 'items:read_private'] }),
      201,
    );
  });

  afterAll(async () => {
    await ctx?.server.stop();
  });

  it('keeps exactly the old reach: the token and the introspected key carry the matrix', async () => {
    const { api, server } = ctx;
    const report = expectStatus(
      await api.post('/legacy-keys:import', {
        keys: [
          {
            key: KEY,
            name: 'Old warehouse sync',
            location_names: ['Paris', 'Berlin', 'Lyon'],
            role_names: ['Reader'],
            roles: [{ role_name: 'Writer', location_names: ['paris'] }],
          },
          {
            key: 'legacy-matrix-key-0002-zxcvbnmasdfghj',
            name: 'Old BI feed',
            location_ids: [paris.id, lyon.id],
            roles: [
              { role_id: reader.id, location_ids: [lyon.id] },
              { role_id: writer.id, location_ids: [paris.id] },
            ],
          },
        ],
      }),
      200,
    );
    expect(report.summary).toEqual({ imported: 2, already_imported: 0, failed: 0 });

    const oldReach = {
      [paris.id]: ['items:read', 'items:read_private', 'items:write'],
      [berlin.id]: ['items:read'],
      [lyon.id]: ['items:read'],
    };
    const account = expectStatus(
      await api.get(`/service-accounts/${report.results[0].service_account_id}`),
      200,
    );
    expect(account.roles).toEqual(
      expect.arrayContaining([
        { role_id: reader.id, location_ids: null },
        { role_id: writer.id, location_ids: [paris.id] },
      ]),
    );
    expect(account.permissions).toEqual(oldReach);

    const token = await productToken(server, 'api', KEY);
    expect(claimsOf(token).permissions).toEqual(oldReach);
    const introspectedToken = await ctx.introspect(token);
    expect(introspectedToken).toMatchObject({ active: true, permissions: oldReach });
    const introspectedKey = await ctx.introspect(KEY);
    expect(introspectedKey).toMatchObject({ active: true, permissions: oldReach });

    const second = claimsOf(await productToken(server, 'api', 'legacy-matrix-key-0002-zxcvbnmasdfghj'));
    expect(second.permissions).toEqual({
      [paris.id]: ['items:read_private', 'items:write'],
      [lyon.id]: ['items:read'],
    });
  });

  it('refuses a row whose matrix is not within its locations or names no role, and writes nothing of it', async () => {
    const report = expectStatus(
      await ctx.api.post('/legacy-keys:import', {
        keys: [
          {
            key: 'legacy-matrix-key-0003-poiuytrewqlkjh',
            name: 'Outside its locations',
            location_names: ['Paris'],
            roles: [{ role_name: 'Writer', location_names: ['Berlin'] }],
          },
          {
            key: 'legacy-matrix-key-0004-mnbvcxzlkjhgfd',
            name: 'Unknown location in the matrix',
            location_names: ['Paris'],
            roles: [{ role_name: 'Writer', location_names: ['Atlantis'] }],
          },
        ],
      }),
      200,
    );
    expect(report.summary).toEqual({ imported: 0, already_imported: 0, failed: 2 });
    expect(report.results[0].error).toMatchObject({
      code: 'invalid_assignments',
      field: 'roles[0].location_ids',
    });
    expect(report.results[0].error.message).toMatch(/not one of the account's locations/);
    expect(report.results[1].error).toMatchObject({ code: 'unknown_reference' });
    expect(report.results[1].error.message).toContain('location named "Atlantis"');

    const malformed = await ctx.api.post('/legacy-keys:import', {
      keys: [
        { key: 'legacy-matrix-key-0005-aaaabbbbccccdd', name: 'x', location_names: ['Paris'], roles: [{}] },
      ],
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors[0].field).toBe('keys[0].roles[0]');
  });
});
