/**
 * The product permission catalog, owned by the deployment: listed, added to (or described anew) and
 * removed from through the platform API, unless PERMISSIONS_FILE declares it (then read only).
 */
import { z } from 'zod';
import * as s from '../admin/schemas.ts';
import { type PlatformRoute, route } from './route.ts';

const TAG = 'Platform: permission catalog';
const noQuery = z.strictObject({});

const catalogOut = z.object({
  managed_by: z
    .enum(['api', 'file'])
    .describe('file: PERMISSIONS_FILE declares the catalog and this API only reads it'),
  items: z.array(s.permissionOut),
});
const permissionPut = z.strictObject({
  name: s.permissionName.describe('resource:action in lower case, e.g. invoices:read'),
  description: s.permissionDescription
    .optional()
    .describe('what the permission lets a token do, shown to admins choosing it (default empty)'),
});
const removeQuery = z.strictObject({
  name: s.permissionName.describe('the product permission to remove'),
  strip: z
    .enum(['true', 'false'])
    .optional()
    .describe(
      'true: also take it from every role holding it (their accounts’ tokens are refused at once); otherwise refused while roles hold it',
    ),
});
const removalOut = z.object({
  name: z.string(),
  organizations: z
    .array(
      z.object({
        organization_id: z.uuid(),
        role_ids: z
          .array(z.uuid())
          .describe('the roles it was taken from (built-in full product access included)'),
        affected_service_account_ids: z
          .array(z.uuid())
          .describe('accounts holding those roles: tokens issued before are refused at once'),
      }),
    )
    .describe('each organization where a role held it (each has a permission.removed audit event)'),
  affected_service_account_count: z.number().int(),
});

export const CATALOG_ROUTES: readonly PlatformRoute[] = [
  route({
    method: 'get',
    path: '/permissions',
    operationId: 'platformListPermissions',
    tag: TAG,
    summary: 'List the product permissions, with their descriptions',
    params: {},
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the product permission catalog', schema: catalogOut },
    handle: async ({ operator }, { catalog }) => ({ body: await catalog.list(operator) }),
  }),
  route({
    method: 'post',
    path: '/permissions',
    operationId: 'platformPutPermission',
    tag: TAG,
    summary:
      "Add a product permission (every organization's full product access role gets it), or change its description",
    params: {},
    query: noQuery,
    body: permissionPut,
    response: {
      status: 201,
      description: 'added',
      schema: s.permissionOut,
      also: { status: 200, description: 'it existed: its description is now the one given' },
    },
    handle: async ({ operator, body }, { catalog }) => {
      const { created, permission } = await catalog.put(operator, body.name, body.description ?? '');
      return { status: created ? 201 : 200, body: permission };
    },
  }),
  route({
    method: 'delete',
    path: '/permissions',
    operationId: 'platformRemovePermission',
    tag: TAG,
    summary:
      'Remove a product permission: refused (409, listing them) while roles hold it, unless strip=true takes it from them',
    params: {},
    query: removeQuery,
    body: null,
    response: { status: 200, description: 'removed, and what it was taken from', schema: removalOut },
    handle: async ({ operator, query }, { catalog }) => ({
      body: await catalog.remove(operator, query.name, query.strip === 'true'),
    }),
  }),
];
