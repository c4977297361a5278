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
