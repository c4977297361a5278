/**
 * Every configuration default in one place. Environment variables override these (see
 * src/config/index.ts and the README's configuration table).
 */
export const DEFAULTS = {
  PORT: 3000,
  HOST: '0.0.0.0',
  ISSUER: 'http://localhost:3000',
  DATA_DIR: './data',
  KEYS_DIR: './keys',
  REDIS_KEY_PREFIX: 'svcauth:',
  LOG_LEVEL: 'info',
  MIGRATE_ON_START: true,
  SIGNING_ALG: 'ES256',
  /** Path appended to ISSUER to form the default audience of product API tokens. */
  DEFAULT_AUDIENCE_PATH: '/api',
  BCRYPT_COST: 10,
  /** Lowest bcrypt cost a deployment may configure. */
  BCRYPT_MIN_COST: 10,
  BCRYPT_MAX_COST: 15,
  /**
   * Lowest bcrypt cost a test run may configure (NODE_ENV=test or VITEST set in the environment read):
   * test suites hash hundreds of secrets, and cost 4 takes about 1 ms where cost 10 takes 60 ms.
   */
  BCRYPT_MIN_TEST_COST: 4,
  /**
   * Nice steps below the server's own threads at which new secrets are hashed (Linux: the hashing
   * threads only); creating credentials then waits for the cores /token leaves. 0: same priority.
   */
  BCRYPT_HASHING_NICE: 10,
  DB_POOL_MAX: 10,
  /** Largest serialized claims set a token may carry before the request must down-scope. */
  MAX_TOKEN_CLAIMS_BYTES: 8192,
  /** Largest request body the token, introspection and revocation endpoints read. */
  MAX_BODY_BYTES: 16384,
  TRUST_PROXY: false,
  SHUTDOWN_GRACE_MS: 10000,
  /** Server processes sharing the port (node:cluster); more than one needs Postgres and Redis. */
  WORKERS: 1,
  /** Failed client authentications of one client id within the window before it is locked out. */
  LOCKOUT_MAX_FAILURES: 10,
  /** Failed client authentications from one source IP within the window before it is locked out. */
  LOCKOUT_MAX_FAILURES_PER_IP: 50,
  LOCKOUT_WINDOW_SECONDS: 300,
  /** How long a locked-out client id or IP is refused. */
  LOCKOUT_SECONDS: 900,
  /** Token exchange (RFC 8693): the longest a product's subject token may live, from iat to exp. */
  SUBJECT_TOKEN_MAX_LIFETIME_SECONDS: 300,
  /** Token exchange: the lifetime of a management token issued for a person (never above the organization's TTL). */
  DELEGATED_TOKEN_TTL_SECONDS: 300,
  /**
   * PERMISSIONS_FILE unset: the product permission catalog is the database's, edited through the
   * platform API, starting with DEFAULT_PRODUCT_PERMISSIONS (config/permissions.ts).
   */
  PERMISSIONS_FILE: undefined,
} as const;

/** Defaults of a new organization's API security settings. */
export const ORGANIZATION_DEFAULTS = {
  apiEnabled: true,
  allowedCredentialTypes: ['oauth_client', 'api_key', 'private_key_jwt'],
  accessTokenTtlSeconds: 300,
  maxCredentialsPerAccount: 10,
  maxCredentialLifetimeSeconds: null as number | null,
} as const;

/** Hard bounds no organization setting may leave. */
export const LIMITS = {
  ACCESS_TOKEN_TTL_MIN_SECONDS: 60,
  ACCESS_TOKEN_TTL_MAX_SECONDS: 3600,
  MAX_CREDENTIALS_PER_ACCOUNT: 100,
} as const;
