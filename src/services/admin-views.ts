/**
 * Rows as the management API shows them (snake_case JSON). The same views feed audit diffs, so what an
 * event records is exactly what an admin could read, and never a secret or a hash.
 */
import type { ResolvedPermissions } from '../domain/permissions.ts';
import { type AccountStatus, credentialStatus } from '../domain/status.ts';
import type { StoredAssignments } from '../persistence/repositories/service-account-repository.ts';
import type {
  ActorSnapshot,
  AuditEvent,
  Credential,
  Location,
  Organization,
  Role,
  ServiceAccount,
} from '../persistence/schema.ts';

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

/**
 * "Created by" of an account or a credential: the snapshot kept since migration 0013 (a person has no
 * row to point at), else what the older columns say: an account, or the operator (CLI, platform API).
 */
function createdByView(row: {
  created_by_actor: ActorSnapshot | null;
  created_by_account_id: string | null;
}) {
  const actor = row.created_by_actor;
  if (actor) {
    return {
      kind: actor.kind,
      id: actor.id,
      display_name: actor.display_name,
      client_id: actor.client_id ?? null,
    };
  }
  return row.created_by_account_id
    ? { kind: 'service_account' as const, id: row.created_by_account_id, display_name: null, client_id: null }
    : { kind: 'operator' as const, id: null, display_name: null, client_id: null };
}

export function locationView(row: Location) {
  return {
    id: row.id,
    external_id: row.external_id,
    name: row.name,
    created_at: row.created_at.toISOString(),
  };
}
export type LocationView = ReturnType<typeof locationView>;

export function roleView(row: Role) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    permissions: [...row.permissions].sort(),
    assignable_to_service_accounts: row.assignable_to_service_accounts,
    is_system: row.is_system,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
export type RoleView = ReturnType<typeof roleView>;

export function serviceAccountView(
  row: ServiceAccount,
  assignments: StoredAssignments,
  status: AccountStatus,
  permissions: ResolvedPermissions,
) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status,
    is_protected: row.is_protected,
    groups_admin: row.groups_admin,
    all_locations: row.all_locations,
    location_ids: [...assignments.locationIds].sort(),
    roles: assignments.roles.map((r) => ({
      role_id: r.roleId,
      location_ids: r.restrictedTo ? [...r.restrictedTo].sort() : null,
    })),
    permissions,
    permissions_version: row.permissions_version,
    created_by_account_id: row.created_by_account_id,
    created_by: createdByView(row),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    archived_at: iso(row.archived_at),
  };
}
export type ServiceAccountView = ReturnType<typeof serviceAccountView>;

export function credentialView(row: Credential, now: Date) {
  return {
    id: row.id,
    service_account_id: row.service_account_id,
    name: row.name,
    type: row.type,
    client_id: row.client_id,
    display_hint: row.display_hint,
    status: credentialStatus({ revokedAt: row.revoked_at, expiresAt: row.expires_at }, now),
    slot: row.slot,
    lineage_id: row.lineage_id,
    is_legacy: row.is_legacy,
    jwks: row.jwks,
    created_by: {
      account_id: row.created_by_account_id,
      credential_id: row.created_by_credential_id,
      ...createdByView(row),
    },
    created_at: row.created_at.toISOString(),
    expires_at: iso(row.expires_at),
    previous_secret_expires_at: iso(row.previous_secret_expires_at),
    revoked_at: iso(row.revoked_at),
    revoked_reason: row.revoked_reason,
    last_used_at: iso(row.last_used_at),
    last_used_ip: row.last_used_ip,
  };
}
export type CredentialView = ReturnType<typeof credentialView>;

/** The columns of an organization's settings, its entitlement and limits (also organization_defaults'). */
type SettingsColumns = Pick<
  Organization,
  | 'api_enabled'
  | 'api_entitled'
  | 'allowed_credential_types'
  | 'access_token_ttl_seconds'
  | 'max_credentials_per_account'
  | 'max_credential_lifetime_seconds'
  | 'limit_allowed_credential_types'
  | 'limit_access_token_ttl_seconds'
  | 'limit_max_credentials_per_account'
  | 'limit_max_credential_lifetime_seconds'
>;

/** The operator's ceilings on the settings (null: none); admins read them, only the operator sets them. */
export function limitsView(row: SettingsColumns) {
  return {
    allowed_credential_types: row.limit_allowed_credential_types
      ? [...row.limit_allowed_credential_types]
      : null,
    access_token_ttl_seconds: row.limit_access_token_ttl_seconds,
    max_credentials_per_account: row.limit_max_credentials_per_account,
    max_credential_lifetime_seconds: row.limit_max_credential_lifetime_seconds,
  };
}

export function settingsView(org: SettingsColumns) {
  return {
    api_enabled: org.api_enabled,
    api_entitled: org.api_entitled,
    allowed_credential_types: [...org.allowed_credential_types],
    access_token_ttl_seconds: org.access_token_ttl_seconds,
    max_credentials_per_account: org.max_credentials_per_account,
    max_credential_lifetime_seconds: org.max_credential_lifetime_seconds,
    limits: limitsView(org),
  };
}
export type SettingsView = ReturnType<typeof settingsView>;

export function auditEventView(row: AuditEvent) {
  // Recorded since migration 0013; before it, derived: the operator acts through the platform API
  // (named) or the CLI on the server (diff.via = cli).
  const actorKind: 'person' | 'operator' | 'service_account' | 'system' =
    row.actor_kind ??
    (row.actor_operator !== null || row.diff?.via === 'cli'
      ? 'operator'
      : row.actor_account_id !== null
        ? 'service_account'
        : 'system');
  return {
    id: row.id,
    occurred_at: row.occurred_at.toISOString(),
    action: row.action,
    outcome: row.outcome,
    actor_kind: actorKind,
    actor_id: row.actor_id ?? row.actor_account_id ?? row.actor_operator,
    actor_display_name: row.actor_display_name,
    actor_client_id: row.actor_client_id,
    actor_operator: row.actor_operator,
    actor_account_id: row.actor_account_id,
    actor_credential_id: row.actor_credential_id,
    target_type: row.target_type,
    target_id: row.target_id,
    diff: row.diff,
    source_ip: row.source_ip,
    request_id: row.request_id,
  };
}
export type AuditEventView = ReturnType<typeof auditEventView>;
