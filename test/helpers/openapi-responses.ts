import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { buildOpenApiDocument } from '../../src/http/admin/openapi.ts';
import { ADMIN_ROUTES } from '../../src/http/admin/routes.ts';
import { ALL_PLATFORM_ROUTES } from '../../src/http/platform/route-table.ts';

// ajv-formats is CommonJS: under ESM its function sits on `default`.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Operation = {
  operationId?: string;
  responses?: Record<string, { content?: Record<string, unknown> }>;
};
type OpenApiDocument = { paths: Record<string, Record<string, Operation>> };

const DOCUMENT_ID = 'openapi.json';

function pointerToken(value: string): string {
  return value.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Checks real responses against what an OpenAPI 3.1 document promises for them: the status must be
 * documented for the operation, the content type must be one it lists, and the body must satisfy that
 * content's schema (JSON Schema 2020-12, OpenAPI 3.1's dialect, with `format` asserted). The schemas
 * are read from the document itself, so `$ref`s to its components resolve as a client's would.
 */
export class OpenApiResponseValidator {
  readonly #document: OpenApiDocument;
  readonly #ajv: Ajv2020;
  readonly #templates: Array<{ template: string; pattern: RegExp }>;
  readonly #compiled = new Map<string, ValidateFunction>();
  /** `operationId status` of every response checked so far. */
  readonly covered = new Set<string>();

  constructor(document: unknown) {
    this.#document = document as OpenApiDocument;
    // Not strict: the document carries OpenAPI keywords (openapi, paths, ...) next to the schemas.
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.#ajv);
    this.#ajv.addSchema(this.#document, DOCUMENT_ID);
    // A parameter never spans a `/` or a `:verb` suffix, so `/x/{id}` does not swallow `/x/1:archive`.
    this.#templates = Object.keys(this.#document.paths).map((template) => ({
      template,
      pattern: new RegExp(
        `^${template
          .split(/(\{[^}]+\})/)
          .map((part) => (part.startsWith('{') ? '[^/:]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join('')}$`,
      ),
    }));
  }

  /** The path template a concrete path (no query string) matches; throws when none does. */
  templateOf(path: string): string {
    const matches = this.#templates.filter(({ pattern }) => pattern.test(path));
    if (matches.length !== 1) {
      throw new Error(
        `${path} matches ${matches.length} documented paths: ${matches.map((m) => m.template)}`,
      );
    }
    return matches[0]!.template;
  }

  /**
   * Throws, naming what differs, unless the response is one the document describes for this method and
   * path. `body` is the parsed JSON (null for an empty body).
   */
  validate(method: string, path: string, status: number, contentType: string | null, body: unknown): void {
    const matches = this.#templates.filter(({ pattern }) => pattern.test(path));
    if (matches.length > 1) this.templateOf(path);
    // A path no operation has, or a method a path does not have, may only be refused: 404 or 405
    // with the document's problem body, as the routers' fallbacks answer.
    if (matches.length === 0) return this.#validateRefusal(method, path, 404, status, contentType, body);
    const template = matches[0]!.template;
    const operation = this.#document.paths[template]![method.toLowerCase()];
    const where = `${method.toUpperCase()} ${template} -> ${status}`;
    if (!operation) return this.#validateRefusal(method, template, 405, status, contentType, body);
    const response = operation.responses?.[String(status)];
    if (!response) throw new Error(`${where}: the status is not documented for this operation`);
    this.covered.add(`${operation.operationId ?? `${method} ${template}`} ${status}`);
    if (!response.content) {
      if (body !== null && body !== undefined) throw new Error(`${where}: documented without a body`);
      return;
    }
    const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (!(mediaType in response.content)) {
      throw new Error(
        `${where}: content type ${mediaType || '(none)'} is not one of ${Object.keys(response.content)}`,
      );
    }
    const pointer = [
      'paths',
      template,
      method.toLowerCase(),
      'responses',
      String(status),
      'content',
      mediaType,
      'schema',
    ]
      .map(pointerToken)
      .join('/');
    let validateBody = this.#compiled.get(pointer);
    if (!validateBody) {
      validateBody = this.#ajv.getSchema(`${DOCUMENT_ID}#/${pointer}`);
      if (!validateBody) throw new Error(`${where}: no schema at #/${pointer}`);
      this.#compiled.set(pointer, validateBody);
    }
    this.#check(where, validateBody, body);
  }

  #validateRefusal(
    method: string,
    path: string,
    expected: 404 | 405,
    status: number,
    contentType: string | null,
    body: unknown,
  ): void {
    const where = `${method.toUpperCase()} ${path} -> ${status}`;
    if (status !== expected) {
      throw new Error(
        `${where}: the ${expected === 404 ? 'path' : 'method'} is not documented, so only ${expected} may answer`,
      );
    }
    if (!(contentType ?? '').toLowerCase().startsWith('application/problem+json')) {
      throw new Error(`${where}: a refusal must be application/problem+json, got ${contentType ?? '(none)'}`);
    }
    const validateProblem = this.#ajv.getSchema(`${DOCUMENT_ID}#/components/schemas/Problem`);
    if (!validateProblem) throw new Error('the document has no Problem schema');
    this.#check(where, validateProblem, body);
  }

  #check(where: string, validateBody: ValidateFunction, body: unknown): void {
    if (!validateBody(body)) {
      throw new Error(
        `${where}: the body does not match its documented schema: ${this.#ajv.errorsText(validateBody.errors)}\n` +
          JSON.stringify(body, null, 2),
      );
    }
  }
}

let servedDocument: OpenApiResponseValidator | undefined;

/**
 * A validator for the document the server serves at /admin/v1/openapi.json, built in-process from the
 * same route tables as src/http/admin/router.ts (the issuer only changes `servers`), once per process.
 */
export function documentedResponses(): OpenApiResponseValidator {
  servedDocument ??= new OpenApiResponseValidator(
    buildOpenApiDocument(ADMIN_ROUTES, 'http://localhost', ALL_PLATFORM_ROUTES),
  );
  return servedDocument;
}
