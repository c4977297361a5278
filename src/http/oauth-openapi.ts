import { z } from 'zod';
import { ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../domain/delegation.ts';

/**
 * The OAuth half of the public surface in the OpenAPI document: /token, /revoke, /introspect, the
 * RFC 8414 metadata, /jwks and /revocations, each with the error responses it really answers.
 * Described with zod like the management API, converted to JSON Schema 2020-12 (OpenAPI 3.1).
 */

const oauthError = z.object({
  error: z.string().describe('RFC 6749 error code'),
  error_description: z.string().describe('what to fix'),
});

const clientAuthentication = {
  client_id: z.string().optional(),
  client_secret: z.string().optional().describe('client_secret_post only'),
  client_assertion_type: z.literal('urn:ietf:params:oauth:client-assertion-type:jwt-bearer').optional(),
  client_assertion: z.string().optional().describe('private_key_jwt only'),
};

const clientCredentialsRequest = z
  .object({
    grant_type: z.literal('client_credentials'),
    scope: z.string().optional().describe('space-separated permissions: a subset of the account’s'),
    resource: z.string().optional().describe('RFC 8707: <ISSUER>/api (default) or <ISSUER>/admin'),
    ...clientAuthentication,
  })
  .describe('client credentials (RFC 6749 4.4)');

const tokenExchangeRequest = z
  .object({
    grant_type: z.literal(TOKEN_EXCHANGE_GRANT_TYPE),
    subject_token: z
      .string()
      .describe('a JWT the product signed for its logged-in admin (README: People, token exchange)'),
    subject_token_type: z.literal(JWT_TOKEN_TYPE),
    resource: z.string().optional().describe('<ISSUER>/admin, the only target (or omit it)'),
    audience: z.string().optional().describe('same as resource'),
    scope: z.string().optional().describe("management permissions: a subset of the person's grant"),
    requested_token_type: z.literal(ACCESS_TOKEN_TYPE).optional(),
    ...clientAuthentication,
  })
  .describe(
    'token exchange (RFC 8693), for a client the platform operator allows to delegate (POST /platform/v1/delegations); present only when SUBJECT_TOKEN_ISSUER is configured',
  );

const tokenRequest = z.union([clientCredentialsRequest, tokenExchangeRequest]);

const tokenResponse = z.object({
  access_token: z.string().describe('an RFC 9068 JWT (typ at+jwt)'),
  token_type: z.string(),
  expires_in: z.number().int(),
  scope: z.string().optional().describe('the granted scope (RFC 6749 5.1)'),
  issued_token_type: z
    .literal(ACCESS_TOKEN_TYPE)
    .optional()
    .describe('token exchange only (RFC 8693 2.2.1): the token is an access token'),
});

const tokenParameter = z.object({
  token: z.string(),
  token_type_hint: z.string().optional(),
});

const introspection = z
  .object({
    active: z.boolean(),
    permissions: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .describe(
        'location key (or "*") -> permission names; always this plain form, also for a token carrying permissions_packed',
      ),
    svcauth_credential_type: z.literal('api_key').optional(),
    secret_version: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'the version of the secret the token was obtained with, or the API key is (1, then one more per regeneration)',
      ),
  })
  .catchall(z.unknown());

const metadata = z
  .object({ issuer: z.string(), token_endpoint: z.string(), jwks_uri: z.string() })
  .catchall(z.unknown());

const jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

function schema(value: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(value, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

const json = (value: z.ZodType, description: string, type = 'application/json') => ({
  description,
  content: { [type]: { schema: schema(value, 'output') } },
});
const error = (description: string) => json(oauthError, description);
const form = (value: z.ZodType) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema: schema(value, 'input') } },
});

const CLIENT_AUTH =
  'client_secret_basic, client_secret_post, private_key_jwt, or an API key as Basic api:<key>';

export function oauthOpenApiPaths(): Record<string, Record<string, unknown>> {
  return {
    '/token': {
      post: {
        operationId: 'token',
        tags: ['oauth'],
        summary: 'Client-credentials grant (RFC 6749 4.4); token exchange for people (RFC 8693)',
        description: `Client authentication: ${CLIENT_AUTH}.`,
        security: [],
        requestBody: form(tokenRequest),
        responses: {
          '200': json(tokenResponse, 'an access token'),
          '400': error(
            'invalid_request, invalid_grant, invalid_scope, invalid_target, unauthorized_client or unsupported_grant_type',
          ),
          '401': error('invalid_client, with a WWW-Authenticate: Basic challenge'),
          '405': error('only POST'),
          '413': error('the body is larger than allowed'),
          '429': error('too many failed authentications; retry after Retry-After seconds'),
          '503': error('a dependency does not answer right now; retry after Retry-After seconds'),
        },
      },
    },
    '/revoke': {
      post: {
        operationId: 'revoke',
        tags: ['oauth'],
        summary: 'RFC 7009: revoke an own access token, or an API key itself',
        description: `Client authentication: ${CLIENT_AUTH}. 200 whether or not anything was revoked.`,
        security: [],
        requestBody: form(tokenParameter),
        responses: {
          '200': { description: 'revoked, or nothing the caller holds (empty body)' },
          '400': error('invalid_request'),
          '401': error('invalid_client, with a WWW-Authenticate: Basic challenge'),
          '405': error('only POST'),
          '413': error('the body is larger than allowed'),
          '429': error('too many failed authentications; retry after Retry-After seconds'),
          '503': error('a dependency does not answer right now; retry after Retry-After seconds'),
        },
      },
    },
    '/introspect': {
      post: {
        operationId: 'introspect',
        tags: ['oauth'],
        summary: 'RFC 7662 for resource servers (RESOURCE_SERVERS, HTTP Basic): JWTs and API keys',
        security: [{ resourceServerBasic: [] }],
        requestBody: form(tokenParameter),
        responses: {
          '200': json(introspection, 'active with its claims, or {"active": false}'),
          '400': error('invalid_request'),
          '401': error('invalid_client: not a resource server listed in RESOURCE_SERVERS'),
          '405': error('only POST'),
          '413': error('the body is larger than allowed'),
          '503': error('a dependency does not answer right now; retry after Retry-After seconds'),
        },
      },
    },
    '/.well-known/oauth-authorization-server': {
      get: {
        operationId: 'authorizationServerMetadata',
        tags: ['oauth'],
        summary: 'RFC 8414 metadata',
        security: [],
        responses: { '200': json(metadata, 'the metadata') },
      },
    },
    '/jwks': {
      get: {
        operationId: 'jwks',
        tags: ['oauth'],
        summary: 'The published signing keys (public halves)',
        security: [],
        responses: { '200': json(jwks, 'the key set', 'application/jwk-set+json') },
      },
    },
    '/revocations': {
      get: {
        operationId: 'revocationFeed',
        tags: ['oauth'],
        summary: 'The revocation feed for resource servers (docs/revocation-feed.md): JSON snapshot or SSE',
        security: [{ resourceServerBasic: [] }],
        responses: {
          '200': {
            description: 'a snapshot (application/json) or an event stream (text/event-stream)',
            content: {
              'application/json': { schema: { type: 'object' } },
              'text/event-stream': { schema: { type: 'string' } },
            },
          },
          '401': {
            description: 'not a resource server listed in RESOURCE_SERVERS',
            content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
          },
          '503': {
            description:
              'the feed cannot vouch for its completeness right now; retry after Retry-After seconds',
            content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
          },
        },
      },
    },
  };
}
