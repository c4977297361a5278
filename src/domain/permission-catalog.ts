import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';
import { echo, isMultiLineText, MULTI_LINE_TEXT_MESSAGE } from './text.ts';

/**
 * The product permission catalog's rules, with no I/O: what a permission name may look like, what a
 * PERMISSIONS_FILE must contain. The catalog itself lives in the database (permission_catalog,
 * migration 0010); management permissions are fixed in config/permissions.ts and never part of it.
 */

/** `resource:action`, lower case: the shape the roles table and permission_catalog also check. */
export const PERMISSION_NAME_PATTERN = /^[a-z][a-z_]*:[a-z][a-z_]*$/;
export const PERMISSION_NAME_MAX = 100;
export const PERMISSION_DESCRIPTION_MAX = 2000;
/** More than any product needs, few enough that every token request can consider all of them. */
export const MAX_PRODUCT_PERMISSIONS = 500;

export interface CatalogEntry {
  name: string;
  description: string;
}

const MANAGEMENT = new Set<string>(MANAGEMENT_PERMISSIONS);

export function isManagementPermission(name: string): boolean {
  return MANAGEMENT.has(name);
}

/** Why a product permission name is refused, or null when it is fine. */
export function permissionNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > PERMISSION_NAME_MAX || !PERMISSION_NAME_PATTERN.test(name)) {
    return `"${echo(name)}" is not a permission name: use resource:action in lower case (letters and _, e.g. items:read), at most ${PERMISSION_NAME_MAX} characters`;
  }
  if (MANAGEMENT.has(name)) {
    return `"${name}" is a management permission, fixed by svcauth; a product permission needs another name`;
  }
  return null;
}

/** Why a description is refused, or null. */
export function permissionDescriptionProblem(description: string): string | null {
  if (description.length > PERMISSION_DESCRIPTION_MAX) {
    return `is longer than ${PERMISSION_DESCRIPTION_MAX} characters`;
  }
  if (!isMultiLineText(description)) return MULTI_LINE_TEXT_MESSAGE;
  return null;
}

/**
 * Reads PERMISSIONS_FILE's content: a JSON array of `{ "name", "description" }` (description optional)
 * or an object `{ "permissions": [...] }`. Throws an Error whose message says what to fix, naming the
 * entry; every name must be a valid product permission, listed once.
 */
export function parsePermissionCatalog(text: string): CatalogEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`is not JSON (${(error as Error).message})`);
  }
  const list =
    parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && 'permissions' in parsed
      ? parsed.permissions
      : parsed;
  if (!Array.isArray(list)) {
    throw new Error('must hold a JSON array of {"name": "resource:action", "description": "..."}');
  }
  if (list.length > MAX_PRODUCT_PERMISSIONS) {
    throw new Error(`lists ${list.length} permissions; at most ${MAX_PRODUCT_PERMISSIONS} are supported`);
  }
  const seen = new Set<string>();
  return list.map((entry: unknown, index) => {
    const at = `entry ${index}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new Error(`${at} must be an object {"name": "resource:action", "description": "..."}`);
    }
    const { name, description, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) {
      throw new Error(`${at} has an unknown field "${unknown[0]}" (only name and description are read)`);
    }
    if (typeof name !== 'string') throw new Error(`${at} needs a "name" string`);
    const nameProblem = permissionNameProblem(name);
    if (nameProblem) throw new Error(`${at}: ${nameProblem}`);
    if (seen.has(name)) throw new Error(`${at}: "${name}" is listed twice`);
    seen.add(name);
    if (description !== undefined && typeof description !== 'string') {
      throw new Error(`${at} ("${name}"): "description" must be a string`);
    }
    const descriptionProblem = permissionDescriptionProblem(description ?? '');
    if (descriptionProblem) throw new Error(`${at} ("${name}"): the description ${descriptionProblem}`);
    return { name, description: description ?? '' };
  });
}
