import { expect } from 'vitest';
import { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import type { ApiResponse } from '../admin/admin-helpers.ts';

export function basic(name: string, secret: string): string {
  return `Basic ${Buffer.from(`${name}:${secret}`).toString('base64')}`;
}

/** The OpenAPI document the server serves, as a validator of real responses. */
export async function servedDocument(server: TestServer): Promise<OpenApiResponseValidator> {
  const served = await fetch(`${server.issuer}/admin/v1/openapi.json`);
  expect(served.status).toBe(200);
  return new OpenApiResponseValidator(await served.json());
}

/**
 * The platform API as one caller sees it; every response is checked against the served OpenAPI
 * document (when given) before the caller sees it.
 */
export function platformApi(
  server: TestServer,
  authorization: string | null,
  documented?: OpenApiResponseValidator,
  headers: Record<string, string> = {},
) {
  return async (method: string, path: string, body?: unknown): Promise<ApiResponse> => {
    const response = await fetch(`${server.issuer}/platform/v1${path}`, {
      method,
      headers: {
        ...headers,
        ...(authorization ? { authorization } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const result = {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : null,
    };
    documented?.validate(
      method,
      `/platform/v1${path.split('?')[0]}`,
      result.status,
      result.headers.get('content-type'),
      result.body,
    );
    return result;
  };
}
export type PlatformApi = ReturnType<typeof platformApi>;
