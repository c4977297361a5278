import { type DestinationStream, type Logger, pino } from 'pino';

/**
 * Paths pino blanks out wherever they appear. Request bodies and raw headers are never logged in the
 * first place; this list is the second line of defence for anything that slips into a log object.
 */
export const REDACTED_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.authorization',
  'client_secret',
  '*.client_secret',
  'secret',
  '*.secret',
  'api_key',
  '*.api_key',
  'key',
  '*.key',
  'token',
  '*.token',
  'access_token',
  '*.access_token',
  'client_assertion',
  '*.client_assertion',
  'password',
  '*.password',
  'jwk',
  '*.jwk',
  'd',
  '*.d',
];

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'svcauth' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}

export type { Logger };

/**
 * A logger for lines built only from values svcauth produced itself (the per-request line: request
 * id, method, path, status, duration). It skips the redaction pass, which costs about 20 µs a line,
 * a twentieth of a token request; anything carrying caller-supplied objects goes through `logger`.
 */
export function createRequestLineLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: [] } });
}
