import { describe, expect, it } from 'vitest';
import { DomainError } from '../../../src/domain/errors.ts';
import {
  assertGroupsAdminChangeAllowed,
  assertNoEscalatingGrants,
  assertNoEscalatingPermissions,
  assertRolesOnGrantableList,
  type Authority,
  grantsBeyondAuthority,
  permissionsBeyondAuthority,
} from '../../../src/domain/escalation.ts';

const L1 = 'loc-1';
const L2 = 'loc-2';

const admin: Authority = {
  management: new Set(['service_accounts:read', 'service_accounts:write']),
  resolved: { '*': ['people:read'], [L1]: ['items:read', 'items:write'] },
  groupsAdmin: false,
};

describe('grantsBeyondAuthority', () => {
  it('allows grants the admin holds where they apply, org-wide grants covering every location', () => {
    expect(
      grantsBeyondAuthority(admin, {}, { [L1]: ['items:read', 'people:read'], [L2]: ['people:read'] }),
    ).toEqual([]);
  });

  it('names product grants the admin lacks at that location', () => {
    expect(grantsBeyondAuthority(admin, {}, { [L2]: ['items:read'] })).toEqual([
      { location: L2, permission: 'items:read' },
    ]);
  });

  it('needs an org-wide grant to give one', () => {
    expect(grantsBeyondAuthority(admin, {}, { '*': ['items:read'] })).toEqual([
      { location: '*', permission: 'items:read' },
    ]);
  });

  it('judges management permissions against the token only', () => {
    expect(grantsBeyondAuthority(admin, {}, { '*': ['service_accounts:write', 'roles:write'] })).toEqual([
      { location: '*', permission: 'roles:write' },
    ]);
  });

  it('lets grants the account already had stay, even beyond the admin', () => {
    const current = { '*': ['settings:write'], [L2]: ['charts:read'] };
    expect(grantsBeyondAuthority(admin, current, { '*': ['settings:write'], [L2]: ['charts:read'] })).toEqual(
      [],
    );
    expect(grantsBeyondAuthority(admin, { '*': ['charts:read'] }, { [L2]: ['charts:read'] })).toEqual([]);
  });
});

describe('permissionsBeyondAuthority', () => {
  it('accepts permissions held anywhere and names the others, sorted and once', () => {
    expect(
      permissionsBeyondAuthority(admin, ['items:write', 'people:read', 'service_accounts:read']),
    ).toEqual([]);
    expect(
      permissionsBeyondAuthority(admin, ['settings:write', 'charts:read', 'charts:read', 'items:read']),
    ).toEqual(['charts:read', 'settings:write']);
  });
});

describe('refusals', () => {
  it('are escalation_refused with what would be granted', () => {
    expect(() => assertNoEscalatingGrants([], 'x')).not.toThrow();
    expect(() => assertNoEscalatingPermissions([], 'x')).not.toThrow();
    try {
      assertNoEscalatingGrants([{ location: '*', permission: 'roles:write' }], 'this change');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('escalation_refused');
      expect((error as DomainError).message).toContain('roles:write org-wide');
    }
    expect(() => assertNoEscalatingPermissions(['charts:read'], 'this role')).toThrow(/charts:read/);
  });

  it('let only a groups administrator change groups_admin', () => {
    expect(() => assertGroupsAdminChangeAllowed(admin, false, undefined)).not.toThrow();
    expect(() => assertGroupsAdminChangeAllowed(admin, true, true)).not.toThrow();
    expect(() => assertGroupsAdminChangeAllowed(admin, false, true)).toThrow(DomainError);
    expect(() => assertGroupsAdminChangeAllowed(admin, true, false)).toThrow(DomainError);
    expect(() => assertGroupsAdminChangeAllowed({ ...admin, groupsAdmin: true }, false, true)).not.toThrow();
  });
});

describe('assertRolesOnGrantableList', () => {
  const roles = [
    { id: 'viewer', name: 'Item viewer' },
    { id: 'editor', name: 'Item editor' },
  ];

  it('refuses a role newly given that the list does not name, naming it', () => {
    const authority = {
      management: new Set<string>(),
      resolved: {},
      groupsAdmin: false,
      grantableRoles: new Set(['viewer']),
    };
    expect(() => assertRolesOnGrantableList(authority, new Set(), roles, 'this change')).toThrow(
      /"Item editor"/,
    );
    // A role the account holds already is not this change's doing.
    expect(() =>
      assertRolesOnGrantableList(authority, new Set(['editor']), roles, 'this change'),
    ).not.toThrow();
  });

  it('checks nothing without a list (the permissions are judged instead)', () => {
    const authority = { management: new Set<string>(), resolved: {}, groupsAdmin: false };
    expect(() => assertRolesOnGrantableList(authority, new Set(), roles, 'this change')).not.toThrow();
  });
});
