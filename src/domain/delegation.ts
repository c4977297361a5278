/**
 * People acting through the product (RFC 8693 token exchange): what a product's subject token may
 * say about a person, and what the management token issued for them carries. Pure: the OAuth layer
 * verifies the subject token's signature and reads the rows, these functions decide.
 */
import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';

export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 3: the only subject token type accepted, a JWT signed by the product. */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/** RFC 8693 3: what is issued (and the only requested_token_type accepted). */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * A person's `sub` in the tokens svcauth issues. Service account ids are UUIDs, so nothing with this
 * prefix can ever name one: the management API, /introspect and resource servers tell them apart by it.
 */
export const PERSON_SUBJECT_PREFIX = 'person:';

export function personSubject(personId: string): string {
  return `${PERSON_SUBJECT_PREFIX}${personId}`;
}

/** The product's person id of a `sub`, or null when the subject is not a person. */
export function personIdOf(subject: string): string | null {
  return subject.startsWith(PERSON_SUBJECT_PREFIX) ? subject.slice(PERSON_SUBJECT_PREFIX.length) : null;
}

/**
 * The seeds' "Manage Service Accounts" levels (View, Create/Edit, Delete), each including the ones
 * below it, as management permissions.
 */
export const SERVICE_ACCOUNT_LEVELS = {
  view: ['service_accounts:read'],
  edit: ['service_accounts:read', 'service_accounts:write'],
  delete: ['service_accounts:read', 'service_accounts:write', 'service_accounts:delete'],
} as const satisfies Record<string, readonly string[]>;

export type ServiceAccountLevel = keyof typeof SERVICE_ACCOUNT_LEVELS;

const MANAGEMENT = new Set<string>(MANAGEMENT_PERMISSIONS);

/** Management permission names among `names` that are not management permissions (sorted). */
export function notManagementPermissions(names: readonly string[]): string[] {
  return [...new Set(names.filter((name) => !MANAGEMENT.has(name)))].sort();
}

/**
 * What the person may administer, from the subject token: the management permissions it lists plus
 * those of its service-account level. In catalog order.
 */
export function personManagementPermissions(input: {
  permissions: readonly string[];
  serviceAccountLevel: ServiceAccountLevel | null;
}): string[] {
  const held = new Set<string>(input.permissions.filter((p) => MANAGEMENT.has(p)));
  if (input.serviceAccountLevel) {
    for (const permission of SERVICE_ACCOUNT_LEVELS[input.serviceAccountLevel]) held.add(permission);
  }
  return MANAGEMENT_PERMISSIONS.filter((p) => held.has(p));
}

export type DelegatedPermissions =
  | { ok: true; permissions: string[] }
  | { ok: false; error: 'invalid_scope' | 'invalid_request'; reason: string };

/**
 * The management permissions of the person's token: what the person holds, never more than the
 * delegating client may hand on, narrowed further by `scope` when the request names one. A `scope`
 * naming something outside that is invalid_scope; nothing left at all is a refusal, not an empty token.
 */
export function delegatedPermissions(input: {
  person: readonly string[];
  delegable: readonly string[];
  requestedScope: readonly string[] | null;
}): DelegatedPermissions {
  const delegable = new Set(input.delegable);
  const granted = input.person.filter((p) => delegable.has(p));
  if (input.requestedScope && input.requestedScope.length > 0) {
    const grantable = new Set(granted);
    const beyond = [...new Set(input.requestedScope)].filter((p) => !grantable.has(p)).sort();
    if (beyond.length > 0) {
      return {
        ok: false,
        error: 'invalid_scope',
        reason: `scope names ${beyond.join(', ')}, which this person may not be given through this client; request a subset of: ${granted.join(' ') || '(none)'}`,
      };
    }
    const requested = new Set(input.requestedScope);
    return { ok: true, permissions: granted.filter((p) => requested.has(p)) };
  }
  if (granted.length === 0) {
    return {
      ok: false,
      error: 'invalid_request',
      reason:
        input.person.length === 0
          ? 'the subject token grants the person no management permission'
          : `this client may not delegate any management permission the person holds (${input.person.join(', ')})`,
    };
  }
  return { ok: true, permissions: granted };
}

/**
 * A subject token is a one-time proof that the person is logged in to the product, not a session:
 * it must say when it was issued, live at most `maxLifetimeSeconds`, and not come from the future.
 * Null when acceptable, else what to fix.
 */
export function subjectTokenLifetimeProblem(
  claims: { iat: number; exp: number },
  now: number,
  maxLifetimeSeconds: number,
  clockToleranceSeconds: number,
): string | null {
  if (claims.iat > now + clockToleranceSeconds) return 'the subject token was issued in the future (iat)';
  if (claims.exp - claims.iat > maxLifetimeSeconds) {
    return `the subject token lives ${claims.exp - claims.iat} s (exp - iat); at most ${maxLifetimeSeconds} s is accepted`;
  }
  return null;
}

/** The delegated token's lifetime: the deployment's, never above the organization's access-token TTL. */
export function delegatedTokenTtl(deploymentTtlSeconds: number, organizationTtlSeconds: number): number {
  return Math.min(deploymentTtlSeconds, organizationTtlSeconds);
}

/**
 * The roles named by a person's `grantable_roles` (role ids or names, names case-insensitive, as
 * role names are unique that way): the ids of the organization's roles it names. Names of roles that
 * do not exist name nothing (the product's list may run ahead of the organization's roles).
 */
export function grantableRoleIds(
  listed: readonly string[],
  roles: ReadonlyArray<{ id: string; name: string }>,
): Set<string> {
  const wanted = new Set(listed.map((entry) => entry.toLowerCase()));
  return new Set(roles.filter((r) => wanted.has(r.id) || wanted.has(r.name.toLowerCase())).map((r) => r.id));
}
