/**
 * The deployment itself (/platform/v1): resource servers' and operators' credentials, and the signing
 * keys. What `svcauth resource-server-credential`, `svcauth operator-credential` and `svcauth keys
 * rotate` do, over HTTP. Part of the platform route table.
 */
import { z } from 'zod';
import { route } from './route.ts';

const TAG = 'Platform: deployment';
const timestamp = z.iso.datetime({ offset: true });
const noQuery = z.strictObject({});
const noBody = z.strictObject({});

const credentialOut = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(['active', 'revoked']),
  created_by_operator: z.string(),
  created_at: timestamp,
  revoked_by_operator: z.string().nullable(),
  revoked_at: timestamp.nullable(),
});
const credentialIssued = credentialOut.extend({
  secret: z.string().describe('shown in this answer only; svcauth keeps its SHA-256'),
});
const credentialCreate = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1 to 64 letters, digits, dots, underscores or hyphens')
    .describe('unique among the live credentials of its kind, those in the configuration included'),
});

const signingAlg = z.enum(['ES256', 'EdDSA', 'RS256']);
const signingKeyOut = z.object({
  kid: z.string(),
  alg: signingAlg,
  state: z
    .enum(['signing', 'pending', 'retiring'])
    .describe(
      'signing: signs new tokens; pending: published, signs from activates_at; retiring: published until retires_at',
    ),
  created_at: timestamp,
  activates_at: timestamp,
  retires_at: timestamp.nullable(),
});
const signingKeyRotate = z.strictObject({
  alg: signingAlg.optional().describe('default: SIGNING_ALG'),
  activate_in_seconds: z
    .number()
    .int()
    .optional()
    .describe(
      'how long the new key is published before it signs (default and minimum 70: longer than /jwks is cached)',
    ),
});

const KINDS = [
  {
    kind: 'resource_server' as const,
    path: '/resource-servers',
    idName: 'resource_server_id',
    noun: 'resource server',
    operation: 'ResourceServer',
    what: 'a resource server (a caller of /introspect and /revocations)',
  },
  {
    kind: 'operator' as const,
    path: '/operator-credentials',
    idName: 'operator_credential_id',
    noun: 'operator credential',
    operation: 'OperatorCredential',
    what: 'a platform operator (a caller of /platform/v1)',
  },
];

export const DEPLOYMENT_ROUTES = [
  ...KINDS.flatMap((k) => [
    route({
      method: 'get',
      path: k.path,
      operationId: `platformList${k.operation}s`,
      tag: TAG,
      summary: `List the ${k.noun}s made through the platform API (live first); configured ones are not listed`,
      params: {},
      query: noQuery,
      body: null,
      response: {
        status: 200,
        description: `the ${k.noun}s`,
        schema: z.object({ items: z.array(credentialOut) }),
      },
      handle: async ({ operator }, { deployment }) => ({
        body: { items: await deployment.credentials.list(operator, k.kind) },
      }),
    }),
    route({
      method: 'post',
      path: k.path,
      operationId: `platformCreate${k.operation}`,
      tag: TAG,
      summary: `Make the secret of ${k.what}; it works on every instance at once and is shown once`,
      params: {},
      query: noQuery,
      body: credentialCreate,
      response: { status: 201, description: `the ${k.noun} and its secret`, schema: credentialIssued },
      handle: async ({ operator, body }, { deployment }) => ({
        status: 201,
        body: await deployment.credentials.create(operator, k.kind, body.name),
      }),
    }),
    route({
      method: 'post',
      path: `${k.path}/{${k.idName}}:revoke`,
      operationId: `platformRevoke${k.operation}`,
      tag: TAG,
      summary: `Revoke ${k.what}: refused by every instance from this answer on`,
      params: { [k.idName]: k.noun },
      query: noQuery,
      body: noBody,
      response: { status: 200, description: `the revoked ${k.noun}`, schema: credentialOut },
      handle: async ({ operator, params }, { deployment }) => ({
        body: await deployment.credentials.revoke(operator, k.kind, params[k.idName]!),
      }),
    }),
  ]),
  route({
    method: 'get',
    path: '/signing-keys',
    operationId: 'platformListSigningKeys',
    tag: TAG,
    summary: 'The published signing keys and which one signs (public metadata only)',
    params: {},
    query: noQuery,
    body: null,
    response: { status: 200, description: 'the keys', schema: z.object({ items: z.array(signingKeyOut) }) },
    handle: async ({ operator }, { deployment }) => ({
      body: { items: await deployment.signingKeys.list(operator) },
    }),
  }),
  route({
    method: 'post',
    path: '/signing-keys:rotate',
    operationId: 'platformRotateSigningKeys',
    tag: TAG,
    summary: 'Publish a new signing key now; it signs after activate_in_seconds, and the current ones retire',
    params: {},
    query: noQuery,
    body: signingKeyRotate,
    response: {
      status: 201,
      description: 'the new key and every published key',
      schema: z.object({ added: signingKeyOut, items: z.array(signingKeyOut) }),
    },
    handle: async ({ operator, body }, { deployment }) => {
      const { added, keys } = await deployment.signingKeys.rotate(operator, body);
      return { status: 201, body: { added, items: keys } };
    },
  }),
];
