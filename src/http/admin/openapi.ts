import { z } from 'zod';
import type { AdminRoute } from './routes.ts';
import { problemOut } from './schemas.ts';

export const ADMIN_PREFIX = '/admin/v1';

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
  '403': 'a permission is missing, or the change would grant more than you hold',
  '404': 'no such object in your organization',
  '409': 'the current state refuses the change (name taken, protected account, quota, ...)',
  '422': 'a domain rule refuses the request',
  '503': 'the database does not answer right now; retry after `Retry-After` seconds',
};

/**
 * OpenAPI 3.1 from the route table: paths, parameters, bodies and responses come from the very zod
 * schemas the router validates with. JSON Schema 2020-12 is OpenAPI 3.1's schema dialect.
 */
export function buildOpenApiDocument(routes: readonly AdminRoute[], issuer: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
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
    for (const [status, description] of Object.entries(ERROR_RESPONSES)) {
      responses[status] = {
        description,
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      };
    }
    paths[`${ADMIN_PREFIX}${route.path}`] ??= {};
    paths[`${ADMIN_PREFIX}${route.path}`]![route.method] = {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      description: `Requires the ${route.permissions.join(' or ')} permission.`,
      'x-required-permissions': route.permissions,
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
  return {
    openapi: '3.1.0',
    info: {
      title: 'svcauth management API',
      version: '1',
      description:
        'Service accounts, credentials, roles, locations, settings, audit trail and legacy-key import of ' +
        'one organization: the one the access token belongs to.',
    },
    servers: [{ url: issuer }],
    security: [{ adminToken: [] }],
    paths,
    components: {
      securitySchemes: {
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
