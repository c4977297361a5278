/**
 * The shapes of the credentials svcauth issues.
 *
 * Every value carries a fixed prefix (so secret scanners can find leaked ones and humans can tell
 * them apart) and, where it holds a secret, a CRC32 checksum of everything before it (so a truncated,
 * mistyped or made-up value is refused before any database lookup or bcrypt comparison). The checksum
 * is not a security control: anyone can compute it. It only makes garbage cheap to reject.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export const API_KEY_PREFIX = 'svcak_';
export const CLIENT_ID_PREFIX = 'svcc_';
export const CLIENT_SECRET_PREFIX = 'svcs_';
export const LEGACY_KEY_ID_PREFIX = 'legacy_';
/** Secrets of resource servers (callers of /introspect and /revocations), not of tenants' credentials. */
export const RESOURCE_SERVER_SECRET_PREFIX = 'svcrs_';
/** Secrets of platform operators (callers of /platform/v1), listed in OPERATORS. */
export const OPERATOR_SECRET_PREFIX = 'svcop_';

const API_KEY_ID_LENGTH = 16;
const API_KEY_SECRET_LENGTH = 32;
const CLIENT_ID_BODY_LENGTH = 22;
const CLIENT_SECRET_BODY_LENGTH = 40;
const RESOURCE_SERVER_SECRET_BODY_LENGTH = 40;
/** 62^6 > 2^32, so six base62 characters hold any CRC32 value. */
const CHECKSUM_LENGTH = 6;

const LEGACY_KEY_MIN_LENGTH = 16;
const LEGACY_KEY_MAX_LENGTH = 512;
/** The unsalted digest that identified legacy keys before migration 0004: 96 bits of SHA-256. */
const LEGACY_KEY_ID_HEX_LENGTH = 24;
const LEGACY_KEY_CLIENT_ID_BODY_LENGTH = 22;
const LEGACY_KEY_MIN_DISTINCT_CHARS = 6;
export const LEGACY_LOOKUP_HMAC_PREFIX = 'hmac:';
export const LEGACY_LOOKUP_UNSALTED_PREFIX = 'sha256:';
const HINT_VISIBLE_CHARS = 4;

/**
 * For secret scanners: finds an API key inside arbitrary text. Not anchored and not global, so it is
 * safe to share (a global RegExp carries `lastIndex` state); scanners wanting every match can build
 * `new RegExp(API_KEY_PATTERN.source, 'g')`.
 */
export const API_KEY_PATTERN = new RegExp(
  `\\b${API_KEY_PREFIX}[0-9A-Za-z]{${API_KEY_ID_LENGTH}}_[0-9A-Za-z]{${API_KEY_SECRET_LENGTH + CHECKSUM_LENGTH}}\\b`,
);

/** For secret scanners: finds a client secret inside arbitrary text. Same conventions as above. */
export const CLIENT_SECRET_PATTERN = new RegExp(
  `\\b${CLIENT_SECRET_PREFIX}[0-9A-Za-z]{${CLIENT_SECRET_BODY_LENGTH + CHECKSUM_LENGTH}}\\b`,
);

const API_KEY_EXACT = new RegExp(
  `^${API_KEY_PREFIX}([0-9A-Za-z]{${API_KEY_ID_LENGTH}})_[0-9A-Za-z]{${API_KEY_SECRET_LENGTH + CHECKSUM_LENGTH}}$`,
);
const API_KEY_ID_EXACT = new RegExp(`^[0-9A-Za-z]{${API_KEY_ID_LENGTH}}$`);
const CLIENT_ID_EXACT = new RegExp(`^${CLIENT_ID_PREFIX}[0-9A-Za-z]{${CLIENT_ID_BODY_LENGTH}}$`);
const CLIENT_SECRET_EXACT = new RegExp(
  `^${CLIENT_SECRET_PREFIX}[0-9A-Za-z]{${CLIENT_SECRET_BODY_LENGTH + CHECKSUM_LENGTH}}$`,
);
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Prefixes of values svcauth issues; a legacy key never starts with one (see isLegacyKeyShape). */
const RESERVED_PREFIXES = [API_KEY_PREFIX, CLIENT_ID_PREFIX, CLIENT_SECRET_PREFIX] as const;

/**
 * Uniformly random base62. Bytes at or above 248 (= 4 * 62) are dropped rather than reduced modulo 62,
 * which would make the first 8 characters of the alphabet more likely than the rest.
 */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    // About 3% of bytes are rejected; the margin makes a second round rare.
    const bytes = randomBytes(Math.ceil((length - out.length) * 1.1) + 4);
    for (const byte of bytes) {
      if (byte >= 248) continue;
      out += BASE62_ALPHABET.charAt(byte % 62);
      if (out.length === length) break;
    }
  }
  return out;
}

/** CRC-32 (IEEE) of `text`, as six base62 characters, most significant first, zero-padded. */
export function base62Checksum(text: string): string {
  let value = crc32(text);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62_ALPHABET.charAt(value % 62) + out;
    value = Math.floor(value / 62);
  }
  return out;
}

function hasValidChecksum(value: string): boolean {
  const body = value.slice(0, -CHECKSUM_LENGTH);
  return base62Checksum(body) === value.slice(-CHECKSUM_LENGTH);
}

function withChecksum(body: string): string {
  return body + base62Checksum(body);
}

// ---------------------------------------------------------------------------------------------------
// API keys: svcak_<keyId>_<secret><checksum>

export interface GeneratedApiKey {
  /** Public identifier, stored in clear to find the credential row; the secret is only bcrypt-hashed. */
  keyId: string;
  secret: string;
  /** The whole value handed to the user, once. */
  key: string;
}

export type ParsedApiKey =
  { ok: true; keyId: string; key: string } | { ok: false; reason: 'format' | 'checksum' };

/**
 * A new API key. Regenerating an existing key passes its key id, so the credential keeps its identity
 * and only the secret part changes.
 */
export function generateApiKey(existingKeyId?: string): GeneratedApiKey {
  if (existingKeyId !== undefined && !API_KEY_ID_EXACT.test(existingKeyId)) {
    throw new Error(`"${existingKeyId}" is not an API key id`);
  }
  const keyId = existingKeyId ?? randomBase62(API_KEY_ID_LENGTH);
  const secret = randomBase62(API_KEY_SECRET_LENGTH);
  return { keyId, secret, key: withChecksum(`${API_KEY_PREFIX}${keyId}_${secret}`) };
}

/** Shape first, then checksum; only a value passing both is worth a database lookup. */
export function parseApiKey(value: string): ParsedApiKey {
  const match = API_KEY_EXACT.exec(value);
  if (!match) return { ok: false, reason: 'format' };
  if (!hasValidChecksum(value)) return { ok: false, reason: 'checksum' };
  return { ok: true, keyId: match[1]!, key: value };
}

// ---------------------------------------------------------------------------------------------------
// OAuth clients: svcc_<id> and svcs_<secret><checksum>

/** A client id is an identifier, not a secret, so it needs no checksum; 22 chars is ~131 random bits. */
export function generateClientId(): string {
  return CLIENT_ID_PREFIX + randomBase62(CLIENT_ID_BODY_LENGTH);
}

export function isClientIdFormat(value: string): boolean {
  return CLIENT_ID_EXACT.test(value);
}

/**
 * Whether a presented client id could be one svcauth issued or imported (an svcc_ client id, an API
 * key id, a legacy key id): printable ASCII without spaces, bounded. Anything else is unknown
 * without a lookup.
 */
export function isPlausibleClientId(value: string): boolean {
  return /^[\x21-\x7e]{1,128}$/.test(value);
}

export function generateClientSecret(): string {
  return withChecksum(CLIENT_SECRET_PREFIX + randomBase62(CLIENT_SECRET_BODY_LENGTH));
}

export function isClientSecretWellFormed(value: string): boolean {
  return CLIENT_SECRET_EXACT.test(value) && hasValidChecksum(value);
}

// ---------------------------------------------------------------------------------------------------
// Resource servers: svcrs_<secret><checksum>, listed in RESOURCE_SERVERS by the SHA-256 of the secret

// Operators use the same shape with svcop_, listed in OPERATORS (the platform API, /platform/v1).

/** The prefixes of deployment-level secrets, kept as `name:sha256hex` in the configuration. */
export type DeploymentSecretPrefix = typeof RESOURCE_SERVER_SECRET_PREFIX | typeof OPERATOR_SECRET_PREFIX;

export function generateDeploymentSecret(prefix: DeploymentSecretPrefix): string {
  return withChecksum(prefix + randomBase62(RESOURCE_SERVER_SECRET_BODY_LENGTH));
}

export function isDeploymentSecretWellFormed(prefix: DeploymentSecretPrefix, value: string): boolean {
  return (
    value.startsWith(prefix) &&
    value.length === prefix.length + RESOURCE_SERVER_SECRET_BODY_LENGTH + CHECKSUM_LENGTH &&
    /^[0-9A-Za-z]+$/.test(value.slice(prefix.length)) &&
    hasValidChecksum(value)
  );
}

export function generateResourceServerSecret(): string {
  return generateDeploymentSecret(RESOURCE_SERVER_SECRET_PREFIX);
}

export function isResourceServerSecretWellFormed(value: string): boolean {
  return isDeploymentSecretWellFormed(RESOURCE_SERVER_SECRET_PREFIX, value);
}

/**
 * The configuration entry of a deployment-level secret (RESOURCE_SERVERS, OPERATORS): its name and the
 * SHA-256 of its secret, in hex.
 */
export function resourceServerEntry(name: string, secret: string): string {
  return `${name}:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

// ---------------------------------------------------------------------------------------------------
// Legacy keys, imported from an older system: arbitrary strings, stored only as a bcrypt hash (which
// decides) and a keyed lookup value (which finds the row).

/**
 * The public id of an imported legacy key: random, so nothing shown anywhere (tokens, introspection,
 * listings, audit) says anything about the key. The row is found through its lookup value instead.
 */
export function generateLegacyKeyClientId(): string {
  return LEGACY_KEY_ID_PREFIX + randomBase62(LEGACY_KEY_CLIENT_ID_BODY_LENGTH);
}

/** A legacy key's lookup value under one server secret: HMAC-SHA256, useless without the secret. */
export function legacyKeyLookup(key: string, secret: Uint8Array): string {
  return LEGACY_LOOKUP_HMAC_PREFIX + createHmac('sha256', secret).update(key, 'utf8').digest('hex');
}

/**
 * Every lookup value a legacy key's row may carry, current first: the HMAC under each server secret
 * (current, then earlier ones still accepted), then the unsalted digest rows imported before migration
 * 0004 keep until their key is first used (a new HMAC cannot be computed without the key).
 */
export function legacyKeyLookups(key: string, secrets: readonly Uint8Array[]): string[] {
  const digest = createHash('sha256').update(key, 'utf8').digest('hex');
  return [
    ...secrets.map((secret) => legacyKeyLookup(key, secret)),
    LEGACY_LOOKUP_UNSALTED_PREFIX + digest.slice(0, LEGACY_KEY_ID_HEX_LENGTH),
  ];
}

/** A legacy key's display hint shows none of its characters: it may be short and human-chosen. */
export const LEGACY_KEY_DISPLAY_HINT = `${LEGACY_KEY_ID_PREFIX}…`;

/**
 * Refused as too guessable for a key that will keep working unchanged: fewer than 6 distinct
 * characters. The import answers such a row exactly like a key it cannot take for any other reason.
 */
export function isGuessableLegacyKey(key: string): boolean {
  return new Set(key).size < LEGACY_KEY_MIN_DISTINCT_CHARS;
}

/**
 * 16..512 printable ASCII characters. Values starting with an svcauth prefix are refused: they are
 * mistyped svcauth credentials, and falling back to a legacy lookup for them would waste a database
 * query and a bcrypt comparison on a value the checksum already rejected.
 */
export function isLegacyKeyShape(value: string): boolean {
  return (
    value.length >= LEGACY_KEY_MIN_LENGTH &&
    value.length <= LEGACY_KEY_MAX_LENGTH &&
    PRINTABLE_ASCII.test(value) &&
    !RESERVED_PREFIXES.some((prefix) => value.startsWith(prefix))
  );
}

// ---------------------------------------------------------------------------------------------------
// Display

/**
 * A non-secret hint that lets a person tell credentials apart: the type prefix, an ellipsis and the
 * last 4 characters, e.g. `svcak_…x9Qz`. It never reveals more than 4 characters of the secret part,
 * and none at all when that part is too short for 4 characters to be a small fraction of it.
 */
export function displayHint(secretOrKey: string): string {
  const prefix = [API_KEY_PREFIX, CLIENT_SECRET_PREFIX].find((p) => secretOrKey.startsWith(p)) ?? '';
  const secretPart = secretOrKey.slice(prefix.length);
  const visible = secretPart.length >= LEGACY_KEY_MIN_LENGTH ? secretPart.slice(-HINT_VISIBLE_CHARS) : '';
  return `${prefix}…${visible}`;
}
