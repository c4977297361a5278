import { describe, expect, it } from 'vitest';
import { keyedForTokens, resolvePermissions, tokenLocationKey } from '../../../src/domain/permissions.ts';
import { planLocationSync, withoutLocation } from '../../../src/domain/location-sync.ts';
import { DomainError } from '../../../src/domain/errors.ts';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const C = '00000000-0000-4000-8000-00000000000c';

describe('planLocationSync', () => {
  const live = [
    { id: A, name: 'Store 1', externalId: 's1' },
    { id: B, name: 'Store 2', externalId: 's2' },
    { id: C, name: 'Warehouse', externalId: null },
  ];

  it('changes nothing for the list it was given before', () => {
    const plan = planLocationSync(
      live,
      [
        { externalId: 's1', name: 'Store 1' },
        { externalId: 's2', name: 'Store 2' },
      ],
      'replace',
    );
    expect(plan).toEqual({ create: [], update: [], delete: [], unchanged: 2 });
  });

  it('creates, renames and (replace only) deletes the product locations left out, never its own', () => {
    const wanted = [
      { externalId: 's1', name: 'Store One' },
      { externalId: 's3', name: 'Store 3' },
    ];
    const upsert = planLocationSync(live, wanted, 'upsert');
    expect(upsert.create).toEqual([{ externalId: 's3', name: 'Store 3' }]);
    expect(upsert.update).toEqual([{ before: live[0], name: 'Store One', externalId: 's1' }]);
    expect(upsert.delete).toEqual([]);
    expect(planLocationSync(live, wanted, 'replace').delete).toEqual([live[1]]);
  });

  it('adopts a location of the same name without a product id', () => {
    const plan = planLocationSync(live, [{ externalId: 'w1', name: 'warehouse' }], 'upsert');
    expect(plan.update).toEqual([{ before: live[2], name: 'warehouse', externalId: 'w1' }]);
    expect(plan.create).toEqual([]);
  });

  it('lets names move between locations within one list, refuses a name a kept location holds', () => {
    const swapped = planLocationSync(
      live,
      [
        { externalId: 's1', name: 'Store 2' },
        { externalId: 's2', name: 'Store 1' },
      ],
      'upsert',
    );
    expect(swapped.update).toHaveLength(2);
    expect(() => planLocationSync(live, [{ externalId: 's1', name: 'Store 2' }], 'upsert')).toThrow(
      expect.objectContaining({ code: 'name_taken', details: { field: 'locations[0].name' } }),
    );
    // Deleted in the same sync: its name is free.
    expect(
      planLocationSync(
        live,
        [
          { externalId: 's9', name: 'store 2' },
          { externalId: 's1', name: 'Store 1' },
        ],
        'replace',
      ).create,
    ).toHaveLength(1);
  });

  it('refuses an id or a name listed twice, naming the entry', () => {
    const twice = () =>
      planLocationSync(
        [],
        [
          { externalId: 'x', name: 'A' },
          { externalId: 'x', name: 'B' },
        ],
        'upsert',
      );
    expect(twice).toThrow(DomainError);
    expect(twice).toThrow(expect.objectContaining({ details: { field: 'locations[1].external_id' } }));
    expect(() =>
      planLocationSync(
        [],
        [
          { externalId: 'x', name: 'A' },
          { externalId: 'y', name: 'a' },
        ],
        'upsert',
      ),
    ).toThrow(expect.objectContaining({ details: { field: 'locations[1].name' } }));
  });
});

describe('withoutLocation', () => {
  it('drops the location and its ticks, and a role ticked only there rather than widening it', () => {
    const after = withoutLocation(
      {
        locationIds: [A, B],
        roles: [
          { roleId: 'everywhere', restrictedTo: null },
          { roleId: 'both', restrictedTo: [A, B] },
          { roleId: 'only-b', restrictedTo: [B] },
        ],
      },
      B,
    );
    expect(after).toEqual({
      locationIds: [A],
      roles: [
        { roleId: 'everywhere', restrictedTo: null },
        { roleId: 'both', restrictedTo: [A] },
      ],
      droppedRoleIds: ['only-b'],
    });
    // What it resolves to: nothing at A from the role that applied only at B.
    expect(
      resolvePermissions({
        allLocations: false,
        locationIds: after.locationIds,
        roles: [{ roleId: 'both', permissions: ['items:read'], restrictedTo: [A] }],
      }),
    ).toEqual({ [A]: ['items:read'] });
  });
});

describe('token location keys', () => {
  it("keys a location by the product's id where there is one, svcauth's id otherwise; '*' stays", () => {
    expect(tokenLocationKey({ id: A, externalId: 'store-1' })).toBe('store-1');
    expect(tokenLocationKey({ id: A, externalId: null })).toBe(A);
    expect(
      keyedForTokens(
        { '*': ['audit:read'], [A]: ['items:read'], [B]: ['items:write'] },
        new Map([[A, 'store-1']]),
      ),
    ).toEqual({ '*': ['audit:read'], [B]: ['items:write'], 'store-1': ['items:read'] });
  });
});
