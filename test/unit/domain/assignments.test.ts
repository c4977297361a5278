import { describe, expect, it } from 'vitest';
import {
  type Assignments,
  assignmentsDiffer,
  checkAssignments,
  mergeAssignments,
} from '../../../src/domain/assignments.ts';
import { DomainError } from '../../../src/domain/errors.ts';

const L1 = 'loc-1';
const L2 = 'loc-2';
const L3 = 'loc-3';

function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe('checkAssignments', () => {
  it('accepts locations with roles and a matrix inside them, dropping duplicate locations', () => {
    expect(
      checkAssignments({
        allLocations: false,
        locationIds: [L1, L2, L1],
        roles: [
          { roleId: 'r1', locationIds: null },
          { roleId: 'r2', locationIds: [L2] },
        ],
      }),
    ).toEqual({
      allLocations: false,
      locationIds: [L1, L2],
      roles: [
        { roleId: 'r1', locationIds: null },
        { roleId: 'r2', locationIds: [L2] },
      ],
    });
  });

  it('accepts all locations without any location ids, and no roles at all', () => {
    expect(checkAssignments({ allLocations: true, locationIds: [], roles: [] })).toEqual({
      allLocations: true,
      locationIds: [],
      roles: [],
    });
  });

  it.each<[string, Assignments, string]>([
    ['no location at all', { allLocations: false, locationIds: [], roles: [] }, 'location_ids'],
    ['both all locations and ids', { allLocations: true, locationIds: [L1], roles: [] }, 'location_ids'],
    [
      'a role listed twice',
      {
        allLocations: false,
        locationIds: [L1],
        roles: [
          { roleId: 'r1', locationIds: null },
          { roleId: 'r1', locationIds: null },
        ],
      },
      'roles[1].role_id',
    ],
    [
      'a matrix on an all-locations account',
      { allLocations: true, locationIds: [], roles: [{ roleId: 'r1', locationIds: [L1] }] },
      'roles[0].location_ids',
    ],
    [
      'a role ticked nowhere',
      { allLocations: false, locationIds: [L1], roles: [{ roleId: 'r1', locationIds: [] }] },
      'roles[0].location_ids',
    ],
    [
      'a tick outside the account',
      { allLocations: false, locationIds: [L1], roles: [{ roleId: 'r1', locationIds: [L2] }] },
      'roles[0].location_ids',
    ],
  ])('refuses %s, naming the field', (_name, input, field) => {
    const error = refusal(() => checkAssignments(input));
    expect(error.code).toBe('invalid_assignments');
    expect(error.details).toEqual({ field });
  });
});

describe('mergeAssignments', () => {
  const current: Assignments = {
    allLocations: false,
    locationIds: [L1, L2],
    roles: [
      { roleId: 'r1', locationIds: null },
      { roleId: 'r2', locationIds: [L1, L2] },
    ],
  };

  it('keeps everything when the patch is empty', () => {
    expect(mergeAssignments(current, {})).toEqual(current);
  });

  it('replaces roles when roles are sent', () => {
    expect(mergeAssignments(current, { roles: [{ roleId: 'r3', locationIds: null }] }).roles).toEqual([
      { roleId: 'r3', locationIds: null },
    ]);
  });

  it('keeps ticks at the locations that remain when locations change', () => {
    expect(mergeAssignments(current, { locationIds: [L2, L3] })).toEqual({
      allLocations: false,
      locationIds: [L2, L3],
      roles: [
        { roleId: 'r1', locationIds: null },
        { roleId: 'r2', locationIds: [L2] },
      ],
    });
  });

  it('refuses to leave a restricted role ticked nowhere', () => {
    const error = refusal(() => mergeAssignments(current, { locationIds: [L3] }));
    expect(error.details).toEqual({ field: 'location_ids' });
  });

  it('drops locations and matrix when switching to all locations', () => {
    expect(mergeAssignments(current, { allLocations: true })).toEqual({
      allLocations: true,
      locationIds: [],
      roles: [
        { roleId: 'r1', locationIds: null },
        { roleId: 'r2', locationIds: null },
      ],
    });
  });

  it('treats location ids sent to an all-locations account as leaving all locations', () => {
    const all: Assignments = { allLocations: true, locationIds: [], roles: [] };
    expect(mergeAssignments(all, { locationIds: [L1] })).toEqual({
      allLocations: false,
      locationIds: [L1],
      roles: [],
    });
  });

  it('refuses leaving all locations without naming any', () => {
    const all: Assignments = { allLocations: true, locationIds: [], roles: [] };
    expect(refusal(() => mergeAssignments(all, { allLocations: false })).details).toEqual({
      field: 'location_ids',
    });
  });
});

describe('assignmentsDiffer', () => {
  it('ignores order and sees any real change', () => {
    const a: Assignments = {
      allLocations: false,
      locationIds: [L1, L2],
      roles: [
        { roleId: 'r1', locationIds: [L2, L1] },
        { roleId: 'r2', locationIds: null },
      ],
    };
    const reordered: Assignments = {
      allLocations: false,
      locationIds: [L2, L1],
      roles: [
        { roleId: 'r2', locationIds: null },
        { roleId: 'r1', locationIds: [L1, L2] },
      ],
    };
    expect(assignmentsDiffer(a, reordered)).toBe(false);
    expect(assignmentsDiffer(a, { ...a, roles: [{ roleId: 'r1', locationIds: null }] })).toBe(true);
    expect(assignmentsDiffer(a, { ...a, allLocations: true })).toBe(true);
  });
});
