/**
 * Token exchange, platform side (/platform/v1/delegations): the clients the operator allows to act
 * for the product's people, each with the most it may hand on. Part of the platform route table.
 */
import { z } from 'zod';
import { MANAGEMENT_PERMISSIONS } from '../../../config/permissions.ts';
import { pageRequest, pageResponse } from '../admin/request.ts';
import * as s from '../admin/schemas.ts';
import { route } from './route.ts';

const timestamp = z.iso.datetime({ offset: true });
const delegation = { delegation_id: 'delegation' };

const maxPermissions = z
  .array(z.enum(MANAGEMENT_PERMISSIONS))
  .min(1)
  .max(MANAGEMENT_PERMISSIONS.length)
  .describe(
    "the most a person's token obtained through this client may carry: each person gets what they hold within this",
  );

export const delegationOut = z.object({
  id: z.uuid(),
  client_id: z.string().describe('the client id named when it was allowed'),
  credential_id: z.uuid(),
  organization_id: z.uuid().describe("the credential's organization (the product's own), not the people's"),
  lineage_id: z
    .uuid()
    .describe('every credential of this rotation lineage may delegate, so a rotation keeps the permission'),
  max_permissions: z.array(z.enum(MANAGEMENT_PERMISSIONS)),
  created_by_operator: z.string(),
  created_at: timestamp,
  updated_at: timestamp,
});

const delegationCreate = z.strictObject({
  client_id: z
    .string()
    .min(1)
    .max(100)
    .describe("the product's credential that will exchange subject tokens"),
  max_permissions: maxPermissions,
});
const delegationUpdate = z.strictObject({ max_permissions: maxPermissions });
const noQuery = z.strictObject({});

export const DELEGATION_ROUTES = [
  route({
    method: 'post',
    path: '/delegations',
    operationId: 'platformAllowDelegation',
    tag: 'Platform: token exchange',
    summary: "Allow a client to exchange the product's subject tokens for people's management tokens",
    params: {},
    query: noQuery,
    body: delegationCreate,
    response: { status: 201, description: 'the delegation', schema: delegationOut },
    handle: async ({ operator, body }, { delegations }) => ({
      status: 201,
      body: await delegations.allow(operator, body),
    }),
  }),
  route({
    method: 'get',
    path: '/delegations',
    operationId: 'platformListDelegations',
    tag: 'Platform: token exchange',
    summary: 'List the clients allowed to delegate',
    params: {},
    query: s.pageQuery,
    body: null,
    response: { status: 200, description: 'a page of delegations', schema: s.pageOf(delegationOut) },
    handle: async ({ query }, { delegations }) => ({
      body: pageResponse('delegations', await delegations.list(pageRequest('delegations', query))),
    }),
  }),
  route({
    method: 'get',
    path: '/delegations/{delegation_id}',
    operationId: 'platformGetDelegation',
    tag: 'Platform: token exchange',
    summary: 'Get a delegation',
    params: delegation,
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the delegation', schema: delegationOut },
    handle: async ({ params }, { delegations }) => ({ body: await delegations.get(params.delegation_id!) }),
  }),
  route({
    method: 'patch',
    path: '/delegations/{delegation_id}',
    operationId: 'platformUpdateDelegation',
    tag: 'Platform: token exchange',
    summary: 'Change what the client may hand on; tokens issued before carry no more than this from now on',
    params: delegation,
    query: noQuery,
    body: delegationUpdate,
    response: { status: 200, description: 'the delegation', schema: delegationOut },
    handle: async ({ operator, params, body }, { delegations }) => ({
      body: await delegations.update(operator, params.delegation_id!, body),
    }),
  }),
  route({
    method: 'delete',
    path: '/delegations/{delegation_id}',
    operationId: 'platformWithdrawDelegation',
    tag: 'Platform: token exchange',
    summary: "Withdraw a client's permission to delegate; people's tokens it obtained are refused at once",
    params: delegation,
    query: noQuery,
    body: null,
    response: { status: 204, description: 'withdrawn', schema: z.void() },
    handle: async ({ operator, params }, { delegations }) => {
      await delegations.withdraw(operator, params.delegation_id!);
      return { body: undefined };
    },
  }),
];
