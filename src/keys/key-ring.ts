import fs from 'node:fs';
import { createLocalJWKSet, type JWK } from 'jose';
import type { Logger } from 'pino';
import type { SigningAlg } from '../config/index.ts';
import {
  generateSigningKeys,
  JWKS_MAX_AGE_SECONDS,
  KeyFileError,
  type KeySchedule,
  readSigningKeyFile,
  type SigningKeyFile,
  scheduleAt,
  signingKeysPath,
} from './signing-keys.ts';

/** How often instances look at the shared key file; rotation waits longer than this before signing. */
export const KEY_FILE_POLL_MS = 2000;

/**
 * How long a rotated-in key is published before it signs (CLI and platform API): longer than two polls
 * of the key file, so every instance publishes a key before any signs with it, and than the /jwks
 * cache lifetime (plus slack for clocks and in-flight fetches), so a resource server that fetched the
 * set just before the rotation has fetched it again before it meets the new key.
 */
export const DEFAULT_ACTIVATE_IN_SECONDS = Math.max(
  JWKS_MAX_AGE_SECONDS + 10,
  Math.ceil((KEY_FILE_POLL_MS * 3) / 1000),
);

/**
 * The signing keys as this instance sees them, kept current with the shared key file. Listeners hear
 * when the published set changes (a rotation added a key, or a retired key passed its drop time).
 */
export class KeyRing {
  readonly #keysDir: string;
  readonly #logger: Logger;
  #file: SigningKeyFile;
  #publishedKids: string;
  #listeners = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  #watching = false;
  #verificationKeys: { kids: string; keySet: ReturnType<typeof createLocalJWKSet> } | undefined;
  /** The last schedule worked out, valid from `from` until its nextChangeAt for this key file. */
  #lastSchedule: { file: SigningKeyFile; from: number; schedule: KeySchedule } | undefined;

  private constructor(keysDir: string, file: SigningKeyFile, logger: Logger) {
    this.#keysDir = keysDir;
    this.#file = file;
    this.#logger = logger;
    scheduleAt(file, new Date()); // fail at start, not at the first token, if no key can sign
    this.#publishedKids = this.#publishedKey();
  }

  static async open(
    keysDir: string,
    options: { generateIfMissing: boolean; alg: SigningAlg; logger: Logger },
  ): Promise<KeyRing> {
    let file = readSigningKeyFile(keysDir);
    if (!file || file.keys.length === 0) {
      if (!options.generateIfMissing) {
        throw new KeyFileError(
          `no signing keys in ${signingKeysPath(keysDir)}; run "svcauth keys generate" (with the same KEYS_DIR) first`,
        );
      }
      const key = await generateSigningKeys(keysDir, options.alg);
      options.logger.info({ kid: key.kid, alg: key.alg, keysDir }, 'generated a signing key on first start');
      file = readSigningKeyFile(keysDir)!;
    }
    return new KeyRing(keysDir, file, options.logger);
  }

  /** Asked on every token request, so worked out again only when the file or the time calls for it. */
  schedule(now: Date = new Date()): KeySchedule {
    const t = now.getTime();
    const last = this.#lastSchedule;
    if (
      last?.file === this.#file &&
      t >= last.from &&
      (last.schedule.nextChangeAt === null || t < last.schedule.nextChangeAt.getTime())
    ) {
      return last.schedule;
    }
    const schedule = scheduleAt(this.#file, now);
    this.#lastSchedule = { file: this.#file, from: t, schedule };
    return schedule;
  }

  /** The published keys' public halves (the key file holds private JWKs): what /jwks serves. */
  publicJwks(now: Date = new Date()): JWK[] {
    return this.schedule(now).published.map(({ jwk }) => {
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
      return publicJwk;
    });
  }

  /** A jose key set over the published public keys, rebuilt only when the published set changes. */
  verificationKeys(): ReturnType<typeof createLocalJWKSet> {
    const published = this.schedule().published;
    const kids = published.map((k) => k.kid).join(',');
    if (this.#verificationKeys?.kids !== kids) {
      this.#verificationKeys = { kids, keySet: createLocalJWKSet({ keys: this.publicJwks() }) };
    }
    return this.#verificationKeys.keySet;
  }

  /** Starts following the key file and the keys' own schedule. */
  watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    fs.watchFile(signingKeysPath(this.#keysDir), { interval: KEY_FILE_POLL_MS, persistent: false }, () =>
      this.#reload(),
    );
    this.#armTimer();
  }

  onPublishedChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    if (this.#watching) fs.unwatchFile(signingKeysPath(this.#keysDir));
    this.#watching = false;
    clearTimeout(this.#timer);
  }

  #reload(): void {
    try {
      const file = readSigningKeyFile(this.#keysDir);
      if (!file) return;
      scheduleAt(file, new Date());
      this.#file = file;
    } catch (error) {
      // Keep serving with the keys we have: a half-edited or broken file must not take the server down.
      this.#logger.error(
        { err: error },
        'ignoring unreadable signing key file; still using the previous keys',
      );
      return;
    }
    this.#notifyIfChanged();
    this.#armTimer();
  }

  #armTimer(): void {
    clearTimeout(this.#timer);
    const next = scheduleAt(this.#file, new Date()).nextChangeAt;
    if (!next || !this.#watching) return;
    // setTimeout caps at ~24.8 days; re-arming on wake-up covers longer waits.
    const delay = Math.min(Math.max(next.getTime() - Date.now(), 0) + 10, 2 ** 31 - 1);
    this.#timer = setTimeout(() => {
      this.#notifyIfChanged();
      this.#armTimer();
    }, delay);
    this.#timer.unref();
  }

  #publishedKey(): string {
    return scheduleAt(this.#file, new Date())
      .published.map((k) => k.kid)
      .sort()
      .join(',');
  }

  #notifyIfChanged(): void {
    const now = this.#publishedKey();
    if (now === this.#publishedKids) return;
    this.#publishedKids = now;
    this.#logger.info({ kids: now.split(',') }, 'published signing keys changed');
    for (const listener of this.#listeners) listener();
  }
}
