/**
 * Every option of `createVerifier`, its default, and the checks that refuse a configuration that
 * could not be safe. Defaults live in DEFAULTS and nowhere else.
 */

/** Asymmetric JWS algorithms the kit accepts. `none` and the HMAC family are never allowed. */
export const SUPPORTED_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
] as const;

export type SigningAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];

export type FetchFunction = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface ResourceServerCredentials {
  /** The name the operator listed in svcauth's RESOURCE_SERVERS. */
  name: string;
  secret: string;
}

export interface RevocationOptions {
  /**
   * `feed` (default): subscribe to `GET /revocations` and refuse revoked or stale tokens locally.
   * `none`: no subscription; a JWT is trusted until it expires (API keys are still introspected).
   */
  mode: 'feed' | 'none';
  /** How long the feed may be unreachable before its knowledge no longer counts. Default 10 000 ms. */
  maxStalenessMs?: number;
  /**
   * What to do with a JWT once the feed is stale: `fail-closed` (default) refuses it; `introspect` asks
   * `POST /introspect` (results cached briefly).
   */
  onFeedUnavailable?: 'fail-closed' | 'introspect';
  /**
   * A connected stream that sends nothing (svcauth sends a heartbeat every 2 s) for this long is
   * presumed dead and reopened. Default 15 000 ms. Freshness is separate: only a heartbeat, snapshot or
   * revocation event (each sent after the server read its revocation state) renews it, so set
   * `maxStalenessMs` well above 2 s.
   */
  heartbeatTimeoutMs?: number;
}

export interface IntrospectionCacheOptions {
  /** How long an `active` introspection answer is reused. Default 5 000 ms. */
  ttlMs?: number;
  /** Bound on cached answers; the oldest go first. Default 10 000. */
  maxEntries?: number;
}

export interface VerifierOptions {
  /** svcauth's issuer, exactly as tokens carry it in `iss`. */
  issuer: string;
  /** This resource server's audience (tokens must carry it in `aud`), e.g. `https://auth.example.com/api`. */
  audience: string | readonly string[];
  /** Accepted JWS algorithms. Default ES256, EdDSA, Ed25519, RS256. */
  algorithms?: readonly SigningAlgorithm[];
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Least time between two JWKS re-fetches caused by an unknown `kid`. Default 30 000 ms. */
  jwksRefreshIntervalMs?: number;
  /** This resource server's credential for `/introspect` and `/revocations`. */
  credentials?: ResourceServerCredentials;
  /** Revocation checks. Default `{ mode: 'feed' }`, which needs `credentials`. */
  revocation?: RevocationOptions;
  /** Cache of `/introspect` answers (API keys, and JWTs while the feed is stale). */
  introspectionCache?: IntrospectionCacheOptions;
  /** Timeout of each metadata, JWKS and introspection request. Default 5 000 ms. */
  httpTimeoutMs?: number;
  /** The fetch implementation; default `globalThis.fetch`. */
  fetch?: FetchFunction;
  /** Told of background failures (feed disconnects, JWKS refresh errors); they are otherwise silent. */
  onError?: (error: Error) => void;
}

export const DEFAULTS = {
  // Ed25519 is EdDSA's fully-specified name (RFC 9864).
  algorithms: ['ES256', 'EdDSA', 'Ed25519', 'RS256'] as readonly SigningAlgorithm[],
  clockToleranceSeconds: 5,
  jwksRefreshIntervalMs: 30_000,
  /** A JWKS older than this is re-fetched on the next verification (a failure keeps the old keys). */
  jwksMaxAgeMs: 10 * 60_000,
  maxStalenessMs: 10_000,
  onFeedUnavailable: 'fail-closed',
  heartbeatTimeoutMs: 15_000,
  introspectionCacheTtlMs: 5_000,
  introspectionCacheMaxEntries: 10_000,
  httpTimeoutMs: 5_000,
  /** Longer tokens are refused before any parsing. */
  maxTokenLength: 16_384,
} as const;

export interface ResolvedOptions {
  issuer: string;
  audiences: readonly string[];
  algorithms: readonly SigningAlgorithm[];
  clockToleranceSeconds: number;
  jwksRefreshIntervalMs: number;
  jwksMaxAgeMs: number;
  credentials: ResourceServerCredentials | null;
  revocation: {
    mode: 'feed' | 'none';
    maxStalenessMs: number;
    onFeedUnavailable: 'fail-closed' | 'introspect';
    heartbeatTimeoutMs: number;
  };
  introspectionCache: { ttlMs: number; maxEntries: number };
  httpTimeoutMs: number;
  fetch: FetchFunction;
  onError: (error: Error) => void;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number`);
  return value;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer`);
  return value;
}

export function resolveOptions(options: VerifierOptions): ResolvedOptions {
  if (typeof options.issuer !== 'string' || !URL.canParse(options.issuer)) {
    throw new TypeError('issuer must be the URL svcauth puts in the "iss" claim');
  }
  const audiences = typeof options.audience === 'string' ? [options.audience] : [...(options.audience ?? [])];
  if (audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) {
    throw new TypeError('audience must be a non-empty string or a non-empty list of them');
  }
  const algorithms = [...(options.algorithms ?? DEFAULTS.algorithms)];
  if (algorithms.length === 0) throw new TypeError('algorithms must name at least one algorithm');
  for (const alg of algorithms) {
    if (!(SUPPORTED_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new TypeError(
        `algorithm "${alg}" is not accepted; use asymmetric ones only: ${SUPPORTED_ALGORITHMS.join(', ')}`,
      );
    }
  }
  const credentials = options.credentials ?? null;
  if (credentials && (!credentials.name || !credentials.secret || credentials.name.includes(':'))) {
    throw new TypeError('credentials need a name (without ":") and a secret');
  }
  const mode = options.revocation?.mode ?? 'feed';
  if (mode !== 'feed' && mode !== 'none') throw new TypeError('revocation.mode must be "feed" or "none"');
  const onFeedUnavailable = options.revocation?.onFeedUnavailable ?? DEFAULTS.onFeedUnavailable;
  if (onFeedUnavailable !== 'fail-closed' && onFeedUnavailable !== 'introspect') {
    throw new TypeError('revocation.onFeedUnavailable must be "fail-closed" or "introspect"');
  }
  if (mode === 'feed' && !credentials) {
    throw new TypeError(
      'the revocation feed needs the resource server credentials; pass credentials, ' +
        "or revocation: { mode: 'none' } to trust tokens until they expire",
    );
  }
  const fetchFunction = options.fetch ?? globalThis.fetch;
  if (typeof fetchFunction !== 'function') throw new TypeError('no fetch implementation is available');
  return {
    issuer: options.issuer,
    audiences,
    algorithms,
    clockToleranceSeconds: nonNegative(
      'clockToleranceSeconds',
      options.clockToleranceSeconds,
      DEFAULTS.clockToleranceSeconds,
    ),
    jwksRefreshIntervalMs: nonNegative(
      'jwksRefreshIntervalMs',
      options.jwksRefreshIntervalMs,
      DEFAULTS.jwksRefreshIntervalMs,
    ),
    jwksMaxAgeMs: DEFAULTS.jwksMaxAgeMs,
    credentials,
    revocation: {
      mode,
      maxStalenessMs: nonNegative(
        'revocation.maxStalenessMs',
        options.revocation?.maxStalenessMs,
        DEFAULTS.maxStalenessMs,
      ),
      onFeedUnavailable,
      heartbeatTimeoutMs: positiveInteger(
        'revocation.heartbeatTimeoutMs',
        options.revocation?.heartbeatTimeoutMs,
        DEFAULTS.heartbeatTimeoutMs,
      ),
    },
    introspectionCache: {
      ttlMs: nonNegative(
        'introspectionCache.ttlMs',
        options.introspectionCache?.ttlMs,
        DEFAULTS.introspectionCacheTtlMs,
      ),
      maxEntries: positiveInteger(
        'introspectionCache.maxEntries',
        options.introspectionCache?.maxEntries,
        DEFAULTS.introspectionCacheMaxEntries,
      ),
    },
    httpTimeoutMs: positiveInteger('httpTimeoutMs', options.httpTimeoutMs, DEFAULTS.httpTimeoutMs),
    fetch: fetchFunction,
    onError: options.onError ?? (() => {}),
  };
}
