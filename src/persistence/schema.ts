import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { CredentialType } from '../domain/status.ts';

/** Timestamps are read as Date and may be written as Date or ISO string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type GeneratedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface OrganizationsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  api_enabled: Generated<boolean>;
  allowed_credential_types: ColumnType<CredentialType[], CredentialType[] | undefined, CredentialType[]>;
  access_token_ttl_seconds: Generated<number>;
  max_credentials_per_account: Generated<number>;
  max_credential_lifetime_seconds: number | null;
  /** The product's own tenant id (platform API); null for organizations made by `svcauth bootstrap`. */
  external_id: string | null;
  status: ColumnType<OrganizationStatus, OrganizationStatus | undefined, OrganizationStatus>;
  status_changed_at: Timestamp | null;
  /** Whether the product entitles the organization to the API module (migration 0011). */
  api_entitled: Generated<boolean>;
  /** Ceilings on what the organization's admins may choose (null: none); see OrganizationLimits. */
  limit_allowed_credential_types: CredentialType[] | null;
  limit_access_token_ttl_seconds: number | null;
  limit_max_credentials_per_account: number | null;
  limit_max_credential_lifetime_seconds: number | null;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
}

/** One row: what a new organization starts with, set by the platform operator (migration 0011). */
export interface OrganizationDefaultsTable {
  singleton: Generated<boolean>;
  api_entitled: boolean;
  api_enabled: boolean;
  allowed_credential_types: CredentialType[];
  access_token_ttl_seconds: number;
  max_credentials_per_account: number;
  max_credential_lifetime_seconds: number | null;
  limit_allowed_credential_types: CredentialType[] | null;
  limit_access_token_ttl_seconds: number | null;
  limit_max_credentials_per_account: number | null;
  limit_max_credential_lifetime_seconds: number | null;
  updated_at: GeneratedTimestamp;
}

/** Set by the platform operator: only `active` organizations' credentials may have tokens. */
export type OrganizationStatus = 'active' | 'suspended' | 'archived';

export interface LocationsTable {
  id: Generated<string>;
  org_id: string;
  name: string;
  /**
   * The product's own id of the location (migration 0010): tokens key the location's permissions by
   * it instead of `id`. Null for locations svcauth alone knows.
   */
  external_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: GeneratedTimestamp;
  deleted_at: Timestamp | null;
}

export interface RolesTable {
  id: Generated<string>;
  org_id: string;
  name: string;
  description: Generated<string>;
  permissions: ColumnType<string[], string[] | undefined, string[]>;
  assignable_to_service_accounts: Generated<boolean>;
  is_system: Generated<boolean>;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
  deleted_at: Timestamp | null;
}

/**
 * Who did something, as it was when they did it (migration 0013): a person (through the product's
 * token exchange), a service account, an operator. A person has no row here, so the snapshot is all
 * there is of them.
 */
export interface ActorSnapshot {
  kind: 'person' | 'service_account' | 'operator';
  /** The person's id in the product, the service account id, or the operator name. */
  id: string;
  display_name: string | null;
  /** A person's delegating client (the product's client id). */
  client_id?: string | null;
}

type ActorSnapshotColumn = ColumnType<ActorSnapshot | null, string | null | undefined, string | null>;

export interface ServiceAccountsTable {
  id: Generated<string>;
  org_id: string;
  name: string;
  description: Generated<string>;
  is_protected: Generated<boolean>;
  groups_admin: Generated<boolean>;
  all_locations: Generated<boolean>;
  permissions_version: Generated<number>;
  /** When roles, locations, the matrix or groups_admin last changed (tokens issued before are stale). */
  permissions_changed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_by_account_id: string | null;
  /** Whoever created the account (migration 0013); null for rows made before. */
  created_by_actor: ActorSnapshotColumn;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
  archived_at: Timestamp | null;
}

export interface ServiceAccountLocationsTable {
  org_id: string;
  service_account_id: string;
  location_id: string;
}

export interface ServiceAccountRolesTable {
  org_id: string;
  service_account_id: string;
  role_id: string;
}

export interface ServiceAccountRoleLocationsTable {
  org_id: string;
  service_account_id: string;
  role_id: string;
  location_id: string;
}

export interface CredentialsTable {
  id: Generated<string>;
  org_id: string;
  service_account_id: string;
  type: CredentialType;
  name: string;
  client_id: string;
  secret_hash: string | null;
  previous_secret_hash: string | null;
  previous_secret_expires_at: Timestamp | null;
  /** 1, then one more with every regeneration; tokens carry the version of the secret they came from. */
  secret_version: Generated<number>;
  /** When the current secret replaced the previous one (null: never regenerated). */
  secret_changed_at: Timestamp | null;
  jwks: ColumnType<{ keys: Record<string, unknown>[] } | null, string | null, string | null>;
  display_hint: Generated<string>;
  lineage_id: string;
  slot: ColumnType<'primary' | 'secondary', 'primary' | 'secondary' | undefined, 'primary' | 'secondary'>;
  is_legacy: Generated<boolean>;
  /** Legacy keys only: what finds the row (an HMAC of the key; see migration 0004). Never shown. */
  legacy_lookup: string | null;
  created_by_account_id: string | null;
  created_by_credential_id: string | null;
  /** Whoever created the credential (migration 0013); null for rows made before. */
  created_by_actor: ActorSnapshotColumn;
  created_at: GeneratedTimestamp;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
  last_used_at: Timestamp | null;
  last_used_ip: string | null;
}

/** Access tokens revoked through POST /revoke, kept until they expire. */
export interface RevokedTokensTable {
  jti: string;
  org_id: string;
  client_id: string;
  expires_at: Timestamp;
  revoked_at: GeneratedTimestamp;
}

/** Feed entries committed with their revocation and not yet written to the state store. */
export interface RevocationOutboxTable {
  /** bigserial: read as a string (see database.ts), so ids never lose precision. */
  id: Generated<string>;
  /** The RevocationEntry, as JSON. */
  entry: string;
  /** The ChangeEvent the revocation was announced with, as JSON (migration 0009); null for none. */
  change: string | null;
  created_at: GeneratedTimestamp;
}

/** The product permissions (migration 0010); management permissions are fixed in config/permissions.ts. */
export interface PermissionCatalogTable {
  name: string;
  description: Generated<string>;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
}

export interface AuditEventsTable {
  /** bigint identity, read as a string so cursors never lose precision. */
  id: ColumnType<string, never, never>;
  org_id: string | null;
  occurred_at: GeneratedTimestamp;
  actor_account_id: string | null;
  actor_credential_id: string | null;
  action: string;
  outcome: ColumnType<'success' | 'failure', 'success' | 'failure' | undefined, never>;
  target_type: string | null;
  target_id: string | null;
  diff: ColumnType<Record<string, unknown> | null, string | null, never>;
  source_ip: string | null;
  request_id: string | null;
  /** The operator (OPERATORS entry name) who did this through the platform API. */
  actor_operator: string | null;
  /** Migration 0013: who acted, whatever its kind; null on events recorded before. */
  actor_kind: 'person' | 'service_account' | 'operator' | 'system' | null;
  actor_id: string | null;
  actor_display_name: string | null;
  /** A person's delegating client (client id). */
  actor_client_id: string | null;
}

/** Credentials (by lineage) the platform operator allows to exchange subject tokens for people. */
export interface DelegationsTable {
  id: Generated<string>;
  /** The organization of the credential (the product's own), not of the people it acts for. */
  org_id: string;
  /** The credential named when the delegation was allowed. */
  credential_id: string;
  /** Every credential of this lineage may delegate (rotation keeps the permission). */
  lineage_id: string;
  /** The most a person's token obtained through this client may carry. */
  max_permissions: ColumnType<string[], string[], string[]>;
  created_by_operator: string;
  created_at: GeneratedTimestamp;
  updated_at: GeneratedTimestamp;
}

/** Resource servers' and operators' credentials made through the platform API (migration 0015). */
export interface DeploymentCredentialsTable {
  id: Generated<string>;
  kind: 'resource_server' | 'operator';
  name: string;
  /** SHA-256 of the secret (a 190-bit random value), as RESOURCE_SERVERS and OPERATORS keep it. */
  secret_sha256: Buffer;
  created_by_operator: string;
  created_at: GeneratedTimestamp;
  revoked_by_operator: string | null;
  revoked_at: Timestamp | null;
}

export interface Database {
  organizations: OrganizationsTable;
  organization_defaults: OrganizationDefaultsTable;
  locations: LocationsTable;
  roles: RolesTable;
  service_accounts: ServiceAccountsTable;
  service_account_locations: ServiceAccountLocationsTable;
  service_account_roles: ServiceAccountRolesTable;
  service_account_role_locations: ServiceAccountRoleLocationsTable;
  credentials: CredentialsTable;
  audit_events: AuditEventsTable;
  revoked_tokens: RevokedTokensTable;
  revocation_outbox: RevocationOutboxTable;
  permission_catalog: PermissionCatalogTable;
  delegations: DelegationsTable;
  deployment_credentials: DeploymentCredentialsTable;
}

export type Organization = Selectable<OrganizationsTable>;
export type OrganizationDefaults = Selectable<OrganizationDefaultsTable>;
export type Location = Selectable<LocationsTable>;
export type Role = Selectable<RolesTable>;
export type ServiceAccount = Selectable<ServiceAccountsTable>;
export type Credential = Selectable<CredentialsTable>;
export type NewCredential = Insertable<CredentialsTable>;
export type CredentialUpdate = Updateable<CredentialsTable>;
export type AuditEvent = Selectable<AuditEventsTable>;
export type CatalogPermission = Selectable<PermissionCatalogTable>;
export type Delegation = Selectable<DelegationsTable>;
export type DeploymentCredential = Selectable<DeploymentCredentialsTable>;
