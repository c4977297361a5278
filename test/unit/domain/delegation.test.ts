import { describe, expect, it } from 'vitest';
import { MANAGEMENT_PERMISSIONS } from '../../../config/permissions.ts';
import {
  delegatedPermissions,
  delegatedTokenTtl,
  grantableRoleIds,
  notManagementPermissions,
  personIdOf,
  personManagementPermissions,
  personSubject,
  subjectTokenLifetimeProblem,
} from '../../../src/domain/delegation.ts';

describe("a person's subject", () => {
  it('carries a prefix no service account id (a UUID) can have, and comes back out', () => {
    expect(personSubject('u-1')).toBe('person:u-1');
    expect(personIdOf('person:u-1')).toBe('u-1');
    expect(personIdOf('0b5f0c8e-4d0e-4c43-9a51-5d3c3f4b3e1a')).toBeNull();
  });
});

describe('the seeds’ service-account levels', () => {
  it('View, Edit and Delete each include the levels below, in catalog order', () => {
    expect(personManagementPermissions({ permissions: [], serviceAccountLevel: 'view' })).toEqual([
      'service_accounts:read',
    ]);
    expect(personManagementPermissions({ permissions: [], serviceAccountLevel: 'edit' })).toEqual([
      'service_accounts:read',
      'service_accounts:write',
    ]);
    expect(
      personManagementPermissions({ permissions: ['audit:read'], serviceAccountLevel: 'delete' }),
    ).toEqual(['service_accounts:read', 'service_accounts:write', 'service_accounts:delete', 'audit:read']);
  });

  it('names what is not a management permission', () => {
    expect(notManagementPermissions(['items:read', 'audit:read', 'items:read'])).toEqual(['items:read']);
  });
});

describe('delegatedPermissions', () => {
  const all = [...MANAGEMENT_PERMISSIONS];

  it('is what the person holds within what the client may hand on', () => {
    expect(
      delegatedPermissions({
        person: ['service_accounts:read', 'service_accounts:write'],
        delegable: ['service_accounts:read', 'audit:read'],
        requestedScope: null,
      }),
    ).toEqual({ ok: true, permissions: ['service_accounts:read'] });
  });

  it('narrows further to a requested scope, and refuses a scope beyond it as invalid_scope', () => {
    expect(delegatedPermissions({ person: all, delegable: all, requestedScope: ['audit:read'] })).toEqual({
      ok: true,
      permissions: ['audit:read'],
    });
    const refused = delegatedPermissions({
      person: ['audit:read'],
      delegable: all,
      requestedScope: ['roles:write'],
    });
    expect(refused).toMatchObject({ ok: false, error: 'invalid_scope' });
  });

  it('refuses an empty result instead of issuing a token that can do nothing', () => {
    expect(delegatedPermissions({ person: [], delegable: all, requestedScope: null })).toMatchObject({
      ok: false,
      error: 'invalid_request',
    });
    expect(
      delegatedPermissions({ person: ['roles:write'], delegable: ['audit:read'], requestedScope: null }),
    ).toMatchObject({ ok: false, error: 'invalid_request' });
  });
});

describe('subject token lifetime', () => {
  it('accepts a short-lived token, refuses one from the future or living too long', () => {
    expect(subjectTokenLifetimeProblem({ iat: 1000, exp: 1060 }, 1000, 300, 5)).toBeNull();
    expect(subjectTokenLifetimeProblem({ iat: 1010, exp: 1060 }, 1000, 300, 5)).toContain('future');
    expect(subjectTokenLifetimeProblem({ iat: 1000, exp: 1301 }, 1000, 300, 5)).toContain('at most 300');
  });

  it("the person's token never outlives the organization's access-token TTL", () => {
    expect(delegatedTokenTtl(300, 120)).toBe(120);
    expect(delegatedTokenTtl(300, 900)).toBe(300);
  });
});

describe('grantableRoleIds', () => {
  it('finds roles by id or by case-insensitive name; unknown names name nothing', () => {
    const roles = [
      { id: 'a1', name: 'Item viewer' },
      { id: 'b2', name: 'Item editor' },
    ];
    expect(grantableRoleIds(['ITEM VIEWER', 'b2', 'Ghost'], roles)).toEqual(new Set(['a1', 'b2']));
  });
});
