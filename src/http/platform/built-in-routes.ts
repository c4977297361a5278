/**
 * The platform API's side of each organization's built-in account: the product reads it, obtains its
 * access tokens (no secret exists for it), and revokes every one of them at once.
 */
import { z } from 'zod';
import * as s from '../admin/schemas.ts';
import { type PlatformRoute, route } from './route.ts';

const noQuery = z.strictObject({});
const noBody = z.strictObject({});
const organization = { organization_id: 'organization' };
const TAG = 'Platform: built-in account';

const tokenRequest = z.strictObject({
  resource: z
    .string()
    .max(2000)
    .optional()
    .describe('RFC 8707 resource: the audience, <ISSUER>/api (default) or <ISSUER>/admin'),
  scope: s
    .singleLineText(8000)
    .optional()
    .describe('space-separated permissions, a subset of what the account holds (default: all it holds)'),
});
const tokenOut = z.object({
  access_token: z.string().describe('an RFC 9068 JWT, as /token would issue the built-in account'),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int().describe("seconds: the organization's access-token TTL"),
  scope: z.string().describe('the granted permissions, space-separated (empty: none)'),
  jti: z.string(),
  audience: z.string(),
  expires_at: z.iso.datetime({ offset: true }),
  service_account_id: z.uuid(),
});
const revokedOut = z.object({
  service_account_id: z.uuid(),
  revoked_credentials: z.number().int().describe('0 when no token had been issued since the last revocation'),
});

export const BUILT_IN_ROUTES: readonly PlatformRoute[] = [
  route({
    method: 'get',
    path: '/organizations/{organization_id}/built-in-account',
    operationId: 'platformGetBuiltInAccount',
    tag: TAG,
    summary: "The organization's built-in account: its roles, permissions and derived status",
    params: organization,
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the built-in account', schema: s.serviceAccountOut },
    handle: async ({ operator, params }, { builtIn }) => ({
      body: await builtIn.get(operator, params.organization_id!),
    }),
  }),
  route({
    method: 'post',
    path: '/organizations/{organization_id}/built-in-account:token',
    operationId: 'platformIssueBuiltInAccountToken',
    tag: TAG,
    summary: 'An access token for the built-in account (refused while it has no roles, like /token)',
    params: organization,
    query: noQuery,
    body: tokenRequest,
    response: { status: 200, description: 'the access token', schema: tokenOut },
    handle: async ({ operator, params, body }, { builtIn }) => ({
      body: await builtIn.issueToken(operator, params.organization_id!, body),
    }),
  }),
  route({
    method: 'post',
    path: '/organizations/{organization_id}/built-in-account:revoke-tokens',
    operationId: 'platformRevokeBuiltInAccountTokens',
    tag: TAG,
    summary: 'Refuse every token issued for the built-in account, at once',
    params: organization,
    query: noQuery,
    body: noBody,
    response: { status: 200, description: 'what was revoked', schema: revokedOut },
    handle: async ({ operator, params }, { builtIn }) => ({
      body: await builtIn.revokeTokens(operator, params.organization_id!),
    }),
  }),
];
