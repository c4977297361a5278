import { describe, expect, it } from 'vitest';
import { DEFAULT_PRODUCT_PERMISSIONS, MANAGEMENT_PERMISSIONS } from '../../../config/permissions.ts';
import {
  type AccountGrants,
  isAllowed,
  keyedForTokens,
  permissionNames,
  type ResolvedPermissions,
  resolvePermissions,
  restrictToScopes,
} from '../../../src/domain/permissions.ts';

/** The catalog the cases resolve under: the default product permissions and the management ones. */
const KNOWN = new Set([...DEFAULT_PRODUCT_PERMISSIONS.map((p) => p.name), ...MANAGEMENT_PERMISSIONS]);
const L1 = 'loc-1';
const L2 = 'loc-2';
const L3 = 'loc-3';

const cases: Array<{ name: string; account: AccountGrants; expected: ResolvedPermissions }> = [
  {
    name: 'one role, one location',
    account: {
      allLocations: false,
      locationIds: [L1],
      roles: [{ roleId: 'r1', permissions: ['items:read'], restrictedTo: null }],
    },
    expected: { [L1]: ['items:read'] },
  },
  {
    name: 'several roles: union, sorted, no duplicates',
    account: {
      allLocations: false,
      locationIds: [L1],
      roles: [
        { roleId: 'r1', permissions: ['items:write', 'items:read'], restrictedTo: null },
        { roleId: 'r2', permissions: ['people:read', 'items:read'], restrictedTo: null },
      ],
    },
    expected: { [L1]: ['items:read', 'items:write', 'people:read'] },
  },
  {
    name: 'several locations: every role applies at each by default',
    account: {
      allLocations: false,
      locationIds: [L2, L1],
      roles: [{ roleId: 'r1', permissions: ['charts:read'], restrictedTo: null }],
    },
    expected: { [L1]: ['charts:read'], [L2]: ['charts:read'] },
  },
  {
    name: 'role x location matrix restricts a role to ticked locations',
    account: {
      allLocations: false,
      locationIds: [L1, L2, L3],
      roles: [
        { roleId: 'reader', permissions: ['items:read'], restrictedTo: null },
        { roleId: 'private', permissions: ['items:read_private'], restrictedTo: [L2] },
        { roleId: 'writer', permissions: ['items:write'], restrictedTo: [L1, L3] },
      ],
    },
    expected: {
      [L1]: ['items:read', 'items:write'],
      [L2]: ['items:read', 'items:read_private'],
      [L3]: ['items:read', 'items:write'],
    },
  },
  {
    name: 'matrix ticks outside the account locations are ignored',
    account: {
      allLocations: false,
      locationIds: [L1],
      roles: [{ roleId: 'r1', permissions: ['items:read'], restrictedTo: [L1, L2] }],
    },
    expected: { [L1]: ['items:read'] },
  },
  {
    name: 'a role ticked nowhere grants nothing, even management permissions',
    account: {
      allLocations: false,
      locationIds: [L1],
      roles: [{ roleId: 'r1', permissions: ['items:read', 'audit:read'], restrictedTo: [] }],
    },
    expected: {},
  },
  {
    name: 'all-locations account resolves to "*"',
    account: {
      allLocations: true,
      locationIds: [],
      roles: [{ roleId: 'r1', permissions: ['items:read', 'people:read'], restrictedTo: null }],
    },
    expected: { '*': ['items:read', 'people:read'] },
  },
  {
    name: 'management permissions are org-wide',
    account: {
      allLocations: false,
      locationIds: [L1],
      roles: [{ roleId: 'admin', permissions: ['service_accounts:read', 'items:read'], restrictedTo: null }],
    },
    expected: { '*': ['service_accounts:read'], [L1]: ['items:read'] },
  },
  {
    name: 'a role without permissions adds nothing',
    account: {
      allLocations: false,
      locationIds: [L1],
      roles: [
        { roleId: 'empty', permissions: [], restrictedTo: null },
        { roleId: 'r1', permissions: ['items:read'], restrictedTo: null },
      ],
    },
    expected: { [L1]: ['items:read'] },
  },
  {
    name: 'a role removed from the organization grants nothing',
    account: {
      allLocations: false,
      locationIds: [L1],
      roles: [
        { roleId: 'gone', permissions: ['items:write'], restrictedTo: null, removed: true },
        { roleId: 'r1', permissions: ['items:read'], restrictedTo: null },
      ],
    },
    expected: { [L1]: ['items:read'] },
  },
  {
    name: 'a role not assignable to service accounts grants nothing',
    account: {
      allLocations: true,
      locationIds: [],
      roles: [{ roleId: 'owner', permissions: ['settings:write'], restrictedTo: null, assignable: false }],
    },
    expected: {},
  },
  {
    name: 'names outside the catalog are dropped',
    account: {
      allLocations: false,
      locationIds: [L1],
      roles: [{ roleId: 'r1', permissions: ['items:read', 'legacy:thing'], restrictedTo: null }],
    },
    expected: { [L1]: ['items:read'] },
  },
  {
    name: 'no roles: nothing (the account is disabled)',
    account: { allLocations: false, locationIds: [L1], roles: [] },
    expected: {},
  },
  {
    name: 'account with no locations gets no location grants',
    account: {
      allLocations: false,
      locationIds: [],
      roles: [{ roleId: 'r1', permissions: ['items:read', 'audit:read'], restrictedTo: null }],
    },
    expected: {},
  },
];

describe('resolvePermissions', () => {
  it.each(cases)('$name', ({ account, expected }) => {
    expect(resolvePermissions(account, KNOWN)).toEqual(expected);
  });

  it('orders location keys deterministically', () => {
    const resolved = resolvePermissions({
      allLocations: false,
      locationIds: [L3, L1, L2],
      roles: [{ roleId: 'r', permissions: ['items:read'], restrictedTo: null }],
    });
    expect(Object.keys(resolved)).toEqual([L1, L2, L3]);
  });
});

describe('down-scoping and checks', () => {
  const resolved: ResolvedPermissions = {
    '*': ['service_accounts:read'],
    [L1]: ['items:read', 'items:write'],
    [L2]: ['items:read'],
  };

  it('lists every permission name once', () => {
    expect(permissionNames(resolved)).toEqual(['items:read', 'items:write', 'service_accounts:read']);
  });

  it('keeps only requested scopes and drops emptied locations', () => {
    expect(restrictToScopes(resolved, new Set(['items:write']))).toEqual({ [L1]: ['items:write'] });
  });

  it('honours "*" in isAllowed', () => {
    expect(isAllowed(resolved, 'service_accounts:read', L2)).toBe(true);
    expect(isAllowed(resolved, 'items:write', L1)).toBe(true);
    expect(isAllowed(resolved, 'items:write', L2)).toBe(false);
    expect(isAllowed(resolved, 'items:read', 'elsewhere')).toBe(false);
  });
});

describe('location keys named like Object.prototype members', () => {
  const prototypeKeys = ['__proto__', 'constructor', 'hasOwnProperty', 'toString'];

  it('keyedForTokens and restrictToScopes keep each as an own key', () => {
    const resolved = resolvePermissions({
      allLocations: false,
      locationIds: prototypeKeys.map((key) => `uuid-${key}`),
      roles: [{ roleId: 'r1', permissions: ['items:read'], restrictedTo: null }],
    });
    const keyed = keyedForTokens(resolved, new Map(prototypeKeys.map((key) => [`uuid-${key}`, key])));
    for (const result of [keyed, restrictToScopes(keyed, new Set(['items:read']))]) {
      expect(Object.keys(result).sort()).toEqual([...prototypeKeys].sort());
      expect(JSON.parse(JSON.stringify(result))).toEqual(
        Object.fromEntries(prototypeKeys.map((key) => [key, ['items:read']])),
      );
    }
  });

  it('isAllowed finds nothing on the prototype', () => {
    for (const key of prototypeKeys) expect(isAllowed({}, 'items:read', key)).toBe(false);
    expect(isAllowed(Object.fromEntries([['__proto__', ['items:read']]]), 'items:read', '__proto__')).toBe(
      true,
    );
  });
});
