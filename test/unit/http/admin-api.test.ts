import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fieldErrors, toHttpProblem } from '../../../src/http/admin/errors.ts';
import { buildOpenApiDocument } from '../../../src/http/admin/openapi.ts';
import { decodeCursor, encodeCursor } from '../../../src/http/admin/request.ts';
import { koaPath } from '../../../src/http/admin/router.ts';
import { ADMIN_ROUTES } from '../../../src/http/admin/routes.ts';
import { DomainError, NotFoundError } from '../../../src/domain/errors.ts';
import { HttpProblem } from '../../../src/http/problem.ts';

describe('koaPath', () => {
  it('turns OpenAPI parameters into koa parameters and escapes custom-action colons', () => {
    expect(koaPath('/service-accounts/{account_id}/credentials/{credential_id}:revoke')).toBe(
      '/service-accounts/:account_id/credentials/:credential_id\\:revoke',
    );
    expect(koaPath('/legacy-keys:import')).toBe('/legacy-keys\\:import');
  });
});

describe('fieldErrors', () => {
  const schema = z.strictObject({
    name: z.string(),
    roles: z.array(z.strictObject({ role_id: z.uuid() })),
  });

  it('names each field path, unknown fields by their own name', () => {
    const result = schema.safeParse({ roles: [{ role_id: 'x', extra: 1 }], surprise: true });
    expect(result.success).toBe(false);
    const errors = fieldErrors(result.error!.issues);
    expect(errors.map((e) => e.field).sort()).toEqual([
      'name',
      'roles[0].extra',
      'roles[0].role_id',
      'surprise',
    ]);
    expect(errors.find((e) => e.field === 'surprise')!.message).toBe('is not a known field');
  });
});

describe('toHttpProblem', () => {
  it('maps not-found to 404 and domain codes to their status, keeping the field', () => {
    const notFound = toHttpProblem(new NotFoundError('role', 'r')) as HttpProblem;
    expect([notFound.status, notFound.code]).toEqual([404, 'not_found']);
    const escalation = toHttpProblem(new DomainError('escalation_refused', 'no')) as HttpProblem;
    expect(escalation.status).toBe(403);
    const limit = toHttpProblem(
      new DomainError('credential_limit_reached', 'full', { max: 2 }),
    ) as HttpProblem;
    expect([limit.status, limit.extensions]).toEqual([409, { details: { max: 2 } }]);
    const other = toHttpProblem(
      new DomainError('expiry_too_far', 'far', { field: 'expires_at' }),
    ) as HttpProblem;
    expect([other.status, other.extensions]).toEqual([422, { field: 'expires_at' }]);
    const unexpected = new Error('boom');
    expect(toHttpProblem(unexpected)).toBe(unexpected);
  });
});

describe('cursors', () => {
  it('round-trip row keys and refuse anything else', () => {
    const id = '0b7f6c4e-8d4f-4a57-9a3c-2f1e0d9c8b7a';
    expect(decodeCursor('roles', encodeCursor('roles', id)!)).toBe(id);
    expect(decodeCursor('audit_events', encodeCursor('audit_events', '12345')!)).toBe('12345');
    expect(encodeCursor('roles', null)).toBeNull();
    expect(decodeCursor('roles', undefined)).toBeUndefined();
    expect(() => decodeCursor('roles', 'not-a-cursor')).toThrow(HttpProblem);
  });

  it("refuse a cursor of another list, even one whose key has this list's shape", () => {
    const id = '0b7f6c4e-8d4f-4a57-9a3c-2f1e0d9c8b7a';
    expect(() => decodeCursor('locations', encodeCursor('roles', id)!)).toThrow(HttpProblem);
    expect(() => decodeCursor('roles', encodeCursor('audit_events', '12')!)).toThrow(HttpProblem);
    expect(() => decodeCursor('audit_events', encodeCursor('roles', id)!)).toThrow(HttpProblem);
    // A bare key (what cursors were before they named their list) is not a cursor either.
    expect(() => decodeCursor('roles', Buffer.from(id).toString('base64url'))).toThrow(HttpProblem);
  });
});

describe('the OpenAPI document', () => {
  const document = buildOpenApiDocument(ADMIN_ROUTES, 'https://auth.example.com') as {
    openapi: string;
    paths: Record<string, Record<string, { operationId: string; requestBody?: unknown; responses: object }>>;
  };

  it('is OpenAPI 3.1 with one operation per route, each id unique', () => {
    expect(document.openapi).toBe('3.1.0');
    const operations = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/admin/v1'))
      .flatMap(([, methods]) => Object.values(methods));
    expect(operations).toHaveLength(ADMIN_ROUTES.length);
    expect(new Set(operations.map((o) => o.operationId)).size).toBe(ADMIN_ROUTES.length);
  });

  it('describes request bodies with the validating schemas, unknown fields refused', () => {
    const create = document.paths['/admin/v1/service-accounts']!.post! as {
      requestBody: { content: { 'application/json': { schema: Record<string, unknown> } } };
    };
    const schema = create.requestBody.content['application/json'].schema;
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['name']);
  });
});
