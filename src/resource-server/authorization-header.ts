/**
 * Reads an `Authorization` header: a Bearer token (RFC 6750), a DPoP-bound token (RFC 9449) or an API
 * key as Basic `api:<key>`.
 */

/** The Basic username under which an API key is presented as the password. */
export const API_KEY_USERNAME = 'api';

export type PresentedCredentials =
  | { scheme: 'none' }
  | { scheme: 'bearer'; token: string }
  | { scheme: 'dpop'; token: string }
  | { scheme: 'api_key'; key: string }
  /** `malformed`: not a well-formed credential at all (RFC 6750 invalid_request), not just a refused one. */
  | { scheme: 'invalid'; basic: boolean; reason: string; malformed?: true };

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const DPOP = /^DPoP +([A-Za-z0-9\-._~+/]+=*)$/i;
const BASIC = /^Basic +([A-Za-z0-9+/]+=*)$/i;

export function readAuthorization(
  header: string | readonly string[] | null | undefined,
): PresentedCredentials {
  if (Array.isArray(header)) {
    if (header.length > 1)
      return {
        scheme: 'invalid',
        basic: false,
        reason: 'send one Authorization header, not several',
        malformed: true,
      };
    return readAuthorization(header[0]);
  }
  const value = typeof header === 'string' ? header.trim() : '';
  if (value === '') return { scheme: 'none' };
  const bearer = BEARER.exec(value);
  if (bearer) return { scheme: 'bearer', token: bearer[1]! };
  const dpop = DPOP.exec(value);
  if (dpop) return { scheme: 'dpop', token: dpop[1]! };
  const basic = BASIC.exec(value);
  if (basic) {
    let decoded: string;
    try {
      decoded = new TextDecoder('utf-8', { fatal: true }).decode(
        Uint8Array.from(atob(basic[1]!), (c) => c.charCodeAt(0)),
      );
    } catch {
      return {
        scheme: 'invalid',
        basic: true,
        reason: 'the Basic credentials are not valid base64 UTF-8',
        malformed: true,
      };
    }
    const colon = decoded.indexOf(':');
    const username = colon === -1 ? null : formDecode(decoded.slice(0, colon));
    const password = colon === -1 ? null : formDecode(decoded.slice(colon + 1));
    if (username !== API_KEY_USERNAME || !password) {
      return {
        scheme: 'invalid',
        basic: true,
        reason: `use the username "${API_KEY_USERNAME}" and the API key as password`,
      };
    }
    return { scheme: 'api_key', key: password };
  }
  if (/^DPoP\b/i.test(value))
    return { scheme: 'invalid', basic: false, reason: 'the DPoP token is malformed', malformed: true };
  if (/^Bearer\b/i.test(value))
    return { scheme: 'invalid', basic: false, reason: 'the Bearer token is malformed', malformed: true };
  if (/^Basic\b/i.test(value))
    return { scheme: 'invalid', basic: true, reason: 'the Basic credentials are malformed', malformed: true };
  return { scheme: 'invalid', basic: false, reason: 'use a Bearer token or an API key (Basic)' };
}

/** RFC 6749 2.3.1: Basic credentials are form-urlencoded (as svcauth's /token reads them too). */
function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}
