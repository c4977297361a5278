/**
 * The platform API's tenancy controls: the defaults new organizations start with, each organization's
 * API entitlement, settings and limits, and its groups administrators.
 */
import { z } from 'zod';
import * as s from '../admin/schemas.ts';
import { type PlatformRoute, route } from './route.ts';

const noQuery = z.strictObject({});
const organization = { organization_id: 'organization' };

const platformSettingsUpdate = s.settingsUpdate
  .extend({
    api_entitled: z
      .boolean()
      .optional()
      .describe(
        'entitle the organization to the API module; false refuses its product tokens at once, and its admins cannot switch the API on',
      ),
    limits: s.settingLimitsUpdate.optional(),
  })
  .describe('only the fields given change; the settings must stay within the limits');

const organizationDefaultsOut = s.settingsOut.extend({ updated_at: z.iso.datetime({ offset: true }) });

const groupsAdminChange = z.strictObject({
  service_account_id: z.uuid().describe('the account whose groups administrator flag changes'),
});
const groupsAdminChanged = z.object({
  service_account_id: z.uuid(),
  groups_admin: z.boolean(),
  changed: z.boolean().describe('false when the account was already so'),
});

export const TENANCY_ROUTES: readonly PlatformRoute[] = [
  route({
    method: 'get',
    path: '/organization-defaults',
    operationId: 'platformGetOrganizationDefaults',
    tag: 'Platform: settings',
    summary: 'What a new organization starts with: settings, API entitlement, limits',
    params: {},
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the defaults', schema: organizationDefaultsOut },
    handle: async ({ operator }, { tenancy }) => ({ body: await tenancy.getDefaults(operator) }),
  }),
  route({
    method: 'patch',
    path: '/organization-defaults',
    operationId: 'platformUpdateOrganizationDefaults',
    tag: 'Platform: settings',
    summary: 'Change what new organizations start with (existing ones keep their settings)',
    params: {},
    query: noQuery,
    body: platformSettingsUpdate,
    response: { status: 200, description: 'the defaults', schema: organizationDefaultsOut },
    handle: async ({ operator, body }, { tenancy }) => ({
      body: await tenancy.updateDefaults(operator, body),
    }),
  }),
  route({
    method: 'get',
    path: '/organizations/{organization_id}/settings',
    operationId: 'platformGetOrganizationSettings',
    tag: 'Platform: settings',
    summary: "An organization's settings, API entitlement and limits",
    params: organization,
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the settings', schema: s.settingsOut },
    handle: async ({ operator, params }, { tenancy }) => ({
      body: await tenancy.getSettings(operator, params.organization_id!),
    }),
  }),
  route({
    method: 'patch',
    path: '/organizations/{organization_id}/settings',
    operationId: 'platformUpdateOrganizationSettings',
    tag: 'Platform: settings',
    summary:
      "Entitle (or not) an organization's API, override its settings, set limits its admins stay within",
    params: organization,
    query: noQuery,
    body: platformSettingsUpdate,
    response: { status: 200, description: 'the settings', schema: s.settingsOut },
    handle: async ({ operator, params, body }, { tenancy }) => ({
      body: await tenancy.updateSettings(operator, params.organization_id!, body),
    }),
  }),
  route({
    method: 'post',
    path: '/organizations/{organization_id}/groups-admins:grant',
    operationId: 'platformGrantGroupsAdmin',
    tag: 'Platform: recovery',
    summary: 'Make a service account a groups administrator (no one in the organization can, at first)',
    params: organization,
    query: noQuery,
    body: groupsAdminChange,
    response: { status: 200, description: 'the account', schema: groupsAdminChanged },
    handle: async ({ operator, params, body }, { tenancy }) => ({
      body: await tenancy.setGroupsAdmin(operator, params.organization_id!, body.service_account_id, true),
    }),
  }),
  route({
    method: 'post',
    path: '/organizations/{organization_id}/groups-admins:revoke',
    operationId: 'platformRevokeGroupsAdmin',
    tag: 'Platform: recovery',
    summary: 'Make a service account no longer a groups administrator',
    params: organization,
    query: noQuery,
    body: groupsAdminChange,
    response: { status: 200, description: 'the account', schema: groupsAdminChanged },
    handle: async ({ operator, params, body }, { tenancy }) => ({
      body: await tenancy.setGroupsAdmin(operator, params.organization_id!, body.service_account_id, false),
    }),
  }),
];
