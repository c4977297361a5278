/**
 * How a token carries its permissions (README, "The access token"). Two forms, exactly one per token:
 *
 * - `permissions`: `{ "<location key>" | "*": ["perm", ...sorted] }`, the form every token had until
 *   accounts on hundreds of locations needed tokens. Every token that fits within the claims limit
 *   with it keeps it, so resource servers that read it (old kits, hand-written readers) read every
 *   token they read before.
 * - `permissions_packed`: base64url (no padding) of raw DEFLATE (RFC 1951) of the UTF-8 JSON of the
 *   permissions grouped by permission set: `{ "<perm> <perm> ...": ["<location key>", ...] }`, each key
 *   the set's names sorted and joined by one space (as in `scope`), each location (`"*"` included)
 *   under exactly one set. Only for tokens too large in the first form: an account on many locations
 *   holds few distinct sets, so each location costs its key alone, and DEFLATE shrinks keys that share
 *   a prefix. A reader without `permissions_packed` support finds no `permissions` and refuses the
 *   token, instead of misreading it.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ResolvedPermissions } from './permissions.ts';

export const PACKED_PERMISSIONS_CLAIM = 'permissions_packed';

/** Location keys grouped by the exact permission set they hold: set ("a b c") -> sorted keys. */
export type GroupedPermissions = Record<string, string[]>;

/**
 * A packed claim never inflates to more than this: a token is at most 64 KiB of claims (the claims
 * limit's maximum), and grouped JSON is rarely more than ten times its DEFLATE.
 */
export const MAX_UNPACKED_BYTES = 1024 * 1024;

export function groupByPermissionSet(resolved: ResolvedPermissions): GroupedPermissions {
  const bySet = new Map<string, string[]>();
  for (const location of Object.keys(resolved).sort()) {
    const set = [...resolved[location]!].sort().join(' ');
    const locations = bySet.get(set);
    if (locations) locations.push(location);
    else bySet.set(set, [location]);
  }
  const grouped: GroupedPermissions = Object.create(null) as GroupedPermissions;
  for (const set of [...bySet.keys()].sort()) grouped[set] = bySet.get(set)!;
  return grouped;
}

/** The inverse of groupByPermissionSet; refuses anything that is not exactly its output's shape. */
export function ungroupPermissions(grouped: unknown): ResolvedPermissions {
  if (typeof grouped !== 'object' || grouped === null || Array.isArray(grouped)) {
    throw new TypeError('packed permissions are not an object of permission sets');
  }
  const byLocation = new Map<string, string[]>();
  for (const [set, locations] of Object.entries(grouped)) {
    if (!Array.isArray(locations)) throw new TypeError(`permission set "${set}" has no list of locations`);
    const names = set.split(' ').filter(Boolean).sort();
    for (const location of locations) {
      if (typeof location !== 'string' || location === '') {
        throw new TypeError(`permission set "${set}" lists a location that is not a non-empty string`);
      }
      if (byLocation.has(location))
        throw new TypeError(`location "${location}" is under two permission sets`);
      byLocation.set(location, names);
    }
  }
  // No prototype, as every ResolvedPermissions (a location key may be `__proto__`).
  const resolved: ResolvedPermissions = Object.create(null) as ResolvedPermissions;
  for (const location of [...byLocation.keys()].sort()) resolved[location] = [...byLocation.get(location)!];
  return resolved;
}

export function packPermissions(resolved: ResolvedPermissions): string {
  const json = JSON.stringify(groupByPermissionSet(resolved));
  return deflateRawSync(json, { level: 9 }).toString('base64url');
}

/** Throws (TypeError, or zlib's error) when `packed` is not a packed permissions claim. */
export function unpackPermissions(packed: string): ResolvedPermissions {
  const json = inflateRawSync(Buffer.from(packed, 'base64url'), { maxOutputLength: MAX_UNPACKED_BYTES });
  return ungroupPermissions(JSON.parse(json.toString('utf8')));
}

/**
 * Puts the permissions on `payload` in the form the token carries: `permissions` when the claims fit
 * within `maxBytes` with it, else `permissions_packed`. Returns the claims' serialized size with the
 * form chosen (the caller refuses a token whose claims are still too large).
 */
export function writePermissionsClaim(
  payload: Record<string, unknown>,
  resolved: ResolvedPermissions,
  maxBytes: number,
): { bytes: number; packed: string | null } {
  delete payload[PACKED_PERMISSIONS_CLAIM];
  payload.permissions = resolved;
  const plainBytes = Buffer.byteLength(JSON.stringify(payload));
  if (plainBytes <= maxBytes) return { bytes: plainBytes, packed: null };
  const packed = packPermissions(resolved);
  delete payload.permissions;
  payload[PACKED_PERMISSIONS_CLAIM] = packed;
  return { bytes: Buffer.byteLength(JSON.stringify(payload)), packed };
}

/**
 * The claims with `permissions` in the plain form, whichever form the token carries: what
 * `/introspect` answers (an HTTP body has no header-size limit, and one form is simpler to read).
 */
export function withPlainPermissions<T extends Record<string, unknown>>(claims: T): T {
  const packed = claims[PACKED_PERMISSIONS_CLAIM];
  if (typeof packed !== 'string') return claims;
  const { [PACKED_PERMISSIONS_CLAIM]: _packed, ...rest } = claims;
  return { ...rest, permissions: unpackPermissions(packed) } as unknown as T;
}
