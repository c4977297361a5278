import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { SigningAlg } from '../config/index.ts';

/**
 * Signing keys live in one file, KEYS_DIR/signing-keys.json, that every instance reads. Each key
 * carries its own schedule, so instances sharing the file agree on which key signs at any moment
 * without talking to each other:
 *   published (in /jwks)  from the moment it is written,
 *   signing               from activates_at (later than publication, so verifiers can learn it first)
 *                         until a newer key (a later rotation) activates,
 *   dropped               after retires_at (set when a newer key takes over, beyond the longest token lifetime).
 */
export interface StoredSigningKey {
  kid: string;
  alg: SigningAlg;
  /** Private JWK. */
  jwk: JWK;
  created_at: string;
  activates_at: string;
  retires_at: string | null;
}

export interface SigningKeyFile {
  keys: StoredSigningKey[];
}

export const SIGNING_KEYS_FILE = 'signing-keys.json';

/** The longest access-token lifetime any organization may configure, plus clock skew. */
export const MAX_TOKEN_LIFETIME_SECONDS = 3600;
const CLOCK_SKEW_SECONDS = 60;

export class KeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFileError';
  }
}

export function signingKeysPath(keysDir: string): string {
  return path.join(keysDir, SIGNING_KEYS_FILE);
}

export async function createSigningKey(
  alg: SigningAlg,
  now: Date,
  activatesAt: Date = now,
): Promise<StoredSigningKey> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return {
    kid,
    alg,
    jwk: { ...jwk, kid, alg, use: 'sig' },
    created_at: now.toISOString(),
    activates_at: activatesAt.toISOString(),
    retires_at: null,
  };
}

/**
 * How long a fetched /jwks may be reused (its Cache-Control max-age). A rotated key must not sign
 * before every copy of the set without it has expired (see the CLI's default --activate-in).
 */
export const JWKS_MAX_AGE_SECONDS = 60;

export function readSigningKeyFile(keysDir: string): SigningKeyFile | null {
  const file = signingKeysPath(keysDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KeyFileError(
      `${file} is not valid JSON; restore it from backup or run "svcauth keys generate --force"`,
    );
  }
  if (
    !parsed ||
    typeof parsed !== 'object' ||
    !Array.isArray((parsed as SigningKeyFile).keys) ||
    !(parsed as SigningKeyFile).keys.every(
      (k) => typeof k?.kid === 'string' && typeof k.jwk === 'object' && k.jwk?.d,
    )
  ) {
    throw new KeyFileError(
      `${file} does not hold svcauth signing keys (expected {"keys": [...]} with private JWKs)`,
    );
  }
  return parsed as SigningKeyFile;
}

/** Writes atomically (temp file + rename) with owner-only permissions: readers never see half a file. */
export function writeSigningKeyFile(keysDir: string, contents: SigningKeyFile): void {
  fs.mkdirSync(keysDir, { recursive: true });
  const file = signingKeysPath(keysDir);
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(temp, file);
}

/** `svcauth keys generate`: the first key set. Refuses to overwrite keys unless forced. */
export async function generateSigningKeys(
  keysDir: string,
  alg: SigningAlg,
  options: { force?: boolean; now?: Date } = {},
): Promise<StoredSigningKey> {
  const existing = readSigningKeyFile(keysDir);
  if (existing && existing.keys.length > 0 && !options.force) {
    throw new KeyFileError(
      `${signingKeysPath(keysDir)} already holds signing keys; use "svcauth keys rotate" to replace them without ` +
        'invalidating issued tokens, or --force to discard them',
    );
  }
  const now = options.now ?? new Date();
  // A first key has no predecessor that verifiers could still hold, so nothing is gained by waiting for
  // it: it signs at once on every instance, one whose clock runs up to CLOCK_SKEW_SECONDS behind the
  // machine that wrote it included (otherwise such an instance would fail every token until then).
  const key = await createSigningKey(alg, now, new Date(now.getTime() - CLOCK_SKEW_SECONDS * 1000));
  writeSigningKeyFile(keysDir, { keys: [key] });
  return key;
}

/**
 * `svcauth keys rotate`: publishes a new key now, makes it sign from `activateInSeconds` on, schedules
 * every older key for removal once the last token it signed has expired, and drops keys past that point.
 */
export async function rotateSigningKeys(
  keysDir: string,
  alg: SigningAlg,
  options: { activateInSeconds: number; now?: Date },
): Promise<{ added: StoredSigningKey; retiring: string[]; dropped: string[] }> {
  const now = options.now ?? new Date();
  const existing = readSigningKeyFile(keysDir);
  if (!existing || existing.keys.length === 0) {
    throw new KeyFileError(
      `no signing keys in ${signingKeysPath(keysDir)}; run "svcauth keys generate" first`,
    );
  }
  const activatesAt = new Date(now.getTime() + options.activateInSeconds * 1000);
  const added = await createSigningKey(alg, now, activatesAt);
  const retiresAt = new Date(
    activatesAt.getTime() + (MAX_TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) * 1000,
  );
  const dropped: string[] = [];
  const retiring: string[] = [];
  const kept: StoredSigningKey[] = [];
  for (const key of existing.keys) {
    if (key.retires_at && Date.parse(key.retires_at) <= now.getTime()) {
      dropped.push(key.kid);
      continue;
    }
    if (!key.retires_at) {
      retiring.push(key.kid);
      kept.push({ ...key, retires_at: retiresAt.toISOString() });
    } else {
      kept.push(key);
    }
  }
  writeSigningKeyFile(keysDir, { keys: [...kept, added] });
  return { added, retiring, dropped };
}

/** What the keys say at one instant: which are published and which one signs. */
export interface KeySchedule {
  published: StoredSigningKey[];
  signing: StoredSigningKey;
  /** When the schedule next changes (a key activates or retires), for re-evaluation. */
  nextChangeAt: Date | null;
}

export function scheduleAt(file: SigningKeyFile, now: Date): KeySchedule {
  const t = now.getTime();
  const published = file.keys.filter((k) => !k.retires_at || Date.parse(k.retires_at) > t);
  // The newest active key signs (latest created_at; later in the file on a tie). Ordering by activation
  // instead would let a key superseded while still pending take over when its own time came, although
  // the later rotation scheduled its removal from /jwks for 3660 s after the newer key's activation.
  const active = published
    .map((k, index) => ({ k, index }))
    .filter(({ k }) => Date.parse(k.activates_at) <= t)
    .sort((a, b) => Date.parse(b.k.created_at) - Date.parse(a.k.created_at) || b.index - a.index);
  const signing = active[0]?.k;
  if (!signing) {
    throw new KeyFileError('no signing key is active yet: every key in the key file activates in the future');
  }
  const upcoming = file.keys
    .flatMap((k) => [Date.parse(k.activates_at), k.retires_at ? Date.parse(k.retires_at) : Number.NaN])
    .filter((time) => time > t)
    .sort((a, b) => a - b);
  return { published, signing, nextChangeAt: upcoming[0] !== undefined ? new Date(upcoming[0]) : null };
}
