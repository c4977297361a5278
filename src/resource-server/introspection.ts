/**
 * RFC 7662 token introspection against svcauth's `POST /introspect`, authenticated with the resource
 * server's credentials. Used for API keys always, and for JWTs while the revocation feed is stale (when
 * configured so). An `active` answer carries the same claims a JWT would.
 */
import { requestJson } from './http.ts';
import type { FetchFunction } from './options.ts';

export type IntrospectionResult = { active: false } | { active: true; claims: Record<string, unknown> };

export interface IntrospectionClient {
  introspect(token: string): Promise<IntrospectionResult>;
}

export function createIntrospectionClient(options: {
  endpoint: () => Promise<string>;
  authorization: string;
  fetch: FetchFunction;
  timeoutMs: number;
}): IntrospectionClient {
  return {
    async introspect(token) {
      const body = await requestJson(options.fetch, await options.endpoint(), {
        method: 'POST',
        timeoutMs: options.timeoutMs,
        headers: {
          authorization: options.authorization,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }).toString(),
      });
      if (body.active === true) return { active: true, claims: body };
      if (body.active === false) return { active: false };
      throw new Error('the introspection answer has no boolean "active"');
    },
  };
}
