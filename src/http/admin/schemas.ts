/**
 * The management API's shapes. Request schemas validate every body and query (unknown fields are
 * refused); response schemas type what handlers return. Both feed the OpenAPI document, so the
 * document cannot drift from what the server accepts.
 */
import { z } from 'zod';
import { LIMITS } from '../../../config/defaults.ts';
import { MANAGEMENT_PERMISSIONS } from '../../../config/permissions.ts';
import {
  MAX_PRODUCT_PERMISSIONS,
  PERMISSION_DESCRIPTION_MAX,
  PERMISSION_NAME_MAX,
  PERMISSION_NAME_PATTERN,
} from '../../domain/permission-catalog.ts';
import { CREDENTIAL_SLOTS, CREDENTIAL_TYPES } from '../../domain/status.ts';
import {
  isMultiLineText,
  isSingleLineText,
  MULTI_LINE_TEXT_MESSAGE,
  SINGLE_LINE_TEXT_MESSAGE,
} from '../../domain/text.ts';
import { legacyKeyImportSchema } from '../../services/legacy-key-import-service.ts';

const TEN_YEARS_SECONDS = 10 * 365 * 24 * 3600;

/** Free text svcauth stores or matches in the database: never a NUL or a control character. */
export const singleLineText = (max: number) =>
  z.string().max(max).refine(isSingleLineText, SINGLE_LINE_TEXT_MESSAGE);
export const multiLineText = (max: number) =>
  z.string().max(max).refine(isMultiLineText, MULTI_LINE_TEXT_MESSAGE);

const name = singleLineText(200).min(1).regex(/\S/, 'must not be blank');
const description = multiLineText(2000);
const timestamp = z.iso.datetime({ offset: true });
/**
 * A permission name's shape; whether the catalog holds it is the service's check (the product
 * permissions change at run time: GET /admin/v1/permissions lists them).
 */
export const permissionName = z
  .string()
  .max(PERMISSION_NAME_MAX)
  .regex(PERMISSION_NAME_PATTERN, 'must be a permission name, resource:action (e.g. items:read)');
const permission = permissionName.describe('a permission of the catalog (GET /admin/v1/permissions)');
const credentialType = z.enum(CREDENTIAL_TYPES);

// ---------------------------------------------------------------------------------------------------
// Queries

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional().describe('page size, 1 to 200 (default 50)'),
  cursor: z.string().max(200).optional().describe('next_cursor of the previous page'),
});

export const roleHoldersQuery = pageQuery.extend({
  include_archived: z
    .enum(['true', 'false'])
    .optional()
    .describe('also list archived accounts (status=archived lists only them)'),
  q: singleLineText(200)
    .optional()
    .describe('only accounts whose name contains this, ignoring case (taken literally: % and _ too)'),
  status: z
    .enum(['active', 'disabled', 'archived'])
    .optional()
    .describe('only accounts of this derived status'),
  location_id: z
    .uuid()
    .optional()
    .describe('only accounts placed at this location (accounts on all locations included)'),
});

export const serviceAccountListQuery = roleHoldersQuery.extend({
  role_id: z.uuid().optional().describe('only accounts holding this role'),
});

export const roleUpdateQuery = z.strictObject({
  remove_from_holders: z
    .enum(['true', 'false'])
    .optional()
    .describe(
      'with assignable_to_service_accounts: false, take the role from every live account holding it ' +
        '(without it, such a change is refused with 409 role_in_use listing them)',
    ),
});

export const auditEventQuery = pageQuery.extend({
  target_id: singleLineText(200).optional().describe('only events about this object'),
  actor_account_id: z.uuid().optional().describe('only events performed by this service account'),
  actor_id: singleLineText(200)
    .optional()
    .describe(
      "only events of this actor: a person's id in the product, a service account id, an operator name",
    ),
  actor_kind: z
    .enum(['person', 'service_account', 'operator'])
    .optional()
    .describe('only events of this kind of actor'),
  action: singleLineText(100).optional().describe('e.g. service_account.updated'),
  since: timestamp.optional().describe('events at or after this instant'),
  until: timestamp.optional().describe('events before this instant'),
});

// ---------------------------------------------------------------------------------------------------
// Request bodies

/**
 * The product's own id of a location: tokens carry the location's permissions under it (README, "How
 * ids look"). Printable ASCII without spaces, at most 200 characters; never "*" (org-wide grants).
 */
export const productLocationId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .refine((value) => value !== '*', '"*" stands for all locations in tokens; choose another id')
  .describe("the product's own location id; tokens name the location by it");

export const locationCreate = z.strictObject({ name, external_id: productLocationId.nullable().optional() });
export const locationUpdate = z.strictObject({
  name: name.optional(),
  external_id: productLocationId
    .nullable()
    .optional()
    .describe("the product's own location id (null removes it); tokens issued before a change are stale"),
});

export const roleCreate = z.strictObject({
  name,
  description: description.optional(),
  permissions: z.array(permission).max(MAX_PRODUCT_PERMISSIONS + MANAGEMENT_PERMISSIONS.length),
  assignable_to_service_accounts: z
    .boolean()
    .optional()
    .describe('false marks a role (like an owner group) that service accounts may never hold'),
});
export const roleUpdate = roleCreate.partial();

const roleAssignment = z.strictObject({
  role_id: z.uuid(),
  location_ids: z
    .array(z.uuid())
    .min(1)
    .max(1000)
    .nullable()
    .optional()
    .describe('role x location matrix: the account locations where this role applies (null or absent: all)'),
});

const jwks = z
  .strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(10) })
  .describe('public JWK set (private_key_jwt only)');

const credentialFields = {
  name,
  type: credentialType,
  expires_at: timestamp.optional().describe("within the organization's maximum credential lifetime"),
  jwks: jwks.optional(),
};

/** A private_key_jwt credential needs its public keys; no other type takes any. */
function jwksOnlyForPrivateKeyJwt(value: { type: string; jwks?: unknown }, ctx: z.RefinementCtx): void {
  if (value.type === 'private_key_jwt' && value.jwks === undefined) {
    ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'is required for a private_key_jwt credential' });
  }
  if (value.type !== 'private_key_jwt' && value.jwks !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['jwks'],
      message: `is not accepted for a ${value.type} credential`,
    });
  }
}

export const credentialCreate = z.strictObject(credentialFields).superRefine(jwksOnlyForPrivateKeyJwt);

const serviceAccountFields = {
  name,
  description: description.optional(),
  all_locations: z.boolean().optional().describe('every location, including ones created later'),
  location_ids: z.array(z.uuid()).max(1000).optional(),
  roles: z.array(roleAssignment).max(100).optional(),
  groups_admin: z.boolean().optional(),
};

export const serviceAccountCreate = z.strictObject({
  ...serviceAccountFields,
  credential: z
    .strictObject({ ...credentialFields, name: name.optional().describe('default: the account name') })
    .superRefine(jwksOnlyForPrivateKeyJwt)
    .optional()
    .describe(
      "issue the account's first credential in the same request; its secret is in this response only",
    ),
});
export const serviceAccountUpdate = z.strictObject(serviceAccountFields).partial();

export const credentialRotate = z.strictObject({
  name: name.optional().describe('name of the new primary (default: the rotated credential name)'),
  expires_at: timestamp.optional(),
  jwks: jwks.optional().describe('private_key_jwt only: the new public keys (default: the current ones)'),
});

export const credentialRegenerate = z.strictObject({
  grace_period_seconds: z
    .number()
    .int()
    .min(0)
    .max(LIMITS.ACCESS_TOKEN_TTL_MAX_SECONDS)
    .optional()
    .describe('how long the previous secret keeps working (default 0: it stops at once)'),
});

const accessTokenTtl = z
  .number()
  .int()
  .min(LIMITS.ACCESS_TOKEN_TTL_MIN_SECONDS)
  .max(LIMITS.ACCESS_TOKEN_TTL_MAX_SECONDS);
const credentialsPerAccount = z.number().int().min(1).max(LIMITS.MAX_CREDENTIALS_PER_ACCOUNT);
const credentialLifetime = z.number().int().min(1).max(TEN_YEARS_SECONDS);
const credentialTypeSet = z.array(credentialType).min(1).max(CREDENTIAL_TYPES.length);

export const settingsUpdate = z.strictObject({
  api_enabled: z.boolean().optional(),
  allowed_credential_types: credentialTypeSet.optional(),
  access_token_ttl_seconds: accessTokenTtl.optional(),
  max_credentials_per_account: credentialsPerAccount.optional(),
  max_credential_lifetime_seconds: credentialLifetime
    .nullable()
    .optional()
    .describe('null: credentials may live forever'),
});

/** The platform operator's ceilings on an organization's settings; null lifts one. */
export const settingLimitsUpdate = z.strictObject({
  allowed_credential_types: credentialTypeSet
    .nullable()
    .optional()
    .describe("the only credential types the organization's admins may allow"),
  access_token_ttl_seconds: accessTokenTtl.nullable().optional(),
  max_credentials_per_account: credentialsPerAccount.nullable().optional(),
  max_credential_lifetime_seconds: credentialLifetime
    .nullable()
    .optional()
    .describe('when set, admins must keep a credential lifetime of at most this'),
});

export const legacyKeyImport = legacyKeyImportSchema;

/** Bodies of actions that take no input: an empty body or {}. */
export const emptyBody = z.strictObject({});

// ---------------------------------------------------------------------------------------------------
// Responses

export const locationOut = z.object({
  id: z.uuid(),
  external_id: z
    .string()
    .nullable()
    .describe("the product's own location id, under which tokens carry this location; null: tokens use id"),
  name: z.string(),
  created_at: timestamp,
});

export const permissionDescription = multiLineText(PERMISSION_DESCRIPTION_MAX);

export const permissionOut = z.object({
  name: z.string(),
  description: z.string().describe('what the permission lets a token do, for people choosing it'),
  kind: z
    .enum(['product', 'management'])
    .describe("product: the deployment's catalog, carried at locations; management: svcauth's own, org-wide"),
  created_at: timestamp.nullable().describe('null for management permissions (fixed by svcauth)'),
  updated_at: timestamp.nullable(),
});

export const roleOut = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  permissions: z.array(z.string()),
  assignable_to_service_accounts: z.boolean(),
  is_system: z.boolean(),
  created_at: timestamp,
  updated_at: timestamp,
});

/** Who created an account or a credential; a person is named as the product knows them. */
const createdByOut = {
  kind: z
    .enum(['person', 'service_account', 'operator'])
    .describe('operator: the platform API or the CLI (rows made before 0.13 name no operator)'),
  id: z.string().nullable().describe("a person's id in the product, the account id, or the operator name"),
  display_name: z.string().nullable().describe('as it was at creation'),
  client_id: z.string().nullable().describe("a person's delegating client (the product's client id)"),
};

export const serviceAccountOut = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  status: z.enum(['active', 'disabled', 'archived']).describe('derived: disabled = no roles'),
  is_protected: z.boolean(),
  groups_admin: z.boolean(),
  all_locations: z.boolean(),
  location_ids: z.array(z.uuid()),
  roles: z.array(z.object({ role_id: z.uuid(), location_ids: z.array(z.uuid()).nullable() })),
  permissions: z
    .record(z.string(), z.array(z.string()))
    .describe('resolved permissions by location id ("*" = org-wide), as tokens carry them'),
  permissions_version: z.number().int(),
  created_by_account_id: z.uuid().nullable(),
  created_by: z.object(createdByOut),
  created_at: timestamp,
  updated_at: timestamp,
  archived_at: timestamp.nullable(),
});

export const credentialOut = z.object({
  id: z.uuid(),
  service_account_id: z.uuid(),
  name: z.string(),
  type: credentialType,
  client_id: z.string().describe('OAuth client id, or the key id of an API key'),
  display_hint: z.string().describe('a few trailing characters to tell secrets apart; never the secret'),
  status: z.enum(['active', 'revoked', 'expired']),
  slot: z.enum(CREDENTIAL_SLOTS),
  lineage_id: z.uuid(),
  is_legacy: z.boolean(),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).nullable(),
  created_by: z.object({
    account_id: z.uuid().nullable(),
    credential_id: z.uuid().nullable(),
    ...createdByOut,
  }),
  created_at: timestamp,
  expires_at: timestamp.nullable(),
  previous_secret_expires_at: timestamp
    .nullable()
    .describe('after a regeneration with grace: until when the previous secret works'),
  revoked_at: timestamp.nullable(),
  revoked_reason: z.string().nullable(),
  last_used_at: timestamp.nullable(),
  last_used_ip: z.string().nullable(),
});

export const issuedCredentialOut = credentialOut.extend({
  client_secret: z.string().optional().describe('oauth_client: shown in this response only'),
  api_key: z.string().optional().describe('api_key: shown in this response only'),
});

export const listedServiceAccountOut = serviceAccountOut.extend({
  credential_counts: z
    .object({ active: z.number().int(), expired: z.number().int(), revoked: z.number().int() })
    .describe("the account's credentials by state (secrets never shown)"),
});

export const createdServiceAccountOut = serviceAccountOut.extend({
  credential: issuedCredentialOut
    .optional()
    .describe('only when the request asked for a first credential: its secret, shown this once'),
});

export const rotatedCredentialOut = issuedCredentialOut.extend({
  rotation: z.object({
    promoted_credential_id: z
      .uuid()
      .nullable()
      .describe("a secondary rotated after its primary was revoked: it took the primary's place"),
    demoted_credential_id: z
      .uuid()
      .nullable()
      .describe('the previous primary (or promoted secondary), now the secondary, still working'),
    revoked_credential_ids: z.array(z.uuid()),
  }),
});

export const settingLimitsOut = z
  .object({
    allowed_credential_types: z.array(credentialType).nullable(),
    access_token_ttl_seconds: z.number().int().nullable(),
    max_credentials_per_account: z.number().int().nullable(),
    max_credential_lifetime_seconds: z.number().int().nullable(),
  })
  .describe('ceilings the product (platform operator) sets on these settings; null: none');

export const settingsOut = z.object({
  api_enabled: z.boolean().describe('the API module switch; it opens the API only while api_entitled'),
  api_entitled: z
    .boolean()
    .describe(
      'whether the product entitles the organization to the API module (only the product changes it)',
    ),
  allowed_credential_types: z.array(credentialType),
  access_token_ttl_seconds: z.number().int(),
  max_credentials_per_account: z.number().int(),
  max_credential_lifetime_seconds: z.number().int().nullable(),
  limits: settingLimitsOut,
});

export const auditEventOut = z.object({
  id: z.string().describe('increasing; events are listed newest first'),
  occurred_at: timestamp,
  action: z.string(),
  outcome: z.enum(['success', 'failure']),
  actor_kind: z
    .enum(['person', 'operator', 'service_account', 'system'])
    .describe(
      "person: a human admin through the product's token exchange; operator: the platform API (actor_operator names who) or the CLI on the server",
    ),
  actor_id: z
    .string()
    .nullable()
    .describe("a person's id in the product, the service account id, or the operator name"),
  actor_display_name: z.string().nullable().describe("the actor's name when it acted"),
  actor_client_id: z.string().nullable().describe("a person's delegating client (the product's client id)"),
  actor_operator: z.string().nullable().describe('the OPERATORS entry name, for platform API actions'),
  actor_account_id: z.uuid().nullable(),
  actor_credential_id: z.uuid().nullable(),
  target_type: z.string().nullable(),
  target_id: z.string().nullable(),
  diff: z.record(z.string(), z.unknown()).nullable().describe('before/after of the changed fields'),
  source_ip: z.string().nullable(),
  request_id: z.string().nullable(),
});

export const legacyKeyImportOut = z.object({
  summary: z.object({
    imported: z.number().int(),
    already_imported: z.number().int(),
    failed: z.number().int(),
  }),
  results: z.array(
    z.object({
      index: z.number().int(),
      name: z.string(),
      status: z.enum(['imported', 'already_imported', 'failed']),
      service_account_id: z.uuid().optional(),
      credential_id: z.uuid().optional(),
      error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }).optional(),
    }),
  ),
});

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    next_cursor: z.string().nullable().describe('pass as cursor to get the next page; null on the last'),
  });
}

export const problemOut = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    request_id: z.string(),
    code: z.string().optional(),
    field: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    details: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('what the refusing rule saw, e.g. the current `status` of a credential'),
    required_permissions: z
      .array(z.string())
      .optional()
      .describe('on a 403: any one of these permissions would allow the request'),
  })
  .describe('RFC 9457 problem details');
