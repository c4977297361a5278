import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ResolvedPermissions } from '../../../src/domain/permissions.ts';
import {
  groupByPermissionSet,
  packPermissions,
  ungroupPermissions,
  unpackPermissions,
  withPlainPermissions,
  writePermissionsClaim,
} from '../../../src/domain/permissions-claim.ts';

const ALL = ['charts:read', 'items:read', 'items:read_private', 'items:write', 'people:read'];

/** 1,000 locations: most hold all five permissions, a few hundred one of four sets, some a set of their own. */
function manyLocations(count = 1000): ResolvedPermissions {
  const resolved: ResolvedPermissions = { '*': ['charts:read'] };
  for (let i = 1; i <= count; i++) {
    const key = `store-${i}`;
    if (i % 250 === 0) resolved[key] = [ALL[i % 5]!, ALL[(i + 2) % 5]!].sort();
    else if (i % 7 === 0) resolved[key] = ALL.filter((_, j) => j !== i % 4);
    else resolved[key] = [...ALL];
  }
  return resolved;
}

describe('grouping permissions by set', () => {
  it('puts each location under the exact set it holds, sets and locations sorted', () => {
    expect(
      groupByPermissionSet({
        '*': ['audit:read'],
        'store-2': ['items:write', 'items:read'],
        'store-1': ['items:read', 'items:write'],
        'store-3': ['items:read'],
      }),
    ).toEqual({
      'audit:read': ['*'],
      'items:read': ['store-3'],
      'items:read items:write': ['store-1', 'store-2'],
    });
  });

  it('round-trips exactly, the empty grant included', () => {
    const resolved = manyLocations();
    expect(ungroupPermissions(groupByPermissionSet(resolved))).toEqual(resolved);
    expect(ungroupPermissions(groupByPermissionSet({}))).toEqual({});
  });

  it('keeps locations named like Object.prototype members as plain keys', () => {
    const resolved = JSON.parse(
      '{"__proto__":["items:read"],"constructor":["items:write"]}',
    ) as ResolvedPermissions;
    const unpacked = unpackPermissions(packPermissions(resolved));
    expect(Object.keys(unpacked)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(unpacked)).toBeNull();
    expect(unpacked['__proto__']).toEqual(['items:read']);
    expect(unpacked['constructor']).toEqual(['items:write']);
  });

  it('refuses what is not its shape: a location under two sets, a non-list, a non-string', () => {
    expect(() => ungroupPermissions({ 'items:read': ['a'], 'items:write': ['a'] })).toThrow(
      /two permission sets/,
    );
    expect(() => ungroupPermissions({ 'items:read': 'a' })).toThrow(TypeError);
    expect(() => ungroupPermissions({ 'items:read': [1] })).toThrow(TypeError);
    expect(() => ungroupPermissions({ 'items:read': [''] })).toThrow(TypeError);
    expect(() => ungroupPermissions([])).toThrow(TypeError);
  });
});

describe('the packed claim', () => {
  it('is base64url of raw DEFLATE of the grouped JSON, and unpacks to the same permissions', () => {
    const resolved = manyLocations();
    const packed = packPermissions(resolved);
    expect(packed).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(unpackPermissions(packed)).toEqual(resolved);
    // Any zlib reads it: the format is the documented one, not an implementation detail.
    const documented = deflateRawSync(JSON.stringify(groupByPermissionSet(resolved))).toString('base64url');
    expect(unpackPermissions(documented)).toEqual(resolved);
  });

  it('keeps 1,000 locations with a handful of sets small', () => {
    const resolved = manyLocations();
    expect(JSON.stringify(resolved).length).toBeGreaterThan(60_000);
    expect(packPermissions(resolved).length).toBeLessThan(4_000);
  });

  it('refuses garbage and inflation beyond its bound', () => {
    expect(() => unpackPermissions('not-deflate')).toThrow();
    const bomb = deflateRawSync(Buffer.alloc(2 * 1024 * 1024, 0x20)).toString('base64url');
    expect(() => unpackPermissions(bomb)).toThrow();
  });
});

describe('choosing the form', () => {
  const base = () => ({ sub: 'account', org_id: 'org', permissions_version: 1 });

  it('keeps the plain form whenever the claims fit with it', () => {
    const payload: Record<string, unknown> = base();
    const resolved = { 'store-1': ['items:read'] };
    const written = writePermissionsClaim(payload, resolved, 8192);
    expect(written.packed).toBeNull();
    expect(payload.permissions).toEqual(resolved);
    expect(payload).not.toHaveProperty('permissions_packed');
    expect(written.bytes).toBe(Buffer.byteLength(JSON.stringify(payload)));
  });

  it('packs only when the plain form would be too large, and measures the packed claims', () => {
    const payload: Record<string, unknown> = base();
    const resolved = manyLocations();
    const written = writePermissionsClaim(payload, resolved, 8192);
    expect(written.packed).toBe(payload.permissions_packed);
    expect(payload).not.toHaveProperty('permissions');
    expect(written.bytes).toBe(Buffer.byteLength(JSON.stringify(payload)));
    expect(written.bytes).toBeLessThan(8192);
  });

  it('gives introspection the plain form of either', () => {
    const resolved = manyLocations();
    const packed = { ...base(), permissions_packed: packPermissions(resolved) };
    expect(withPlainPermissions(packed)).toEqual({ ...base(), permissions: resolved });
    const plain = { ...base(), permissions: resolved };
    expect(withPlainPermissions(plain)).toBe(plain);
  });
});
