import { expect } from 'vitest';
import { resourceServerEntry } from '../../../src/domain/credential-format.ts';
import { createVerifier, type Verifier } from '../../../src/resource-server/index.ts';
import { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
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

/** A deployment secret as tests hold it: the name it is listed under and the secret itself. */
export interface NamedSecret {
  name: string;
  secret: string;
}

/**
 * A product's deployment as the platform tests drive it: a server with one operator and one resource
 * server configured, the platform API as that operator (responses checked against the served
 * document), the resource server's kit on the revocation feed, and /introspect as that resource server.
 */
export interface ProductDeployment {
  server: TestServer;
  platform: PlatformApi;
  kit: Verifier;
  /** The introspection answer for a token or an API key (its 200 asserted). */
  introspect(token: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startProductDeployment(
  operator: NamedSecret,
  resourceServer: NamedSecret,
): Promise<ProductDeployment> {
  const server = await startTestServer({
    OPERATORS: resourceServerEntry(operator.name, operator.secret),
    RESOURCE_SERVERS: resourceServerEntry(resourceServer.name, resourceServer.secret),
  });
  const kit = createVerifier({
    issuer: server.issuer,
    audience: `${server.issuer}/api`,
    credentials: resourceServer,
    revocation: { mode: 'feed' },
  });
  let platform: PlatformApi;
  try {
    platform = platformApi(server, basic(operator.name, operator.secret), await servedDocument(server));
    await kit.ready();
  } catch (error) {
    // The caller's afterAll has nothing to stop yet: this start-up cleans up after itself.
    await kit.close();
    await server.stop();
    throw error;
  }
  return {
    server,
    platform,
    kit,
    async introspect(token) {
      const response = await fetch(`${server.issuer}/introspect`, {
        method: 'POST',
        headers: {
          authorization: basic(resourceServer.name, resourceServer.secret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }).toString(),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, unknown>;
    },
    async stop() {
      await kit.close();
      await server.stop();
    },
  };
}
