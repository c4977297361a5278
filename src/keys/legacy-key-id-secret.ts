import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.ts';

/** Where the generated secret lives when LEGACY_KEY_ID_SECRET is not set. */
export function legacyKeyIdSecretPath(keysDir: string): string {
  return path.join(keysDir, 'legacy-key-id.secret');
}

/**
 * The HMAC keys that find imported legacy keys, current first. LEGACY_KEY_ID_SECRET wins; without it a
 * random secret is generated once in KEYS_DIR, which every instance (and the CLI) already shares for
 * the signing keys. Kept out of the database on purpose: a database dump alone must not let anyone test
 * guesses against the lookup column at SHA-256 speed.
 */
export function loadLegacyKeyIdSecrets(config: Pick<Config, 'legacyKeyIdSecrets' | 'keysDir'>): Buffer[] {
  if (config.legacyKeyIdSecrets) return config.legacyKeyIdSecrets.map((s) => Buffer.from(s, 'utf8'));
  const file = legacyKeyIdSecretPath(config.keysDir);
  fs.mkdirSync(config.keysDir, { recursive: true });
  if (!fs.existsSync(file)) {
    // Written whole under a temporary name, then linked: of two processes starting at once, one
    // creates the file and the other reads it complete.
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(temporary, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    try {
      fs.linkSync(temporary, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(temporary, { force: true });
    }
  }
  const value = fs.readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(value)) {
    throw new Error(`${file} does not hold a 64-hex-digit secret; restore it, or set LEGACY_KEY_ID_SECRET`);
  }
  return [Buffer.from(value, 'utf8')];
}
