/**
 * The platform API's mirror of the product's locations, keyed by the product's location id
 * (`external_id`): read, bulk upsert, full-set sync.
 */
import { z } from 'zod';
import { pageRequest, pageResponse } from '../admin/request.ts';
import * as s from '../admin/schemas.ts';
import type { PlatformRoute } from './routes.ts';

const noQuery = z.strictObject({});
const organization = { organization_id: 'organization' };
const TAG = 'Platform: locations';
/** A product's whole location list in one request; the body limit (1 MiB) allows this many. */
const MAX_LOCATIONS_PER_SYNC = 5000;

const productLocation = z.strictObject({
  external_id: s.productLocationId,
  name: s.singleLineText(200).trim().min(1, 'must not be blank'),
});
const locationList = (what: string) =>
  z.strictObject({
    locations: z.array(productLocation).max(MAX_LOCATIONS_PER_SYNC).describe(what),
  });

const syncResult = z.object({
  summary: z.object({
    created: z.number().int(),
    updated: z.number().int().describe('renamed, or adopted (a location of the same name without an id)'),
    deleted: z.number().int(),
    unchanged: z.number().int(),
  }),
  created: z.array(s.locationOut),
  updated: z.array(s.locationOut),
  deleted: z.array(s.locationOut),
  affected_service_account_ids: z
    .array(z.uuid())
    .describe('accounts whose tokens were made stale (a location deleted from under them, or re-keyed)'),
});

function route<Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType>(
  definition: PlatformRoute<Q, B, R>,
): PlatformRoute {
  return definition;
}

function toProductLocations(body: { locations: Array<{ external_id: string; name: string }> }) {
  return body.locations.map((l) => ({ externalId: l.external_id, name: l.name }));
}

export const PLATFORM_LOCATION_ROUTES: readonly PlatformRoute[] = [
  route({
    method: 'get',
    path: '/organizations/{organization_id}/locations',
    operationId: 'platformListLocations',
    tag: TAG,
    params: organization,
    summary: "List an organization's live locations, with their product ids",
    query: s.pageQuery,
    body: null,
    response: { status: 200, description: 'a page of locations', schema: s.pageOf(s.locationOut) },
    handle: async ({ operator, params, query }, { locations }) => ({
      body: pageResponse(
        'locations',
        await locations.list(operator, params.organization_id!, pageRequest('locations', query)),
      ),
    }),
  }),
  route({
    method: 'post',
    path: '/organizations/{organization_id}/locations:upsert',
    operationId: 'platformUpsertLocations',
    tag: TAG,
    params: organization,
    summary: "Create or rename locations by the product's location id; deletes nothing",
    query: noQuery,
    body: locationList('locations to create or rename, by external_id'),
    response: {
      status: 200,
      description: 'what changed (nothing, for a list sent before)',
      schema: syncResult,
    },
    handle: async ({ operator, params, body }, { locations }) => ({
      body: await locations.sync(operator, params.organization_id!, toProductLocations(body), 'upsert'),
    }),
  }),
  route({
    method: 'post',
    path: '/organizations/{organization_id}/locations:sync',
    operationId: 'platformSyncLocations',
    tag: TAG,
    params: organization,
    summary:
      "Make the product's locations exactly this list: also deletes those left out (their tokens are refused at once)",
    query: noQuery,
    body: locationList("the product's whole location list for this organization"),
    response: {
      status: 200,
      description: 'what changed (nothing, for a list sent before)',
      schema: syncResult,
    },
    handle: async ({ operator, params, body }, { locations }) => ({
      body: await locations.sync(operator, params.organization_id!, toProductLocations(body), 'replace'),
    }),
  }),
];
