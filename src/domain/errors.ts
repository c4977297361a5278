import { echo } from './text.ts';

/**
 * Every rule a request can break, by its stable machine-readable code: a closed set, so that the HTTP
 * adapter's status table (src/http/admin/errors.ts) names every code and a new one cannot fall
 * through to a default status unnoticed.
 */
export type DomainErrorCode =
  | 'account_archived'
  | 'account_not_archived'
  | 'api_not_entitled'
  | 'catalog_managed_by_file'
  | 'credential_limit_reached'
  | 'credential_not_active'
  | 'credential_type_not_allowed'
  | 'delegation_exists'
  | 'escalation_refused'
  | 'expiry_in_past'
  | 'expiry_invalid'
  | 'expiry_too_far'
  | 'grace_invalid'
  | 'grace_too_long'
  | 'invalid_assignments'
  | 'invalid_jwks'
  | 'invalid_legacy_key'
  | 'invalid_scope'
  | 'invalid_location_sync'
  | 'invalid_settings'
  | 'invalid_target'
  | 'key_not_importable'
  | 'last_management_holder'
  | 'location_id_taken'
  | 'location_in_use'
  | 'management_permission'
  | 'multiple_live_primaries'
  | 'name_taken'
  | 'no_live_primary'
  | 'not_regenerable'
  | 'organization_archived'
  | 'own_operator_credential'
  | 'permission_in_use'
  | 'protected_account'
  | 'role_in_use'
  | 'role_not_assignable'
  | 'rotate_the_primary'
  | 'setting_beyond_limit'
  | 'system_role'
  | 'token_refused'
  | 'unknown_permission'
  | 'unknown_reference';

/**
 * A request broke a domain rule. `code` is stable and machine-readable (adapters map it to an HTTP
 * status and a problem type); `message` tells a human what to change, in plain English.
 */
export class DomainError extends Error {
  readonly code: DomainErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: DomainErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }
}

export function isDomainError(value: unknown): value is DomainError {
  return value instanceof DomainError;
}

/**
 * The thing a request names does not exist in the caller's organization. Another organization's ids
 * raise it too, with the same message, so existence elsewhere never leaks.
 */
export class NotFoundError extends Error {
  readonly resource: string;
  readonly id: string;

  constructor(resource: string, id: string) {
    super(`no ${resource} with id "${echo(id)}" exists in this organization`);
    this.name = 'NotFoundError';
    this.resource = resource;
    this.id = id;
  }
}

/**
 * The caller's credentials were refused: who is asking, not what is asked, so not a DomainError. The
 * HTTP adapter answers 401 with an RFC 6750 (or, when `dpop`, RFC 9449) challenge carrying `error`;
 * `message` is safe to show the caller.
 */
export class AuthenticationError extends Error {
  /** The challenge's error code. */
  readonly error: 'invalid_token' | 'invalid_dpop_proof';
  /** The refusal concerns DPoP: the DPoP challenge comes first. */
  readonly dpop: boolean;

  constructor(
    message: string,
    options: { error?: 'invalid_token' | 'invalid_dpop_proof'; dpop?: boolean } = {},
  ) {
    super(message);
    this.name = 'AuthenticationError';
    this.error = options.error ?? 'invalid_token';
    this.dpop = options.dpop ?? false;
  }
}
