/**
 * The one error the kit throws for a request it refuses. `code` is the RFC 6750 error code the HTTP
 * adapters answer with (400 for `invalid_request`, 401 for `invalid_token`, 403 for
 * `insufficient_scope`); `description` is safe
 * to show to the caller and never contains the token.
 */
export type VerificationErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface VerificationErrorOptions {
  cause?: unknown;
  /** `insufficient_scope` only: the permissions the request needed. */
  requiredPermissions?: readonly string[];
}

export class VerificationError extends Error {
  readonly code: VerificationErrorCode;
  readonly description: string;
  readonly requiredPermissions: readonly string[];

  constructor(code: VerificationErrorCode, description: string, options: VerificationErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VerificationError';
    this.code = code;
    this.description = description;
    this.requiredPermissions = Object.freeze([...(options.requiredPermissions ?? [])]);
  }
}

export function invalidToken(description: string, cause?: unknown): VerificationError {
  return new VerificationError('invalid_token', description, { cause });
}

/** RFC 6750 3.1: a malformed request (malformed or repeated credentials, a token presented twice). */
export function invalidRequest(description: string): VerificationError {
  return new VerificationError('invalid_request', description);
}
