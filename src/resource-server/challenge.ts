/**
 * The refusal an HTTP adapter sends: status, RFC 6750 `WWW-Authenticate` challenges and a JSON body.
 * A request without credentials gets the bare challenges (RFC 6750 section 3.1: no error code); an
 * API-key request, or one without credentials, also gets a `Basic` challenge, since keys are accepted.
 */
import type { PresentedCredentials } from './authorization-header.ts';
import { DPOP_ALGORITHMS } from './dpop.ts';
import { VerificationError } from './errors.ts';
import { holdsAnywhere, type Principal } from './principal.ts';

export interface Refusal {
  status: 400 | 401 | 403;
  /** One value per challenge. */
  wwwAuthenticate: string[];
  /** No `error` for a request without credentials (RFC 6750 3.1). */
  body: { error?: string; error_description: string };
}

/** RFC 6750 section 3: quoted values may not hold `"` or `\`, and must be printable ASCII. */
function quoted(value: string): string {
  return `"${value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, ' ')}"`;
}

export function refusalFor(
  error: VerificationError,
  presented: PresentedCredentials,
  realm: string,
): Refusal {
  const basic =
    presented.scheme === 'api_key' ||
    presented.scheme === 'none' ||
    (presented.scheme === 'invalid' && presented.basic);
  const bearer =
    presented.scheme === 'none'
      ? `Bearer realm=${quoted(realm)}`
      : [
          `Bearer realm=${quoted(realm)}`,
          `error=${quoted(error.code)}`,
          `error_description=${quoted(error.description)}`,
          ...(error.requiredPermissions.length > 0
            ? [`scope=${quoted(error.requiredPermissions.join(' '))}`]
            : []),
        ].join(', ');
  // RFC 9449 section 7.1: DPoP-bound tokens are accepted too. The error goes with the scheme used.
  const dpopBare = `DPoP realm=${quoted(realm)}, algs="${DPOP_ALGORITHMS.join(' ')}"`;
  const tokenChallenges =
    presented.scheme === 'dpop'
      ? [
          `${dpopBare}, error=${quoted(error.code)}, error_description=${quoted(error.description)}`,
          `Bearer realm=${quoted(realm)}`,
        ]
      : [bearer, dpopBare];
  return {
    status: error.code === 'insufficient_scope' ? 403 : error.code === 'invalid_request' ? 400 : 401,
    wwwAuthenticate: basic
      ? [...tokenChallenges, `Basic realm=${quoted(realm)}, charset="UTF-8"`]
      : tokenChallenges,
    body:
      presented.scheme === 'none'
        ? { error_description: 'authentication is required: present a Bearer token or an API key' }
        : { error: error.code, error_description: error.description },
  };
}

/** Throws insufficient_scope unless the principal holds each permission at some location. */
export function requirePermissions(principal: Principal, required: readonly string[]): void {
  const missing = required.filter((permission) => !holdsAnywhere(principal, permission));
  if (missing.length > 0) {
    throw new VerificationError('insufficient_scope', `this request needs ${missing.join(', ')}`, {
      requiredPermissions: required,
    });
  }
}
