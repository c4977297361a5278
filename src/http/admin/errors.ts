/**
 * The admin boundary's one translation: what services throw (DomainError, NotFoundError) and what
 * validation finds becomes an HttpProblem, rendered as RFC 9457 problem+json by problemErrors().
 */
import type { z } from 'zod';
import { DomainError, type DomainErrorCode, NotFoundError } from '../../domain/errors.ts';
import { echo } from '../../domain/text.ts';
import { HttpProblem } from '../problem.ts';

/**
 * The status of every domain code: 422 for a well-formed request the rules refuse, 409 for a conflict
 * with the current state, 403 for authority, 400 for malformed input. Exhaustive: a new code does not
 * compile until it has its status here.
 */
const STATUS_BY_CODE = {
  account_archived: 409,
  account_not_archived: 409,
  // The product's decisions (entitlement, limits) are authority the organization's admins do not hold.
  api_not_entitled: 403,
  catalog_managed_by_file: 409,
  credential_limit_reached: 409,
  credential_not_active: 409,
  credential_type_not_allowed: 422,
  delegation_exists: 409,
  escalation_refused: 403,
  expiry_in_past: 422,
  expiry_invalid: 422,
  expiry_too_far: 422,
  grace_invalid: 422,
  grace_too_long: 422,
  invalid_assignments: 422,
  // The key set is malformed input (unusable or private keys), like a failed schema check.
  invalid_jwks: 400,
  invalid_legacy_key: 422,
  // RFC 6749's and RFC 8707's names for a token request's scope or resource no token can carry.
  invalid_scope: 400,
  invalid_location_sync: 422,
  invalid_settings: 422,
  invalid_target: 400,
  key_not_importable: 422,
  last_management_holder: 409,
  location_id_taken: 409,
  location_in_use: 409,
  management_permission: 409,
  multiple_live_primaries: 409,
  name_taken: 409,
  no_live_primary: 409,
  not_regenerable: 422,
  organization_archived: 409,
  // Revoking the secret the request authenticated with would be revoking the caller's own access.
  own_operator_credential: 409,
  permission_in_use: 409,
  protected_account: 409,
  role_in_use: 409,
  role_not_assignable: 422,
  rotate_the_primary: 409,
  setting_beyond_limit: 403,
  system_role: 409,
  // The subject may not have tokens now (no roles, API not entitled or off, suspended): the state refuses.
  token_refused: 409,
  unknown_permission: 422,
  unknown_reference: 422,
} as const satisfies Record<DomainErrorCode, number>;

export function toHttpProblem(error: unknown): unknown {
  if (error instanceof NotFoundError) return new HttpProblem(404, 'not_found', error.message);
  if (error instanceof DomainError) {
    const { field, ...details } = error.details ?? {};
    return new HttpProblem(STATUS_BY_CODE[error.code], error.code, error.message, {
      extensions: {
        ...(typeof field === 'string' ? { field } : {}),
        ...(Object.keys(details).length > 0 ? { details } : {}),
      },
    });
  }
  return error;
}

export interface FieldError {
  field: string;
  message: string;
}

/** Every issue, each naming the field path (`roles[1].role_id`); an unknown field is named itself. */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], root?: string): FieldError[] {
  return issues.flatMap((issue) => {
    const base = [...(root ? [root] : []), ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: fieldPath([...base, echo(key)]),
        message: 'is not a known field',
      }));
    }
    return [{ field: fieldPath(base) || '(body)', message: issue.message }];
  });
}

/** Enough to fix a request; a body with thousands of mistakes does not get thousands back. */
const MAX_LISTED_ERRORS = 20;

export function validationProblem(errors: FieldError[], where: string): HttpProblem {
  const first = errors[0];
  const summary = first ? `${first.field}: ${first.message}` : 'invalid';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new HttpProblem(400, 'validation_failed', `the ${where} is invalid: ${summary}${more}`, {
    extensions: { errors: errors.slice(0, MAX_LISTED_ERRORS) },
  });
}

function fieldPath(parts: string[]): string {
  return parts.reduce(
    (path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part),
    '',
  );
}
