/** RFC 8414 authorization server metadata: where the keys and the resource-server endpoints are. */
import { requestJson } from './http.ts';
import type { FetchFunction } from './options.ts';

export interface ServerEndpoints {
  jwksUri: string;
  introspectionEndpoint: string;
  revocationFeedEndpoint: string;
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

/** The feed has no metadata field of its own; svcauth serves it beside the other endpoints. */
export function revocationFeedEndpoint(issuer: string): string {
  return `${trimSlash(issuer)}/revocations`;
}

export async function discoverEndpoints(
  issuer: string,
  fetchFunction: FetchFunction,
  timeoutMs: number,
): Promise<ServerEndpoints> {
  const url = `${trimSlash(issuer)}/.well-known/oauth-authorization-server`;
  const metadata = await requestJson(fetchFunction, url, { timeoutMs });
  // RFC 8414 section 3.3: the document must name the issuer it was fetched for, exactly.
  if (metadata.issuer !== issuer) {
    throw new Error(`${url} describes issuer ${JSON.stringify(metadata.issuer)}, not ${issuer}`);
  }
  const jwksUri = metadata.jwks_uri;
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) throw new Error(`${url} has no valid jwks_uri`);
  const introspection = metadata.introspection_endpoint;
  return {
    jwksUri,
    introspectionEndpoint:
      typeof introspection === 'string' && URL.canParse(introspection)
        ? introspection
        : `${trimSlash(issuer)}/introspect`,
    revocationFeedEndpoint: revocationFeedEndpoint(issuer),
  };
}
