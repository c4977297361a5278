import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/index.ts';
import { parsePermissionCatalog, permissionNameProblem } from '../../../src/domain/permission-catalog.ts';

/** PERMISSIONS_FILE's rules: its shape, names, duplicates, the fixed management permissions. */
describe('parsePermissionCatalog', () => {
  it('reads an array of {name, description}, or {permissions: [...]}', () => {
    const list = [{ name: 'invoices:read', description: 'Read invoices' }, { name: 'invoices:write' }];
    const expected = [
      { name: 'invoices:read', description: 'Read invoices' },
      { name: 'invoices:write', description: '' },
    ];
    expect(parsePermissionCatalog(JSON.stringify(list))).toEqual(expected);
    expect(parsePermissionCatalog(JSON.stringify({ permissions: list }))).toEqual(expected);
    expect(parsePermissionCatalog('[]')).toEqual([]);
  });

  it.each([
    ['not JSON', '{', /^is not JSON/],
    ['not a list', '{"name": "a:b"}', /must hold a JSON array/],
    ['an entry that is no object', '["items:read"]', /^entry 0 must be an object/],
    ['no name', '[{"description": "x"}]', /^entry 0 needs a "name" string/],
    ['a bad name', '[{"name": "Items:Read"}]', /^entry 0: "Items:Read" is not a permission name/],
    ['a name without action', '[{"name": "items"}]', /is not a permission name/],
    ['a name twice', '[{"name": "a:b"}, {"name": "a:b"}]', /^entry 1: "a:b" is listed twice/],
    [
      'a management permission',
      '[{"name": "audit:read"}]',
      /^entry 0: "audit:read" is a management permission, fixed by svcauth/,
    ],
    [
      'a description of another type',
      '[{"name": "a:b", "description": 3}]',
      /"description" must be a string/,
    ],
    [
      'a NUL in a description',
      '[{"name": "a:b", "description": "x\\u0000"}]',
      /the description must not contain NUL/,
    ],
    ['an unknown field', '[{"name": "a:b", "scope": "x"}]', /unknown field "scope"/],
  ])('refuses %s, saying what to fix', (_case, text, message) => {
    expect(() => parsePermissionCatalog(text)).toThrow(message);
  });

  it('names a problem with any name a product permission cannot have', () => {
    expect(permissionNameProblem('invoices:read')).toBeNull();
    expect(permissionNameProblem('roles:write')).toMatch(/management permission/);
    expect(permissionNameProblem('a'.repeat(200) + ':b')).toMatch(/at most 100 characters/);
  });
});

describe('PERMISSIONS_FILE', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-permissions-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const at = path.join(dir, name);
    fs.writeFileSync(at, content);
    return at;
  };

  it('unset: the catalog is the database’s (the default five, edited through the platform API)', () => {
    expect(loadConfig({}).permissionsFile).toBeUndefined();
  });

  it('is read and validated at start', () => {
    const at = file('ok.json', '[{"name": "invoices:read", "description": "Read invoices"}]');
    expect(loadConfig({ PERMISSIONS_FILE: at }).permissionsFile).toEqual({
      path: at,
      permissions: [{ name: 'invoices:read', description: 'Read invoices' }],
    });
  });

  it('stops the start with one line naming the variable, the file and the entry', () => {
    const bad = file('bad.json', '[{"name": "invoices:read"}, {"name": "invoices:read"}]');
    expect(() => loadConfig({ PERMISSIONS_FILE: bad })).toThrow(ConfigError);
    expect(() => loadConfig({ PERMISSIONS_FILE: bad })).toThrow(
      `PERMISSIONS_FILE (${bad}) entry 1: "invoices:read" is listed twice`,
    );
    const missing = path.join(dir, 'missing.json');
    expect(() => loadConfig({ PERMISSIONS_FILE: missing })).toThrow(
      `PERMISSIONS_FILE cannot be read (${missing}: ENOENT)`,
    );
  });
});
