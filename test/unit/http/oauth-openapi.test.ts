import { describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildOpenApiDocument } from '../../../src/http/admin/openapi.ts';
import { ADMIN_ROUTES } from '../../../src/http/admin/routes.ts';

type Operation = { operationId: string; responses: Record<string, unknown> };

describe('the OpenAPI document and the OAuth half of the surface (issue 18)', () => {
  const document = buildOpenApiDocument(ADMIN_ROUTES, 'https://auth.example.com') as {
    paths: Record<string, Record<string, Operation>>;
  };

  it('describes /token, /revoke, /introspect, the metadata, /jwks and /revocations', () => {
    const expected: Array<[string, string]> = [
      ['/token', 'post'],
      ['/revoke', 'post'],
      ['/introspect', 'post'],
      ['/.well-known/oauth-authorization-server', 'get'],
      ['/jwks', 'get'],
      ['/revocations', 'get'],
    ];
    for (const [path, method] of expected) {
      expect(document.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
  });

  it('lists the error responses of each operation, not one blanket list', () => {
    expect(Object.keys(document.paths['/token']!.post!.responses).sort()).toEqual(
      ['200', '400', '401', '405', '413', '429', '503'].sort(),
    );
    expect(Object.keys(document.paths['/jwks']!.get!.responses)).toEqual(['200']);
    expect(Object.keys(document.paths['/introspect']!.post!.responses)).toContain('401');
    expect(Object.keys(document.paths['/revocations']!.get!.responses)).toContain('401');
  });
});

describe('the whole OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const document = buildOpenApiDocument(ADMIN_ROUTES, 'https://auth.example.com');
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('the validator refuses a document with an operation lacking its response description', async () => {
    const document = structuredClone(buildOpenApiDocument(ADMIN_ROUTES, 'https://auth.example.com')) as {
      paths: Record<string, Record<string, { responses: Record<string, { description?: string }> }>>;
    };
    delete document.paths['/jwks']!.get!.responses['200']!.description;
    expect((await new Validator().validate(document)).valid).toBe(false);
  });
});
