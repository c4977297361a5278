/**
 * The management API, one entry per operation. The router and the OpenAPI document are both derived
 * from this table, so what is documented is what is served. Each entry reads top to bottom: path,
 * permission, schemas, then the one service call.
 */
import { z } from 'zod';
import type { ManagementPermission } from '../../../config/permissions.ts';
import type { AdminActor } from '../../services/admin-actor.ts';
import type { AuditQueryService } from '../../services/audit-query-service.ts';
import type { CredentialLifecycleService } from '../../services/credential-lifecycle-service.ts';
import type { LegacyKeyImportService } from '../../services/legacy-key-import-service.ts';
import type { LocationService } from '../../services/location-service.ts';
import type { RoleService } from '../../services/role-service.ts';
import type { PermissionCatalog } from '../../services/permission-catalog.ts';
import type { ServiceAccountService } from '../../services/service-account-service.ts';
import type { SettingsService } from '../../services/settings-service.ts';
import type { RefusedAttemptAudit } from '../../services/refused-attempts.ts';
import { decodeCursor, pageRequest, pageResponse } from './request.ts';
import * as s from './schemas.ts';

export interface AdminServices {
  /** The permission catalog now: what a role may hold, with descriptions. */
  permissions: Pick<PermissionCatalog, 'views'>;
  locations: LocationService;
  roles: RoleService;
  accounts: ServiceAccountService;
  credentials: CredentialLifecycleService;
  settings: SettingsService;
  audit: AuditQueryService;
  legacyKeys: LegacyKeyImportService;
  /** Refused attempts (403, 409) into the actor's audit trail, within a per-actor budget. */
  refusals: RefusedAttemptAudit;
}

const noQuery = z.strictObject({});
const noContent = z.void();

/** What the OpenAPI document needs of a route, admin or platform. */
export interface DocumentedRoute<
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
> {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  params: Readonly<Record<string, string>>;
  query: Q;
  body: B | null;
  response: {
    status: 200 | 201 | 204;
    description: string;
    schema: R;
    /** Another success status answering the same schema (e.g. 200 for an idempotent create's replay). */
    also?: { status: 200 | 201; description: string };
  };
}

export interface AdminRoute<
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
> extends DocumentedRoute<Q, B, R> {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI form, relative to /admin/v1; `:verb` suffixes are custom actions (AIP-136 style). */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  /** Any one of these permissions is enough. */
  permissions: readonly ManagementPermission[];
  /** Path parameters and the resource each names (an unknown id answers 404 for that resource). */
  params: Readonly<Record<string, string>>;
  query: Q;
  body: B | null;
  response: { status: 200 | 201 | 204; description: string; schema: R };
  handle(
    request: {
      actor: AdminActor;
      params: Readonly<Record<string, string>>;
      query: z.output<Q>;
      body: z.output<B>;
    },
    services: AdminServices,
  ): Promise<z.input<R>>;
}

/** The account list's filters, as the query string gives them. */
function accountListFilter(query: z.output<typeof s.roleHoldersQuery>) {
  return {
    includeArchived: query.include_archived === 'true',
    status: query.status,
    locationId: query.location_id,
    nameContains: query.q,
  };
}

/** Checks one entry's handler against its schemas; the table itself holds them type-erased. */
function route<Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType>(
  definition: AdminRoute<Q, B, R>,
): AdminRoute {
  return definition;
}

const READ_STRUCTURE: readonly ManagementPermission[] = ['roles:write', 'service_accounts:read'];
const location = { location_id: 'location' };
const role = { role_id: 'role' };
const account = { account_id: 'service account' };
const credential = { account_id: 'service account', credential_id: 'credential' };

export const ADMIN_ROUTES: readonly AdminRoute[] = [
  // Locations -----------------------------------------------------------------------------------------
  route({
    method: 'get',
    path: '/locations',
    operationId: 'listLocations',
    tag: 'Locations',
    summary: 'List locations',
    permissions: READ_STRUCTURE,
    params: {},
    query: s.pageQuery,
    body: null,
    response: { status: 200, description: 'a page of locations', schema: s.pageOf(s.locationOut) },
    handle: async ({ actor, query }, { locations }) =>
      pageResponse('locations', await locations.list(actor, pageRequest('locations', query))),
  }),
  route({
    method: 'post',
    path: '/locations',
    operationId: 'createLocation',
    tag: 'Locations',
    summary: 'Create a location',
    permissions: ['roles:write'],
    params: {},
    query: noQuery,
    body: s.locationCreate,
    response: { status: 201, description: 'the location', schema: s.locationOut },
    handle: ({ actor, body }, { locations }) => locations.create(actor, body),
  }),
  route({
    method: 'get',
    path: '/locations/{location_id}',
    operationId: 'getLocation',
    tag: 'Locations',
    summary: 'Get a location',
    permissions: READ_STRUCTURE,
    params: location,
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the location', schema: s.locationOut },
    handle: ({ actor, params }, { locations }) => locations.get(actor, params.location_id!),
  }),
  route({
    method: 'patch',
    path: '/locations/{location_id}',
    operationId: 'updateLocation',
    tag: 'Locations',
    summary: "Rename a location, or give it the product's location id",
    permissions: ['roles:write'],
    params: location,
    query: noQuery,
    body: s.locationUpdate,
    response: { status: 200, description: 'the location', schema: s.locationOut },
    handle: ({ actor, params, body }, { locations }) => locations.update(actor, params.location_id!, body),
  }),
  route({
    method: 'delete',
    path: '/locations/{location_id}',
    operationId: 'deleteLocation',
    tag: 'Locations',
    summary: 'Delete a location no live service account is placed at',
    permissions: ['roles:write'],
    params: location,
    query: noQuery,
    body: null,
    response: { status: 204, description: 'deleted', schema: noContent },
    handle: ({ actor, params }, { locations }) => locations.delete(actor, params.location_id!),
  }),

  // Permissions ---------------------------------------------------------------------------------------
  route({
    method: 'get',
    path: '/permissions',
    operationId: 'listPermissions',
    tag: 'Roles',
    summary: 'List the permissions a role may hold, with what each lets a token do',
    permissions: READ_STRUCTURE,
    params: {},
    query: noQuery,
    body: null,
    response: {
      status: 200,
      description: "the deployment's product permissions, then svcauth's management permissions",
      schema: z.object({ items: z.array(s.permissionOut) }),
    },
    handle: async (_request, { permissions }) => ({ items: permissions.views() }),
  }),

  // Roles ---------------------------------------------------------------------------------------------
  route({
    method: 'get',
    path: '/roles',
    operationId: 'listRoles',
    tag: 'Roles',
    summary: 'List roles',
    permissions: READ_STRUCTURE,
    params: {},
    query: s.pageQuery,
    body: null,
    response: { status: 200, description: 'a page of roles', schema: s.pageOf(s.roleOut) },
    handle: async ({ actor, query }, { roles }) =>
      pageResponse('roles', await roles.list(actor, pageRequest('roles', query))),
  }),
  route({
    method: 'post',
    path: '/roles',
    operationId: 'createRole',
    tag: 'Roles',
    summary: 'Create a role (only with permissions you hold)',
    permissions: ['roles:write'],
    params: {},
    query: noQuery,
    body: s.roleCreate,
    response: { status: 201, description: 'the role', schema: s.roleOut },
    handle: ({ actor, body }, { roles }) => roles.create(actor, body),
  }),
  route({
    method: 'get',
    path: '/roles/{role_id}',
    operationId: 'getRole',
    tag: 'Roles',
    summary: 'Get a role',
    permissions: READ_STRUCTURE,
    params: role,
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the role', schema: s.roleOut },
    handle: ({ actor, params }, { roles }) => roles.get(actor, params.role_id!),
  }),
  route({
    method: 'patch',
    path: '/roles/{role_id}',
    operationId: 'updateRole',
    tag: 'Roles',
    summary: 'Edit a role; accounts holding it get a new permissions version',
    permissions: ['roles:write'],
    params: role,
    query: s.roleUpdateQuery,
    body: s.roleUpdate,
    response: { status: 200, description: 'the role', schema: s.roleOut },
    handle: ({ actor, params, query, body }, { roles }) =>
      roles.update(actor, params.role_id!, body, {
        removeFromHolders: query.remove_from_holders === 'true',
      }),
  }),
  route({
    method: 'delete',
    path: '/roles/{role_id}',
    operationId: 'deleteRole',
    tag: 'Roles',
    summary: 'Delete a role; it stops granting anything at once',
    permissions: ['roles:write'],
    params: role,
    query: noQuery,
    body: null,
    response: { status: 204, description: 'deleted', schema: noContent },
    handle: ({ actor, params }, { roles }) => roles.delete(actor, params.role_id!),
  }),

  route({
    method: 'get',
    path: '/roles/{role_id}/service-accounts',
    operationId: 'listRoleHolders',
    tag: 'Roles',
    summary: 'List the service accounts holding a role (the account list, filtered by it)',
    permissions: ['service_accounts:read'],
    params: role,
    query: s.roleHoldersQuery,
    body: null,
    response: {
      status: 200,
      description: 'a page of the service accounts holding the role, in creation order',
      schema: s.pageOf(s.listedServiceAccountOut),
    },
    handle: async ({ actor, params, query }, { accounts }) =>
      pageResponse(
        'service_accounts',
        await accounts.listHoldingRole(
          actor,
          params.role_id!,
          accountListFilter(query),
          pageRequest('service_accounts', query),
        ),
      ),
  }),

  // Service accounts ----------------------------------------------------------------------------------
  route({
    method: 'get',
    path: '/service-accounts',
    operationId: 'listServiceAccounts',
    tag: 'Service accounts',
    summary: 'List service accounts: search by name, filter by status, role and location',
    permissions: ['service_accounts:read'],
    params: {},
    query: s.serviceAccountListQuery,
    body: null,
    response: {
      status: 200,
      description: 'a page of service accounts, in creation order',
      schema: s.pageOf(s.listedServiceAccountOut),
    },
    handle: async ({ actor, query }, { accounts }) =>
      pageResponse(
        'service_accounts',
        await accounts.list(
          actor,
          { ...accountListFilter(query), roleId: query.role_id },
          pageRequest('service_accounts', query),
        ),
      ),
  }),
  route({
    method: 'post',
    path: '/service-accounts',
    operationId: 'createServiceAccount',
    tag: 'Service accounts',
    summary: 'Create a service account, and its first credential if asked (its secret in this response only)',
    permissions: ['service_accounts:write'],
    params: {},
    query: noQuery,
    body: s.serviceAccountCreate,
    response: {
      status: 201,
      description: 'the service account (with its first credential and secret, when asked for)',
      schema: s.createdServiceAccountOut,
    },
    handle: ({ actor, body }, { accounts }) => accounts.create(actor, body),
  }),
  route({
    method: 'get',
    path: '/service-accounts/{account_id}',
    operationId: 'getServiceAccount',
    tag: 'Service accounts',
    summary: 'Get a service account',
    permissions: ['service_accounts:read'],
    params: account,
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the service account', schema: s.listedServiceAccountOut },
    handle: ({ actor, params }, { accounts }) => accounts.get(actor, params.account_id!),
  }),
  route({
    method: 'patch',
    path: '/service-accounts/{account_id}',
    operationId: 'updateServiceAccount',
    tag: 'Service accounts',
    summary: 'Edit a service account; permission changes reach all its credentials at once',
    permissions: ['service_accounts:write'],
    params: account,
    query: noQuery,
    body: s.serviceAccountUpdate,
    response: { status: 200, description: 'the service account', schema: s.serviceAccountOut },
    handle: ({ actor, params, body }, { accounts }) => accounts.update(actor, params.account_id!, body),
  }),
  route({
    method: 'post',
    path: '/service-accounts/{account_id}:archive',
    operationId: 'archiveServiceAccount',
    tag: 'Service accounts',
    summary: 'Archive a service account, revoking all its credentials',
    permissions: ['service_accounts:delete'],
    params: account,
    query: noQuery,
    body: s.emptyBody,
    response: { status: 200, description: 'the archived service account', schema: s.serviceAccountOut },
    handle: ({ actor, params }, { accounts }) => accounts.archive(actor, params.account_id!),
  }),
  route({
    method: 'delete',
    path: '/service-accounts/{account_id}',
    operationId: 'deleteServiceAccount',
    tag: 'Service accounts',
    summary: 'Same as :archive (the row stays for the audit trail; :purge removes it)',
    permissions: ['service_accounts:delete'],
    params: account,
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the archived service account', schema: s.serviceAccountOut },
    handle: ({ actor, params }, { accounts }) => accounts.archive(actor, params.account_id!),
  }),

  route({
    method: 'post',
    path: '/service-accounts/{account_id}:purge',
    operationId: 'purgeServiceAccount',
    tag: 'Service accounts',
    summary: 'Remove an archived service account and its credentials for good (the audit trail stays)',
    permissions: ['service_accounts:delete'],
    params: account,
    query: noQuery,
    body: s.emptyBody,
    response: { status: 204, description: 'purged', schema: noContent },
    handle: ({ actor, params }, { accounts }) => accounts.purge(actor, params.account_id!),
  }),

  // Credentials ---------------------------------------------------------------------------------------
  route({
    method: 'get',
    path: '/service-accounts/{account_id}/credentials',
    operationId: 'listCredentials',
    tag: 'Credentials',
    summary: "List an account's credentials (never their secrets)",
    permissions: ['service_accounts:read'],
    params: account,
    query: s.pageQuery,
    body: null,
    response: { status: 200, description: 'a page of credentials', schema: s.pageOf(s.credentialOut) },
    handle: async ({ actor, params, query }, { credentials }) =>
      pageResponse(
        'credentials',
        await credentials.list(actor, params.account_id!, pageRequest('credentials', query)),
      ),
  }),
  route({
    method: 'post',
    path: '/service-accounts/{account_id}/credentials',
    operationId: 'createCredential',
    tag: 'Credentials',
    summary: 'Create a credential; its secret is in this response only',
    permissions: ['service_accounts:write'],
    params: account,
    query: noQuery,
    body: s.credentialCreate,
    response: { status: 201, description: 'the credential and its secret', schema: s.issuedCredentialOut },
    handle: ({ actor, params, body }, { credentials }) => credentials.create(actor, params.account_id!, body),
  }),
  route({
    method: 'get',
    path: '/service-accounts/{account_id}/credentials/{credential_id}',
    operationId: 'getCredential',
    tag: 'Credentials',
    summary: 'Get a credential (never its secret)',
    permissions: ['service_accounts:read'],
    params: credential,
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the credential', schema: s.credentialOut },
    handle: ({ actor, params }, { credentials }) =>
      credentials.get(actor, params.account_id!, params.credential_id!),
  }),
  route({
    method: 'post',
    path: '/service-accounts/{account_id}/credentials/{credential_id}:revoke',
    operationId: 'revokeCredential',
    tag: 'Credentials',
    summary: 'Revoke a credential, immediately and irreversibly',
    permissions: ['service_accounts:write'],
    params: credential,
    query: noQuery,
    body: s.emptyBody,
    response: { status: 200, description: 'the revoked credential', schema: s.credentialOut },
    handle: ({ actor, params }, { credentials }) =>
      credentials.revoke(actor, params.account_id!, params.credential_id!),
  }),
  route({
    method: 'post',
    path: '/service-accounts/{account_id}/credentials/{credential_id}:rotate',
    operationId: 'rotateCredential',
    tag: 'Credentials',
    summary:
      'New primary in the lineage; the old primary (or a lone secondary) becomes secondary, an older secondary is revoked',
    permissions: ['service_accounts:write'],
    params: credential,
    query: noQuery,
    body: s.credentialRotate,
    response: { status: 201, description: 'the new primary and its secret', schema: s.rotatedCredentialOut },
    handle: ({ actor, params, body }, { credentials }) =>
      credentials.rotate(actor, params.account_id!, params.credential_id!, body),
  }),
  route({
    method: 'post',
    path: '/service-accounts/{account_id}/credentials/{credential_id}:regenerate',
    operationId: 'regenerateCredential',
    tag: 'Credentials',
    summary: 'Same client id or key id, new secret; the old one may keep working for a grace period',
    permissions: ['service_accounts:write'],
    params: credential,
    query: noQuery,
    body: s.credentialRegenerate,
    response: {
      status: 200,
      description: 'the credential and its new secret',
      schema: s.issuedCredentialOut,
    },
    handle: ({ actor, params, body }, { credentials }) =>
      credentials.regenerate(actor, params.account_id!, params.credential_id!, body),
  }),

  // Settings, audit, legacy keys ----------------------------------------------------------------------
  route({
    method: 'get',
    path: '/settings',
    operationId: 'getSettings',
    tag: 'Settings',
    summary: "Get the organization's API security settings",
    permissions: ['settings:write', 'service_accounts:read'],
    params: {},
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the settings', schema: s.settingsOut },
    handle: ({ actor }, { settings }) => settings.get(actor),
  }),
  route({
    method: 'patch',
    path: '/settings',
    operationId: 'updateSettings',
    tag: 'Settings',
    summary: "Change the organization's API security settings",
    permissions: ['settings:write'],
    params: {},
    query: noQuery,
    body: s.settingsUpdate,
    response: { status: 200, description: 'the settings', schema: s.settingsOut },
    handle: ({ actor, body }, { settings }) => settings.update(actor, body),
  }),
  route({
    method: 'get',
    path: '/audit-events',
    operationId: 'listAuditEvents',
    tag: 'Audit',
    summary: 'Read the audit trail, newest first',
    permissions: ['audit:read'],
    params: {},
    query: s.auditEventQuery,
    body: null,
    response: { status: 200, description: 'a page of audit events', schema: s.pageOf(s.auditEventOut) },
    handle: async ({ actor, query }, { audit }) =>
      pageResponse(
        'audit_events',
        await audit.list(
          actor,
          {
            targetId: query.target_id,
            actorAccountId: query.actor_account_id,
            actorId: query.actor_id,
            actorKind: query.actor_kind,
            action: query.action,
            since: query.since ? new Date(query.since) : undefined,
            until: query.until ? new Date(query.until) : undefined,
          },
          { before: decodeCursor('audit_events', query.cursor), limit: query.limit ?? 50 },
        ),
      ),
  }),
  route({
    method: 'post',
    path: '/legacy-keys:import',
    operationId: 'importLegacyKeys',
    tag: 'Legacy keys',
    summary: 'Import legacy API keys as service accounts whose credential accepts the old key unchanged',
    permissions: ['service_accounts:write'],
    params: {},
    query: noQuery,
    body: s.legacyKeyImport,
    response: { status: 200, description: 'a report per row', schema: s.legacyKeyImportOut },
    handle: ({ actor, body }, { legacyKeys }) => legacyKeys.import(actor, body.keys),
  }),
];
