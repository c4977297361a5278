import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULTS } from '../../config/defaults.ts';
import { type CatalogEntry, parsePermissionCatalog } from '../domain/permission-catalog.ts';

/** Raised when the environment does not describe a runnable server; the message is one line. */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable} ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

const SIGNING_ALGS = ['ES256', 'EdDSA', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function boolean(defaultValue: boolean) {
  return z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? defaultValue : ['true', '1', 'yes'].includes(v)));
}

function integer(defaultValue: number, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return defaultValue;
      const n = Number(v);
      if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max} (got "${v}")` });
        return z.NEVER;
      }
      return n;
    });
}

/** A connection URL whose value is never echoed back: it may hold a password. */
function connectionUrl(protocols: string[], example: string) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      let url: URL;
      try {
        url = new URL(v);
      } catch {
        ctx.addIssue({ code: 'custom', message: `is not a URL; expected e.g. ${example}` });
        return z.NEVER;
      }
      if (!protocols.includes(url.protocol)) {
        ctx.addIssue({
          code: 'custom',
          message: `must use ${protocols.join(' or ')} (got ${url.protocol}); e.g. ${example}`,
        });
        return z.NEVER;
      }
      return v;
    });
}

const HOST_PORT = /^([A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * `host:port` entries, comma-separated (whitespace around entries is ignored). Undefined when
 * unset; `example` completes the message that names a bad entry.
 */
function hostPortList(example: string) {
  return z
    .string()
    .optional()
    .transform((v, ctx): Array<{ host: string; port: number }> | undefined => {
      if (v === undefined) return undefined;
      const nodes: Array<{ host: string; port: number }> = [];
      for (const [index, entry] of v.split(',').entries()) {
        const match = HOST_PORT.exec(entry.trim());
        const port = Number(match?.[2]);
        if (!match || port < 1 || port > 65535) {
          ctx.addIssue({
            code: 'custom',
            message:
              `must be a comma-separated list of host:port (e.g. ${example}); ` +
              `entry ${index + 1} (${JSON.stringify(entry.trim())}) is not`,
          });
          return z.NEVER;
        }
        nodes.push({ host: match[1]!, port });
      }
      return nodes;
    });
}

function httpUrl<D extends string | undefined>(defaultValue: D) {
  return z
    .string()
    .optional()
    .transform((v, ctx): string | D => {
      const value = v === undefined || v === '' ? defaultValue : v;
      if (value === undefined) return defaultValue;
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be an absolute http(s) URL (got "${value}")` });
        return z.NEVER;
      }
      if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash) {
        ctx.addIssue({
          code: 'custom',
          message: `must be an http(s) URL without query or fragment (got "${value}")`,
        });
        return z.NEVER;
      }
      return value.replace(/\/+$/, '');
    });
}

/** A resource server allowed to call /introspect and /revocations, by the SHA-256 of its secret. */
export interface ResourceServerEntry {
  name: string;
  secretSha256: Buffer;
}

const RESOURCE_SERVER_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** A number of worker processes, or `auto`: one per CPU this process may use. */
function workerCount() {
  return z
    .string()
    .optional()
    .transform((v, ctx): number => {
      if (v === undefined) return DEFAULTS.WORKERS;
      if (v === 'auto') return os.availableParallelism();
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 64) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a whole number from 1 to 64, or auto (got "${v}")`,
        });
        return z.NEVER;
      }
      return Number(v);
    });
}

/**
 * `name:sha256hex` entries, comma-separated (whitespace around entries is ignored): RESOURCE_SERVERS and
 * OPERATORS, each made by its CLI command (`command`).
 */
function resourceServers(command = 'resource-server-credential') {
  return z
    .string()
    .optional()
    .transform((v, ctx): ResourceServerEntry[] => {
      if (v === undefined || v.trim() === '') return [];
      const entries: ResourceServerEntry[] = [];
      const parts = v.split(',').map((part) => part.trim());
      for (const [index, part] of parts.entries()) {
        const colon = part.indexOf(':');
        const name = colon === -1 ? part : part.slice(0, colon);
        const digest = colon === -1 ? '' : part.slice(colon + 1);
        const where = `entry ${index + 1}${RESOURCE_SERVER_NAME.test(name) ? ` ("${name}")` : ''}`;
        let problem: string | null = null;
        if (!RESOURCE_SERVER_NAME.test(name)) problem = 'needs a name of 1 to 64 letters, digits or . _ -';
        else if (!SHA256_HEX.test(digest)) problem = 'needs the SHA-256 of the secret as 64 hex digits';
        else if (entries.some((e) => e.name === name)) problem = 'repeats a name';
        if (problem) {
          ctx.addIssue({
            code: 'custom',
            message:
              `must be a comma-separated list of name:sha256hex; ${where} ${problem} ` +
              `(make one with "svcauth ${command} --name NAME")`,
          });
          return z.NEVER;
        }
        entries.push({ name, secretSha256: Buffer.from(digest, 'hex') });
      }
      return entries;
    });
}

const environmentSchema = z.object({
  PORT: integer(DEFAULTS.PORT, 0, 65535),
  HOST: z.string().min(1).default(DEFAULTS.HOST),
  ISSUER: httpUrl(DEFAULTS.ISSUER),
  DATABASE_URL: connectionUrl(['postgres:', 'postgresql:'], 'postgres://user@127.0.0.1:5432/svcauth'),
  DATA_DIR: z.string().min(1).default(DEFAULTS.DATA_DIR),
  REDIS_URL: connectionUrl(['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
  REDIS_SENTINELS: z
    .string()
    .regex(
      /^[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5})*$/,
      'must list sentinels as host:port,host:port (e.g. sentinel-0:26379,sentinel-1:26379)',
    )
    .optional(),
  REDIS_CLUSTER_NODES: hostPortList('redis-0:6379,redis-1:6379,redis-2:6379'),
  REDIS_SENTINEL_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be the monitored master name, e.g. mymaster')
    .default('mymaster'),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1 to 64 letters, digits or : _ . -')
    .default(DEFAULTS.REDIS_KEY_PREFIX),
  KEYS_DIR: z.string().min(1).default(DEFAULTS.KEYS_DIR),
  // Never echoed in a message: the value is a secret.
  LEGACY_KEY_ID_SECRET: z
    .string()
    .regex(
      /^[\x21-\x2b\x2d-\x7e]{32,256}(,[\x21-\x2b\x2d-\x7e]{32,256}){0,7}$/,
      'must be 1 to 8 comma-separated secrets of 32 to 256 printable characters, the current one first',
    )
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  MIGRATE_ON_START: boolean(DEFAULTS.MIGRATE_ON_START),
  SIGNING_ALG: z
    .enum(SIGNING_ALGS, { message: `must be one of ${SIGNING_ALGS.join(', ')}` })
    .default(DEFAULTS.SIGNING_ALG),
  DEFAULT_AUDIENCE: httpUrl(undefined),
  // Its range depends on whether this is a test run: checked by bcryptCost() below.
  BCRYPT_COST: z.string().optional(),
  BCRYPT_HASHING_NICE: integer(DEFAULTS.BCRYPT_HASHING_NICE, 0, 19),
  DB_POOL_MAX: integer(DEFAULTS.DB_POOL_MAX, 1, 200),
  MAX_TOKEN_CLAIMS_BYTES: integer(DEFAULTS.MAX_TOKEN_CLAIMS_BYTES, 1024, 65536),
  MAX_BODY_BYTES: integer(DEFAULTS.MAX_BODY_BYTES, 1024, 1048576),
  TRUST_PROXY: boolean(DEFAULTS.TRUST_PROXY),
  SHUTDOWN_GRACE_MS: integer(DEFAULTS.SHUTDOWN_GRACE_MS, 0, 120000),
  WORKERS: workerCount(),
  RESOURCE_SERVERS: resourceServers(),
  OPERATORS: resourceServers('operator-credential'),
  LOCKOUT_MAX_FAILURES: integer(DEFAULTS.LOCKOUT_MAX_FAILURES, 1, 10000),
  LOCKOUT_MAX_FAILURES_PER_IP: integer(DEFAULTS.LOCKOUT_MAX_FAILURES_PER_IP, 1, 1000000),
  LOCKOUT_WINDOW_SECONDS: integer(DEFAULTS.LOCKOUT_WINDOW_SECONDS, 1, 86400),
  LOCKOUT_SECONDS: integer(DEFAULTS.LOCKOUT_SECONDS, 1, 86400),
  SUBJECT_TOKEN_ISSUER: z
    .string()
    .max(500)
    .regex(/^[\x21-\x7e]+$/, "must be the `iss` of the product's subject tokens (printable, no spaces)")
    .optional(),
  SUBJECT_TOKEN_AUDIENCE: z
    .string()
    .max(500)
    .regex(/^[\x21-\x7e]+$/, 'must be the `aud` the product puts in subject tokens (printable, no spaces)')
    .optional(),
  SUBJECT_TOKEN_JWKS_URL: httpUrl(undefined),
  SUBJECT_TOKEN_JWKS_FILE: z.string().min(1).optional(),
  SUBJECT_TOKEN_MAX_LIFETIME_SECONDS: integer(DEFAULTS.SUBJECT_TOKEN_MAX_LIFETIME_SECONDS, 10, 3600),
  DELEGATED_TOKEN_TTL_SECONDS: integer(DEFAULTS.DELEGATED_TOKEN_TTL_SECONDS, 60, 3600),
  PERMISSIONS_FILE: z.string().min(1).optional(),
});

/**
 * Token exchange (RFC 8693): whom svcauth trusts to vouch for a person. The product signs a subject
 * token for its logged-in admin with a key of this JWK set; unset, the grant does not exist here.
 */
export interface TokenExchangeConfig {
  /** The `iss` every subject token must carry. */
  subjectTokenIssuer: string;
  /** The `aud` every subject token must carry (default: ISSUER). */
  subjectTokenAudience: string;
  /** Where the product's public keys are: fetched (and re-fetched) from a URL, or read from a file. */
  jwks: { kind: 'url'; url: string } | { kind: 'file'; path: string };
  /** The longest a subject token may live, iat to exp: it is a one-time proof, not a session. */
  maxSubjectTokenLifetimeSeconds: number;
  /** Lifetime of the management token issued for a person (the organization's TTL caps it). */
  delegatedTokenTtlSeconds: number;
}

export interface Config {
  port: number;
  host: string;
  issuer: string;
  /** Audience of product API tokens when the token request names no resource. */
  defaultAudience: string;
  /** Audience of tokens the management API accepts. */
  adminAudience: string;
  database: { kind: 'postgres'; url: string; poolMax: number } | { kind: 'pglite'; dataDir: string };
  redisUrl: string | undefined;
  /** Namespace of every key and channel in the state store (several deployments can share a Redis). */
  redisKeyPrefix: string;
  /** Redis Sentinel: when set, the master is found through these sentinels (REDIS_URL gives password and db). */
  redisSentinels: { sentinels: Array<{ host: string; port: number }>; name: string } | undefined;
  /**
   * Redis Cluster: seed nodes the client discovers the whole cluster from (REDIS_URL gives user name,
   * password and TLS).
   */
  redisClusterNodes: Array<{ host: string; port: number }> | undefined;
  keysDir: string;
  logLevel: (typeof LOG_LEVELS)[number];
  migrateOnStart: boolean;
  signingAlg: SigningAlg;
  bcryptCost: number;
  /** Nice steps below the server's threads at which new secrets are hashed (0: the same priority). */
  bcryptHashingNice: number;
  maxTokenClaimsBytes: number;
  maxBodyBytes: number;
  trustProxy: boolean;
  shutdownGraceMs: number;
  /** Server processes sharing the port; 1 means this process serves alone. */
  workers: number;
  /** Callers of /introspect and /revocations (HTTP Basic name:secret). */
  resourceServers: ResourceServerEntry[];
  /**
   * Platform operators (callers of /platform/v1, HTTP Basic name:secret or Bearer secret), same shape
   * as resourceServers. Several at once, so a secret is rotated by adding the new entry first.
   */
  operators: ResourceServerEntry[];
  /**
   * Keys of the HMAC that finds an imported legacy key's row (LEGACY_KEY_ID_SECRET): the current one
   * first, then earlier ones still accepted. Unset: a secret generated once in KEYS_DIR.
   */
  legacyKeyIdSecrets: string[] | undefined;
  /** Token exchange for people (RFC 8693); undefined when SUBJECT_TOKEN_ISSUER is unset. */
  tokenExchange: TokenExchangeConfig | undefined;
  /**
   * PERMISSIONS_FILE, read and validated: the product permission catalog the deployment declares (the
   * database's catalog is made exactly this at start-up, and the platform API only reads it).
   * Undefined when unset: the catalog is the database's, edited through the platform API.
   */
  permissionsFile: { path: string; permissions: CatalogEntry[] } | undefined;
  /** Brute-force limits on client authentication at /token and /revoke. */
  lockout: {
    maxFailuresPerClient: number;
    maxFailuresPerIp: number;
    windowSeconds: number;
    lockSeconds: number;
  };
}

/**
 * Reads and validates the environment. Throws a ConfigError naming the first bad variable; the
 * caller prints its one-line message and exits.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input = Object.fromEntries(
    Object.keys(environmentSchema.shape).map((k) => [k, emptyToUndefined(env[k])]),
  );
  const parsed = environmentSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const e = parsed.data;
  const bcryptCost = checkBcryptCost(e.BCRYPT_COST, env);
  checkRedisTopology(e);
  if (e.WORKERS > 1 && e.PORT === 0) {
    throw new ConfigError(
      'WORKERS',
      `is ${e.WORKERS}, which needs a fixed PORT for the workers to share (not 0)`,
    );
  }
  if (e.WORKERS > 1 && (!e.DATABASE_URL || !e.REDIS_URL)) {
    throw new ConfigError(
      'WORKERS',
      `is ${e.WORKERS}, but more than one worker needs DATABASE_URL and REDIS_URL: the embedded database and ` +
        'the in-process state store belong to a single process (set WORKERS=1, or configure Postgres and Redis)',
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    issuer: e.ISSUER,
    defaultAudience: e.DEFAULT_AUDIENCE ?? `${e.ISSUER}${DEFAULTS.DEFAULT_AUDIENCE_PATH}`,
    adminAudience: `${e.ISSUER}/admin`,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolMax: e.DB_POOL_MAX }
      : { kind: 'pglite', dataDir: path.resolve(e.DATA_DIR) },
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisSentinels: e.REDIS_SENTINELS
      ? {
          sentinels: e.REDIS_SENTINELS.split(',').map((entry) => {
            const [host, port] = entry.split(':');
            return { host: host!, port: Number(port) };
          }),
          name: e.REDIS_SENTINEL_NAME,
        }
      : undefined,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    keysDir: path.resolve(e.KEYS_DIR),
    legacyKeyIdSecrets: e.LEGACY_KEY_ID_SECRET?.split(','),
    logLevel: e.LOG_LEVEL,
    migrateOnStart: e.MIGRATE_ON_START,
    signingAlg: e.SIGNING_ALG,
    bcryptCost,
    bcryptHashingNice: e.BCRYPT_HASHING_NICE,
    maxTokenClaimsBytes: e.MAX_TOKEN_CLAIMS_BYTES,
    maxBodyBytes: e.MAX_BODY_BYTES,
    trustProxy: e.TRUST_PROXY,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    workers: e.WORKERS,
    resourceServers: e.RESOURCE_SERVERS,
    operators: e.OPERATORS,
    tokenExchange: tokenExchangeConfig(e),
    permissionsFile: e.PERMISSIONS_FILE ? readPermissionsFile(e.PERMISSIONS_FILE) : undefined,
    lockout: {
      maxFailuresPerClient: e.LOCKOUT_MAX_FAILURES,
      maxFailuresPerIp: e.LOCKOUT_MAX_FAILURES_PER_IP,
      windowSeconds: e.LOCKOUT_WINDOW_SECONDS,
      lockSeconds: e.LOCKOUT_SECONDS,
    },
  };
}

/**
 * RFC 6749 3.2 / RFC 8414 3: an http:// issuer puts client secrets and tokens on the wire in the clear
 * unless it is loopback (development). Not refused: a TLS-terminating proxy on a private network may
 * front svcauth; but the operator hears of it at every start. Null when the issuer is fine.
 */
export function insecureIssuerWarning(issuer: string): string | null {
  const url = new URL(issuer);
  if (url.protocol !== 'http:') return null;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || /^127\./.test(host)) return null;
  return `ISSUER ${url.origin} is http:// on a non-loopback host: clients send secrets and receive tokens in the clear, and strict clients refuse it; use an https:// ISSUER (TLS at svcauth or at the proxy in front)`;
}

/**
 * A cost below the production minimum only in a test run (NODE_ENV=test, or VITEST which Vitest sets),
 * read from the same environment as the rest: a deployment can never store weak hashes by accident.
 */
function checkBcryptCost(value: string | undefined, env: NodeJS.ProcessEnv): number {
  if (value === undefined) return DEFAULTS.BCRYPT_COST;
  const testRun = env.NODE_ENV === 'test' || Boolean(env.VITEST);
  const min = testRun ? DEFAULTS.BCRYPT_MIN_TEST_COST : DEFAULTS.BCRYPT_MIN_COST;
  const cost = Number(value);
  if (/^\d+$/.test(value) && cost >= min && cost <= DEFAULTS.BCRYPT_MAX_COST) return cost;
  const testOnly =
    !testRun && /^\d+$/.test(value) && cost >= DEFAULTS.BCRYPT_MIN_TEST_COST && cost < min
      ? `; costs below ${min} are for test runs only (NODE_ENV=test)`
      : '';
  throw new ConfigError(
    'BCRYPT_COST',
    `must be an integer from ${min} to ${DEFAULTS.BCRYPT_MAX_COST} (got "${value}")${testOnly}`,
  );
}

/** SUBJECT_TOKEN_ISSUER turns token exchange on, and then needs exactly one source of the product's keys. */
function tokenExchangeConfig(e: z.infer<typeof environmentSchema>): TokenExchangeConfig | undefined {
  const url = e.SUBJECT_TOKEN_JWKS_URL;
  const file = e.SUBJECT_TOKEN_JWKS_FILE;
  if (!e.SUBJECT_TOKEN_ISSUER) {
    for (const [variable, value] of [
      ['SUBJECT_TOKEN_JWKS_URL', url],
      ['SUBJECT_TOKEN_JWKS_FILE', file],
      ['SUBJECT_TOKEN_AUDIENCE', e.SUBJECT_TOKEN_AUDIENCE],
    ] as const) {
      if (value) {
        throw new ConfigError(
          variable,
          "is set but SUBJECT_TOKEN_ISSUER is not: token exchange needs the `iss` of the product's subject tokens",
        );
      }
    }
    return undefined;
  }
  if (Boolean(url) === Boolean(file)) {
    throw new ConfigError(
      url ? 'SUBJECT_TOKEN_JWKS_FILE' : 'SUBJECT_TOKEN_JWKS_URL',
      url
        ? "cannot be combined with SUBJECT_TOKEN_JWKS_URL: name one source of the product's keys"
        : "must be set with SUBJECT_TOKEN_ISSUER (or SUBJECT_TOKEN_JWKS_FILE): where the product's public signing keys are",
    );
  }
  return {
    subjectTokenIssuer: e.SUBJECT_TOKEN_ISSUER,
    subjectTokenAudience: e.SUBJECT_TOKEN_AUDIENCE ?? e.ISSUER,
    jwks: url ? { kind: 'url', url } : { kind: 'file', path: path.resolve(file!) },
    maxSubjectTokenLifetimeSeconds: e.SUBJECT_TOKEN_MAX_LIFETIME_SECONDS,
    delegatedTokenTtlSeconds: e.DELEGATED_TOKEN_TTL_SECONDS,
  };
}

/** PERMISSIONS_FILE: read once at start; any problem stops the process, naming the file and the entry. */
function readPermissionsFile(file: string): { path: string; permissions: CatalogEntry[] } {
  const resolved = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(resolved, 'utf8');
  } catch (error) {
    throw new ConfigError(
      'PERMISSIONS_FILE',
      `cannot be read (${resolved}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  try {
    return { path: resolved, permissions: parsePermissionCatalog(text) };
  } catch (error) {
    throw new ConfigError('PERMISSIONS_FILE', `(${resolved}) ${(error as Error).message}`);
  }
}

/** The Redis variables that are only valid together, or only apart. */
function checkRedisTopology(e: z.infer<typeof environmentSchema>): void {
  // Without REDIS_URL the state store would silently stay in process: wrong for several replicas.
  if (e.REDIS_SENTINELS && !e.REDIS_URL) {
    throw new ConfigError(
      'REDIS_SENTINELS',
      'needs REDIS_URL as well, for the password and database of the master; its host is not used ' +
        '(e.g. REDIS_URL=redis://:PASSWORD@mymaster:6379/0)',
    );
  }
  if (!e.REDIS_CLUSTER_NODES) return;
  if (e.REDIS_SENTINELS) {
    throw new ConfigError(
      'REDIS_CLUSTER_NODES',
      'cannot be combined with REDIS_SENTINELS: Redis Cluster fails over by itself; set one of them',
    );
  }
  if (!e.REDIS_URL) {
    throw new ConfigError(
      'REDIS_CLUSTER_NODES',
      'needs REDIS_URL as well, for the user name, password and TLS (rediss:) of the nodes; ' +
        'its host is not used (e.g. REDIS_URL=redis://:PASSWORD@cluster:6379)',
    );
  }
  // The path of a redis: URL selects the database; a cluster has only database 0.
  const database = new URL(e.REDIS_URL).pathname.replace(/^\//, '');
  if (database !== '' && database !== '0') {
    throw new ConfigError(
      'REDIS_URL',
      'must not select a database with REDIS_CLUSTER_NODES: Redis Cluster has only database 0',
    );
  }
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
