import { echo } from './text.ts';

/**
 * A request broke a domain rule. `code` is stable and machine-readable (adapters map it to an HTTP
 * status and a problem type); `message` tells a human what to change, in plain English.
 */
export class DomainError extends Error {
  readonly code: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, details?: Record<string, unknown>) {
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
