import { z } from 'zod';
import type { AdminRoute, DocumentedRoute } from './routes.ts';
import { oauthOpenApiPaths } from '../oauth-openapi.ts';
import { problemOut } from './schemas.ts';

export const ADMIN_PREFIX = '/admin/v1';
export const PLATFORM_PREFIX = '/platform/v1';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    // zod spells out a regular expression for every uuid and date-time; the format says it already.
    override: ({ jsonSchema: generated }) => {
      if (generated.format === 'uuid' || generated.format === 'date-time') delete generated.pattern;
    },
  }) as JsonSchema;
  return rest;
}

const ERROR_RESPONSES: Record<string, string> = {
  '400': 'the request is malformed; `errors` names each field at fault',
  '401': 'no valid admin access token',
  '403':
    'a permission is missing, the change would grant more than you hold, or the product does not allow it (API not entitled, a setting beyond its limit)',
  '404': 'no such object in your organization',
  '409': 'the current state refuses the change (name taken, protected account, quota, ...)',
  '422': 'a domain rule refuses the request',
  '503': 'the database does not answer right now; retry after `Retry-After` seconds',
};

// No permissions inside the platform API: an operator may do all of it, so no 403.
const PLATFORM_ERROR_RESPONSES: Record<string, string> = {
  ...Object.fromEntries(Object.entries(ERROR_RESPONSES).filter(([status]) => status !== '403')),
  '401': 'no valid operator credentials (OPERATORS)',
  '404': 'no such organization (or object in it)',
  '409':
    'the organization (or account) is archived, a name or location id is taken, or the built-in account may not have a token now (token_refused)',
  '422': 'a domain rule refuses the request (e.g. settings beyond the limits set with them)',
  '429': 'too many failed operator authentications from this source; retry after `Retry-After` seconds',
};

/**
 * OpenAPI 3.1 from the route table: paths, parameters, bodies and responses come from the very zod
 * schemas the router validates with. JSON Schema 2020-12 is OpenAPI 3.1's schema dialect.
 */
function addOperations(
  paths: Record<string, Record<string, unknown>>,
  prefix: string,
  routes: readonly DocumentedRoute[],
  errors: Record<string, string>,
  describe: (route: DocumentedRoute) => Record<string, unknown>,
): void {
  for (const route of routes) {
    const parameters = [
      ...Object.entries(route.params).map(([name, resource]) => ({
        name,
        in: 'path',
        required: true,
        description: `id of the ${resource}`,
        schema: { type: 'string', format: 'uuid' },
      })),
      ...queryParameters(route.query),
    ];
    const responses: Record<string, unknown> = {
      [String(route.response.status)]: {
        description: route.response.description,
        ...(route.response.status === 204
          ? {}
          : { content: { 'application/json': { schema: jsonSchema(route.response.schema, 'output') } } }),
      },
    };
    if (route.response.also) {
      responses[String(route.response.also.status)] = {
        description: route.response.also.description,
        content: { 'application/json': { schema: jsonSchema(route.response.schema, 'output') } },
      };
    }
    for (const [status, description] of Object.entries(errors)) {
      responses[status] = {
        description,
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      };
    }
    paths[`${prefix}${route.path}`] ??= {};
    paths[`${prefix}${route.path}`]![route.method] = {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      ...describe(route),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              // Actions without input accept an empty body; everything else needs one.
              required: !route.body.safeParse({}).success,
              content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
}

export function buildOpenApiDocument(
  routes: readonly AdminRoute[],
  issuer: string,
  platformRoutes: readonly DocumentedRoute[] = [],
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = oauthOpenApiPaths();
  addOperations(paths, ADMIN_PREFIX, routes, ERROR_RESPONSES, (route) => ({
    description: `Requires the ${(route as AdminRoute).permissions.join(' or ')} permission.`,
    'x-required-permissions': (route as AdminRoute).permissions,
  }));
  addOperations(paths, PLATFORM_PREFIX, platformRoutes, PLATFORM_ERROR_RESPONSES, () => ({
    description: "For platform operators (OPERATORS), not organizations' admins.",
    security: [{ operatorBasic: [] }, { operatorBearer: [] }],
  }));
  return {
    openapi: '3.1.0',
    info: {
      title: 'svcauth management API',
      version: '1',
      description:
        'Service accounts, credentials, roles, locations, settings, audit trail and legacy-key import of ' +
        'one organization: the one the access token belongs to (/admin/v1). The platform API ' +
        "(/platform/v1) is for the deployment's operators: organizations, their status, API entitlement, " +
        'settings and limits, defaults for new organizations, and recovery.',
    },
    servers: [{ url: issuer }],
    security: [{ adminToken: [] }],
    paths,
    components: {
      securitySchemes: {
        resourceServerBasic: {
          type: 'http',
          scheme: 'basic',
          description: 'a resource server name and secret from RESOURCE_SERVERS',
        },
        operatorBasic: {
          type: 'http',
          scheme: 'basic',
          description: 'an operator name and secret from OPERATORS (svcauth operator-credential)',
        },
        operatorBearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'an operator secret (svcop_...) from OPERATORS',
        },
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: `an access token from ${issuer}/token (client_credentials) with resource=${issuer}/admin`,
        },
      },
      schemas: { Problem: jsonSchema(problemOut, 'output') },
    },
  };
}

function queryParameters(schema: z.ZodType): JsonSchema[] {
  const json = jsonSchema(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...propertySchema } = property;
    return {
      name,
      in: 'query',
      required: required.has(name),
      ...(description ? { description } : {}),
      schema: propertySchema,
    };
  });
}
