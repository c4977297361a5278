/**
 * The platform API (/platform/v1), one entry per operation, for the deployment's operators: the
 * router and the OpenAPI document are both derived from this table, as for the management API.
 */
import { z } from 'zod';
import { type PlatformRoute, route } from './route.ts';
import { decodeCursor, pageRequest, pageResponse } from '../admin/request.ts';
import * as s from '../admin/schemas.ts';

export type { PlatformRoute, PlatformServices } from './route.ts';

const noQuery = z.strictObject({});
const noBody = z.strictObject({});
const timestamp = z.iso.datetime({ offset: true });
const organization = { organization_id: 'organization' };
const externalId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .describe("the product's own tenant id");
const organizationName = z.string().trim().min(1).max(200);

export const organizationOut = z.object({
  id: z.uuid(),
  external_id: z.string().nullable().describe("the product's tenant id; null if made by svcauth bootstrap"),
  slug: z.string(),
  name: z.string(),
  status: z.enum(['active', 'suspended', 'archived']),
  api_enabled: z.boolean().describe("the organization's API module switch (its admins' setting)"),
  api_entitled: z
    .boolean()
    .describe('whether the product entitles the organization to the API module (the operator decides)'),
  status_changed_at: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});

const organizationCreate = z.strictObject({ external_id: externalId, name: organizationName });
const organizationUpdate = z.strictObject({ name: organizationName });
const organizationListQuery = s.pageQuery.extend({
  status: z
    .enum(['active', 'suspended', 'archived'])
    .optional()
    .describe('only organizations in this status'),
  external_id: externalId.optional().describe('only the organization of this tenant id'),
});
const adminProvision = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .describe('name of the new admin service account (default "Platform admin")'),
});
const adminProvisioned = z.object({
  service_account_id: z.uuid(),
  credential_id: z.uuid(),
  client_id: z.string(),
  client_secret: z.string().describe('shown once; only its hash is stored'),
});
const adminRestore = z.strictObject({
  service_account_id: z.uuid().describe('the account that gets the API Admin role back'),
});
const adminRestored = z.object({
  service_account_id: z.uuid(),
  role_id: z.uuid(),
  changed: z.boolean().describe('false when the account held API Admin already'),
});
const platformAuditQuery = s.pageQuery.extend({
  operator: z.string().max(64).optional().describe('only what this operator did'),
  organization_id: z.uuid().optional().describe('only events of this organization'),
  action: z.string().max(100).optional().describe('e.g. organization.suspended'),
});
const platformAuditOut = s.auditEventOut.extend({ organization_id: z.uuid().nullable() });

export const PLATFORM_ROUTES: readonly PlatformRoute[] = [
  route({
    method: 'post',
    path: '/organizations',
    operationId: 'platformCreateOrganization',
    tag: 'Platform: organizations',
    summary: 'Create an organization (idempotent on external_id)',
    params: {},
    query: noQuery,
    body: organizationCreate,
    response: {
      status: 201,
      description: 'the new organization',
      schema: organizationOut,
      also: { status: 200, description: 'the existing organization of that external_id, unchanged' },
    },
    handle: async ({ operator, body }, { platform }) => {
      const { organization, created } = await platform.create(operator, body);
      return { status: created ? 201 : 200, body: organization };
    },
  }),
  route({
    method: 'get',
    path: '/organizations',
    operationId: 'platformListOrganizations',
    tag: 'Platform: organizations',
    summary: 'List organizations',
    params: {},
    query: organizationListQuery,
    body: null,
    response: { status: 200, description: 'a page of organizations', schema: s.pageOf(organizationOut) },
    handle: async ({ operator, query }, { platform }) => ({
      body: pageResponse(
        'organizations',
        await platform.list(operator, query, pageRequest('organizations', query)),
      ),
    }),
  }),
  route({
    method: 'get',
    path: '/organizations/{organization_id}',
    operationId: 'platformGetOrganization',
    tag: 'Platform: organizations',
    summary: 'Get an organization',
    params: organization,
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the organization', schema: organizationOut },
    handle: async ({ operator, params }, { platform }) => ({
      body: await platform.get(operator, params.organization_id!),
    }),
  }),
  route({
    method: 'patch',
    path: '/organizations/{organization_id}',
    operationId: 'platformRenameOrganization',
    tag: 'Platform: organizations',
    summary: 'Rename an organization',
    params: organization,
    query: noQuery,
    body: organizationUpdate,
    response: { status: 200, description: 'the organization', schema: organizationOut },
    handle: async ({ operator, params, body }, { platform }) => ({
      body: await platform.rename(operator, params.organization_id!, body.name),
    }),
  }),
  route({
    method: 'delete',
    path: '/organizations/{organization_id}',
    operationId: 'platformDeleteOrganization',
    tag: 'Platform: organizations',
    summary: 'Delete (archive) an organization: every credential revoked, the audit trail kept',
    params: organization,
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the archived organization', schema: organizationOut },
    handle: async ({ operator, params }, { platform }) => ({
      body: await platform.archive(operator, params.organization_id!),
    }),
  }),
  route({
    method: 'post',
    path: '/organizations/{organization_id}:suspend',
    operationId: 'platformSuspendOrganization',
    tag: 'Platform: organizations',
    summary: "Suspend an organization: its tokens are refused at once, its admins' included",
    params: organization,
    query: noQuery,
    body: noBody,
    response: { status: 200, description: 'the organization', schema: organizationOut },
    handle: async ({ operator, params }, { platform }) => ({
      body: await platform.suspend(operator, params.organization_id!),
    }),
  }),
  route({
    method: 'post',
    path: '/organizations/{organization_id}:resume',
    operationId: 'platformResumeOrganization',
    tag: 'Platform: organizations',
    summary: 'Resume a suspended organization',
    params: organization,
    query: noQuery,
    body: noBody,
    response: { status: 200, description: 'the organization', schema: organizationOut },
    handle: async ({ operator, params }, { platform }) => ({
      body: await platform.resume(operator, params.organization_id!),
    }),
  }),
  route({
    method: 'post',
    path: '/organizations/{organization_id}/admins',
    operationId: 'platformProvisionAdmin',
    tag: 'Platform: recovery',
    summary: 'Provision an admin account holding API Admin; its client secret is shown once',
    params: organization,
    query: noQuery,
    body: adminProvision,
    response: { status: 201, description: 'the admin account and its credential', schema: adminProvisioned },
    handle: async ({ operator, params, body }, { platform }) => ({
      status: 201,
      body: await platform.provisionAdmin(operator, params.organization_id!, body),
    }),
  }),
  route({
    method: 'post',
    path: '/organizations/{organization_id}/admins:restore',
    operationId: 'platformRestoreAdmin',
    tag: 'Platform: recovery',
    summary: 'Give a service account the API Admin role back',
    params: organization,
    query: noQuery,
    body: adminRestore,
    response: { status: 200, description: 'what was restored', schema: adminRestored },
    handle: async ({ operator, params, body }, { platform }) => ({
      body: await platform.restoreAdmin(operator, params.organization_id!, body.service_account_id),
    }),
  }),
  route({
    method: 'get',
    path: '/audit',
    operationId: 'platformListAudit',
    tag: 'Platform: audit',
    summary: 'What operators did through the platform API, newest first, across organizations',
    params: {},
    query: platformAuditQuery,
    body: null,
    response: { status: 200, description: 'a page of audit events', schema: s.pageOf(platformAuditOut) },
    handle: async ({ operator, query }, { platform }) => {
      const page = await platform.audit(
        operator,
        { operator: query.operator, orgId: query.organization_id, action: query.action },
        { before: decodeCursor('audit_events', query.cursor), limit: query.limit ?? 50 },
      );
      return { body: pageResponse('audit_events', page) };
    },
  }),
];
