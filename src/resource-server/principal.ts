/** Who is calling and what it may do, read from a verified token or an introspection answer. */
import { inflateRawSync } from 'node:zlib';
import { boundKeyThumbprint } from './dpop.ts';
import { invalidToken } from './errors.ts';

/** Permissions by location id; `"*"` holds the organization-wide grants. */
export type Permissions = Readonly<Record<string, readonly string[]>>;

export const ALL_LOCATIONS = '*';

export interface Principal {
  readonly orgId: string;
  readonly serviceAccountId: string;
  /** The credential's client id (for an API key, its key id). */
  readonly clientId: string;
  readonly credentialType: 'jwt' | 'api_key';
  /** The JWT's `jti`; null for an API key. */
  readonly tokenId: string | null;
  /** The token's `scope`, split. */
  readonly scopes: readonly string[];
  readonly permissions: Permissions;
  readonly permissionsVersion: number | null;
  /** The version of the secret the token (or the API key) is; null when it carries none (version 1). */
  readonly secretVersion: number | null;
  readonly groupsAdmin: boolean;
  /** When the token expires; null for an API key. */
  readonly expiresAt: Date | null;
  /**
   * Whether the principal holds `permission` at `locationId`, directly or through an
   * organization-wide (`"*"`) grant. `can(p, '*')` asks for an organization-wide grant only.
   * Locations are those of `orgId`: a `"*"` grant says nothing about another organization's data, so
   * check that the resource belongs to `orgId` first.
   */
  can(permission: string, locationId: string): boolean;
}

/** The claims the kit relies on, checked for shape. */
export interface AccessClaims {
  sub: string;
  client_id: string;
  org_id: string;
  jti: string | null;
  exp: number | null;
  scope: string | null;
  /** Frozen copies, shared with the principal made from these claims (plain form, whichever the token had). */
  permissions: Readonly<Record<string, readonly string[]>>;
  /** can()'s lookup, when reading the claim already built it (packed claims); else built on first use. */
  permissionSets?: ReadonlyMap<string, ReadonlySet<string>> | null;
  permissions_version: number | null;
  secret_version: number | null;
  groups_admin: boolean;
  /** RFC 9449 `cnf.jkt`: the thumbprint of the key the token is bound to (DPoP); null when unbound. */
  cnf_jkt: string | null;
}

function requiredString(payload: Record<string, unknown>, claim: string): string {
  const value = payload[claim];
  if (typeof value !== 'string' || value === '')
    throw invalidToken(`the token has no valid "${claim}" claim`);
  return value;
}

/** Validates the claim and returns one frozen copy of it (the principal shares it, copying nothing). */
function readPermissions(value: unknown): Readonly<Record<string, readonly string[]>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidToken('the token has no valid "permissions" claim');
  }
  const permissions: Record<string, readonly string[]> = Object.create(null);
  for (const location in value) {
    if (!Object.hasOwn(value, location)) continue;
    const names: unknown = (value as Record<string, unknown>)[location];
    if (!Array.isArray(names)) throw invalidToken('the token has no valid "permissions" claim');
    for (const name of names) {
      if (typeof name !== 'string') throw invalidToken('the token has no valid "permissions" claim');
    }
    permissions[location] = Object.freeze(names.slice() as string[]);
  }
  return Object.freeze(permissions);
}

/** A packed claim decoded: the plain form, and can()'s lookup, shared by every principal of the claim. */
interface UnpackedPermissions {
  permissions: Readonly<Record<string, readonly string[]>>;
  byLocation: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * The packed claim's value is the same in every token of an account (and scope) until its permissions
 * change, and a client reuses each token for minutes: decoding once per claim keeps verify() at the
 * cost of a small token. Bounded: a few large accounts per resource server is the common case.
 */
const unpackedClaims = new Map<string, UnpackedPermissions>();
const UNPACKED_CLAIMS_KEPT = 64;
/** Far above what any claims limit lets svcauth issue (see src/domain/permissions-claim.ts). */
const MAX_UNPACKED_BYTES = 1024 * 1024;

/**
 * `permissions_packed` (README, "The access token"): base64url of raw DEFLATE of
 * `{ "<perm> <perm>": ["<location>", ...] }`. Only read from a token whose signature was verified.
 */
function unpackPermissions(packed: string): UnpackedPermissions {
  const known = unpackedClaims.get(packed);
  if (known) return known;
  const invalid = () => invalidToken('the token has no valid "permissions_packed" claim');
  let grouped: unknown;
  try {
    const json = inflateRawSync(Buffer.from(packed, 'base64url'), { maxOutputLength: MAX_UNPACKED_BYTES });
    grouped = JSON.parse(json.toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof grouped !== 'object' || grouped === null || Array.isArray(grouped)) throw invalid();
  const permissions: Record<string, readonly string[]> = Object.create(null);
  const byLocation = new Map<string, ReadonlySet<string>>();
  for (const set in grouped) {
    if (!Object.hasOwn(grouped, set)) continue;
    const locations: unknown = (grouped as Record<string, unknown>)[set];
    if (!Array.isArray(locations)) throw invalid();
    // One frozen list and one Set per permission set, shared by all its locations.
    const names = Object.freeze(set.split(' ').filter(Boolean).sort());
    const lookup: ReadonlySet<string> = new Set(names);
    for (const location of locations) {
      if (typeof location !== 'string' || location === '' || byLocation.has(location)) throw invalid();
      permissions[location] = names;
      byLocation.set(location, lookup);
    }
  }
  const unpacked = { permissions: Object.freeze(permissions), byLocation };
  if (unpackedClaims.size >= UNPACKED_CLAIMS_KEPT) {
    unpackedClaims.delete(unpackedClaims.keys().next().value!);
  }
  unpackedClaims.set(packed, unpacked);
  return unpacked;
}

/** Either form of the permissions (exactly one of them), as the principal reads it. */
function readEitherPermissions(payload: Record<string, unknown>): {
  permissions: Readonly<Record<string, readonly string[]>>;
  byLocation: ReadonlyMap<string, ReadonlySet<string>> | null;
} {
  const packed = payload.permissions_packed;
  if (packed === undefined) return { permissions: readPermissions(payload.permissions), byLocation: null };
  if (typeof packed !== 'string' || payload.permissions !== undefined) {
    throw invalidToken('the token must carry exactly one of "permissions" and "permissions_packed"');
  }
  return unpackPermissions(packed);
}

/**
 * Checks the claims svcauth puts in every access token (and in `active` introspection answers).
 * `jti` and `exp` are required of JWTs by the caller, not here: API keys have neither.
 */
export function readAccessClaims(payload: Record<string, unknown>): AccessClaims {
  const version = payload.permissions_version;
  if (version !== undefined && (typeof version !== 'number' || !Number.isSafeInteger(version))) {
    throw invalidToken('the token has no valid "permissions_version" claim');
  }
  const secretVersion = payload.secret_version;
  if (
    secretVersion !== undefined &&
    (typeof secretVersion !== 'number' || !Number.isSafeInteger(secretVersion) || secretVersion < 1)
  ) {
    throw invalidToken('the token has no valid "secret_version" claim');
  }
  const scope = payload.scope;
  if (scope !== undefined && typeof scope !== 'string')
    throw invalidToken('the token has no valid "scope" claim');
  const { permissions, byLocation } = readEitherPermissions(payload);
  return {
    sub: requiredString(payload, 'sub'),
    client_id: requiredString(payload, 'client_id'),
    org_id: requiredString(payload, 'org_id'),
    jti: typeof payload.jti === 'string' && payload.jti !== '' ? payload.jti : null,
    exp: typeof payload.exp === 'number' ? payload.exp : null,
    scope: scope ?? null,
    permissions,
    permissionSets: byLocation,
    permissions_version: version ?? null,
    secret_version: secretVersion ?? null,
    groups_admin: payload.groups_admin === true,
    cnf_jkt: boundKeyThumbprint(payload),
  };
}

export function createPrincipal(claims: AccessClaims, credentialType: 'jwt' | 'api_key'): Principal {
  const { permissions } = claims;
  // Sets for can(), built on its first call: many requests never ask, and verify() is on every request.
  let byLocation: ReadonlyMap<string, ReadonlySet<string>> | undefined = claims.permissionSets ?? undefined;
  const lookup = (location: string): ReadonlySet<string> | undefined => {
    byLocation ??= new Map(Object.entries(permissions).map(([loc, names]) => [loc, new Set(names)]));
    return byLocation.get(location);
  };
  return Object.freeze({
    orgId: claims.org_id,
    serviceAccountId: claims.sub,
    clientId: claims.client_id,
    credentialType,
    tokenId: credentialType === 'jwt' ? claims.jti : null,
    scopes: Object.freeze(claims.scope ? claims.scope.split(' ').filter(Boolean) : []),
    permissions,
    permissionsVersion: claims.permissions_version,
    secretVersion: claims.secret_version,
    groupsAdmin: claims.groups_admin,
    expiresAt: credentialType === 'jwt' && claims.exp !== null ? new Date(claims.exp * 1000) : null,
    can(permission: string, locationId: string): boolean {
      if (lookup(ALL_LOCATIONS)?.has(permission)) return true;
      return locationId !== ALL_LOCATIONS && (lookup(locationId)?.has(permission) ?? false);
    },
  });
}

/** Whether the principal holds `permission` at some location (or organization-wide). */
export function holdsAnywhere(principal: Principal, permission: string): boolean {
  return Object.values(principal.permissions).some((names) => names.includes(permission));
}
