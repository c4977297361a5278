import { describe, expect, it } from 'vitest';
import { MANAGEMENT_PERMISSIONS } from '../../../config/permissions.ts';
import {
  assertMayRemovePermissions,
  assertNoManagementPermissionLost,
  assertWithinReach,
  authorityOf,
  managementPermissionsLost,
  personAuthority,
  usableManagementPermissions,
} from '../../../src/domain/authority.ts';
import { DomainError } from '../../../src/domain/errors.ts';

const everything = { '*': [...MANAGEMENT_PERMISSIONS, 'items:read'].sort() };

describe('authorityOf', () => {
  it('holds the account permissions when the token carries every management permission', () => {
    const authority = authorityOf({
      tokenManagement: new Set(MANAGEMENT_PERMISSIONS),
      account: everything,
      groupsAdmin: false,
    });
    expect(authority.resolved).toEqual(everything);
    expect([...authority.management].sort()).toEqual([...MANAGEMENT_PERMISSIONS].sort());
  });

  it('holds only the scope of a down-scoped token: no product permission', () => {
    const authority = authorityOf({
      tokenManagement: new Set(['service_accounts:write']),
      account: everything,
      groupsAdmin: false,
    });
    expect(authority.resolved).toEqual({});
    expect([...authority.management]).toEqual(['service_accounts:write']);
  });

  it('never holds a management permission the account no longer holds', () => {
    const authority = authorityOf({
      tokenManagement: new Set(['settings:write', 'audit:read']),
      account: { '*': ['audit:read'] },
      groupsAdmin: false,
    });
    expect([...authority.management]).toEqual(['audit:read']);
  });
});

describe('assertWithinReach', () => {
  const manager = authorityOf({
    tokenManagement: new Set(['service_accounts:write']),
    account: { '*': ['service_accounts:write'], 'loc-1': ['items:read'] },
    groupsAdmin: false,
  });

  it('allows acting on an account holding no more than the admin', () => {
    expect(() =>
      assertWithinReach(manager, { resolved: { 'loc-1': ['items:read'] }, groupsAdmin: false }, 'edit it'),
    ).not.toThrow();
  });

  it('refuses an account holding more, naming what', () => {
    const act = () =>
      assertWithinReach(manager, { resolved: { '*': ['settings:write'] }, groupsAdmin: false }, 'revoke it');
    expect(act).toThrow(DomainError);
    expect(act).toThrow(/you cannot revoke it: this service account holds settings:write org-wide/);
  });

  it('refuses a groups administrator to an admin that is not one', () => {
    expect(() => assertWithinReach(manager, { resolved: {}, groupsAdmin: true }, 'edit it')).toThrow(
      /groups administrator/,
    );
  });

  it('refuses taking away from a role what the admin does not hold', () => {
    expect(() => assertMayRemovePermissions(manager, ['items:read'], 'this change')).not.toThrow();
    expect(() => assertMayRemovePermissions(manager, ['audit:read'], 'this change')).toThrow(
      /takes away audit:read/,
    );
  });
});

describe('the last usable holder of each management permission', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const active = { type: 'oauth_client' as const, revokedAt: null, expiresAt: null };

  it('counts only holders with an active credential of an allowed type', () => {
    const candidates = [
      { accountId: 'a', resolved: { '*': ['audit:read'] }, credentials: [active] },
      { accountId: 'b', resolved: { '*': ['settings:write'] }, credentials: [] },
      {
        accountId: 'c',
        resolved: { '*': ['roles:write'] },
        credentials: [{ ...active, expiresAt: new Date('2025-01-01T00:00:00Z') }],
      },
      { accountId: 'd', resolved: { '*': ['service_accounts:read'] }, credentials: [active] },
    ];
    expect([...usableManagementPermissions(candidates, ['oauth_client'], now)].sort()).toEqual([
      'audit:read',
      'service_accounts:read',
    ]);
    expect([...usableManagementPermissions(candidates, ['api_key'], now)]).toEqual([]);
  });

  it('reports only permissions usable before and by nobody after', () => {
    expect(
      managementPermissionsLost(
        new Set(['audit:read', 'roles:write']),
        new Set(['roles:write', 'settings:write']),
      ),
    ).toEqual(['audit:read']);
    expect(managementPermissionsLost(new Set(), new Set())).toEqual([]);
  });

  it('refuses with 409-coded last_management_holder naming the permissions', () => {
    expect(() => assertNoManagementPermissionLost([])).not.toThrow();
    try {
      assertNoManagementPermissionLost(['audit:read', 'roles:write']);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('last_management_holder');
      expect((error as DomainError).message).toContain('audit:read, roles:write');
      expect((error as DomainError).details).toEqual({ permissions: ['audit:read', 'roles:write'] });
    }
  });
});

describe('personAuthority', () => {
  it("reaches the product permissions of the roles on the person's list, org-wide, and no others", () => {
    const authority = personAuthority({
      management: new Set(['service_accounts:write']),
      groupsAdmin: false,
      grantableRoles: [
        { id: 'viewer', permissions: ['items:read'] },
        { id: 'admin', permissions: ['service_accounts:read', 'audit:read'] },
      ],
    });
    expect(authority.resolved).toEqual({ '*': ['items:read'] });
    expect(authority.grantableRoles).toEqual(new Set(['viewer', 'admin']));
    // Management permissions stay the token's: a listed role never adds one.
    expect([...authority.management]).toEqual(['service_accounts:write']);
    expect(() =>
      assertWithinReach(authority, { resolved: { '*': ['items:write'] }, groupsAdmin: false }, 'edit it'),
    ).toThrow(DomainError);
    expect(() =>
      assertWithinReach(authority, { resolved: { loc: ['items:read'] }, groupsAdmin: false }, 'edit it'),
    ).not.toThrow();
  });

  it('without a list holds no product permission and judges roles by permissions alone', () => {
    const authority = personAuthority({ management: new Set(), groupsAdmin: true, grantableRoles: null });
    expect(authority).toMatchObject({ resolved: {}, groupsAdmin: true, grantableRoles: null });
  });
});
