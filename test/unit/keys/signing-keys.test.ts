import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  generateSigningKeys,
  KeyFileError,
  MAX_TOKEN_LIFETIME_SECONDS,
  readSigningKeyFile,
  rotateSigningKeys,
  type SigningKeyFile,
  scheduleAt,
  signingKeysPath,
} from '../../../src/keys/signing-keys.ts';

const T0 = new Date('2025-06-01T00:00:00Z');
const CLOCK_SKEW_SECONDS = 60;
/** How long a key keeps being published after its successor starts signing. */
const RETIRE_AFTER_SECONDS = MAX_TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS;

function at(secondsAfterT0: number): Date {
  return new Date(T0.getTime() + secondsAfterT0 * 1000);
}

function kids(keys: Array<{ kid: string }>): string[] {
  return keys.map((k) => k.kid);
}

let keysDir: string;

beforeEach(() => {
  keysDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-keys-'));
});

afterEach(() => {
  fs.rmSync(keysDir, { recursive: true, force: true });
});

function file(): SigningKeyFile {
  return readSigningKeyFile(keysDir)!;
}

describe('generateSigningKeys', () => {
  it('writes one active ES256 key, owner-only, that signs from its creation', async () => {
    const key = await generateSigningKeys(keysDir, 'ES256', { now: T0 });
    expect(key.alg).toBe('ES256');
    expect(key.jwk).toMatchObject({ kty: 'EC', crv: 'P-256', kid: key.kid, alg: 'ES256', use: 'sig' });
    expect(key.jwk.d).toEqual(expect.any(String));
    expect(key.created_at).toBe(T0.toISOString());
    // Active from a minute before: see the next test.
    expect(key.activates_at).toBe(new Date(T0.getTime() - 60_000).toISOString());
    expect(key.retires_at).toBeNull();
    expect(fs.statSync(signingKeysPath(keysDir)).mode & 0o777).toBe(0o600);

    const schedule = scheduleAt(file(), T0);
    expect(kids(schedule.published)).toEqual([key.kid]);
    expect(schedule.signing.kid).toBe(key.kid);
    expect(schedule.nextChangeAt).toBeNull();
  });

  it('makes a first key that signs at once on an instance whose clock runs behind the writer', async () => {
    // The first key has no predecessor a verifier could still hold: nothing is gained by waiting for
    // it, and a replica 5 s behind the machine that ran "keys generate" must not fail every token.
    const key = await generateSigningKeys(keysDir, 'ES256', { now: T0 });
    expect(scheduleAt(file(), new Date(T0.getTime() - 5_000)).signing.kid).toBe(key.kid);
    expect(scheduleAt(file(), new Date(T0.getTime() - 60_000)).signing.kid).toBe(key.kid);
  });

  it('refuses to overwrite existing keys unless forced', async () => {
    const first = await generateSigningKeys(keysDir, 'ES256', { now: T0 });
    await expect(generateSigningKeys(keysDir, 'ES256', { now: T0 })).rejects.toThrow(KeyFileError);
    await expect(generateSigningKeys(keysDir, 'ES256', { now: T0 })).rejects.toThrow(/keys rotate/);
    expect(kids(file().keys)).toEqual([first.kid]);
    const forced = await generateSigningKeys(keysDir, 'ES256', { now: T0, force: true });
    expect(kids(file().keys)).toEqual([forced.kid]);
  });
});

describe('rotateSigningKeys and scheduleAt', () => {
  it('publishes the new key at once, signs with it from activation, drops the old one after the longest token lifetime', async () => {
    const old = await generateSigningKeys(keysDir, 'ES256', { now: T0 });
    const rotatedAt = at(1000);
    const { added, retiring, dropped } = await rotateSigningKeys(keysDir, 'ES256', {
      activateInSeconds: 30,
      now: rotatedAt,
    });
    expect(retiring).toEqual([old.kid]);
    expect(dropped).toEqual([]);
    expect(added.kid).not.toBe(old.kid);
    expect(added.created_at).toBe(rotatedAt.toISOString());
    expect(added.activates_at).toBe(at(1030).toISOString());
    expect(added.retires_at).toBeNull();

    const stored = file();
    const storedOld = stored.keys.find((k) => k.kid === old.kid)!;
    // retires_at = activation + longest token lifetime (3600 s) + clock skew (60 s)
    expect(storedOld.retires_at).toBe(at(1030 + 3600 + 60).toISOString());
    expect(RETIRE_AFTER_SECONDS).toBe(3660);

    // Published before it signs anything.
    const beforeActivation = scheduleAt(stored, rotatedAt);
    expect(kids(beforeActivation.published).sort()).toEqual([old.kid, added.kid].sort());
    expect(beforeActivation.signing.kid).toBe(old.kid);
    expect(beforeActivation.nextChangeAt).toEqual(at(1030));
    expect(scheduleAt(stored, new Date(at(1030).getTime() - 1)).signing.kid).toBe(old.kid);

    // Signs from its activation; the old key stays published for tokens it signed.
    const activated = scheduleAt(stored, at(1030));
    expect(activated.signing.kid).toBe(added.kid);
    expect(kids(activated.published).sort()).toEqual([old.kid, added.kid].sort());
    expect(activated.nextChangeAt).toEqual(at(1030 + 3660));

    const lastMoment = scheduleAt(stored, new Date(at(1030 + 3660).getTime() - 1));
    expect(kids(lastMoment.published).sort()).toEqual([old.kid, added.kid].sort());

    // Dropped after that.
    const afterRetirement = scheduleAt(stored, at(1030 + 3660));
    expect(kids(afterRetirement.published)).toEqual([added.kid]);
    expect(afterRetirement.signing.kid).toBe(added.kid);
    expect(afterRetirement.nextChangeAt).toBeNull();
  });

  it('removes retired keys from the file at the next rotation after their drop time', async () => {
    const first = await generateSigningKeys(keysDir, 'ES256', { now: T0 });
    const second = await rotateSigningKeys(keysDir, 'ES256', { activateInSeconds: 10, now: at(0) });
    // Before the first key's drop time: it is kept, with its retirement unchanged.
    const third = await rotateSigningKeys(keysDir, 'ES256', { activateInSeconds: 10, now: at(100) });
    expect(third.retiring).toEqual([second.added.kid]);
    expect(third.dropped).toEqual([]);
    const kept = file().keys.find((k) => k.kid === first.kid)!;
    expect(kept.retires_at).toBe(at(10 + 3660).toISOString());
    expect(file().keys.find((k) => k.kid === second.added.kid)!.retires_at).toBe(
      at(110 + 3660).toISOString(),
    );

    // After it: gone from the file.
    const fourth = await rotateSigningKeys(keysDir, 'ES256', { activateInSeconds: 10, now: at(10 + 3660) });
    expect(fourth.dropped).toEqual([first.kid]);
    expect(kids(file().keys)).toEqual([second.added.kid, third.added.kid, fourth.added.kid]);
  });

  it('a later rotation wins over an earlier one still pending, so no key signs after its retirement is scheduled', async () => {
    const original = await generateSigningKeys(keysDir, 'ES256', { now: T0 });
    // An operator schedules a key for in an hour, then changes their mind and rotates with a short delay.
    const slow = await rotateSigningKeys(keysDir, 'ES256', { activateInSeconds: 3600, now: at(0) });
    const fast = await rotateSigningKeys(keysDir, 'ES256', { activateInSeconds: 30, now: at(60) });
    const stored = file();
    expect(scheduleAt(stored, at(60)).signing.kid).toBe(original.kid);
    expect(scheduleAt(stored, at(90)).signing.kid).toBe(fast.added.kid);
    // The superseded key was scheduled to retire 3660 s after the fast key activated; it must never
    // become the signing key, or tokens it signs would outlive its presence in /jwks.
    const slowRetiresAt = Date.parse(stored.keys.find((k) => k.kid === slow.added.kid)!.retires_at!);
    expect(slowRetiresAt).toBe(at(90 + 3660).getTime());
    for (const t of [at(3000), at(3600), at(3700), new Date(slowRetiresAt - 1), at(86_400)]) {
      const schedule = scheduleAt(stored, t);
      expect(schedule.signing.kid).toBe(fast.added.kid);
    }
    // Whenever any key signs, it stays published for the longest token lifetime after.
    for (let s = 0; s < 200_000; s += 600) {
      const signer = scheduleAt(stored, at(s)).signing;
      const later = scheduleAt(stored, at(s + MAX_TOKEN_LIFETIME_SECONDS));
      expect(kids(later.published)).toContain(signer.kid);
    }
  });

  it('refuses to sign when every key activates in the future', async () => {
    const key = await generateSigningKeys(keysDir, 'ES256', { now: T0 });
    const future = { keys: [{ ...key, activates_at: at(10).toISOString() }] };
    expect(() => scheduleAt(future, T0)).toThrow(KeyFileError);
    expect(scheduleAt(future, at(10)).signing.kid).toBe(key.kid);
  });

  it('refuses to rotate when there is no key yet', async () => {
    await expect(rotateSigningKeys(keysDir, 'ES256', { activateInSeconds: 0, now: T0 })).rejects.toThrow(
      /keys generate/,
    );
  });

  it('activate-in 0 signs with the new key at once', async () => {
    await generateSigningKeys(keysDir, 'ES256', { now: T0 });
    const { added } = await rotateSigningKeys(keysDir, 'ES256', { activateInSeconds: 0, now: at(5) });
    expect(scheduleAt(file(), at(5)).signing.kid).toBe(added.kid);
  });
});

describe('readSigningKeyFile', () => {
  it('is null when there is no file', () => {
    expect(readSigningKeyFile(keysDir)).toBeNull();
  });

  it('refuses a file that is not JSON or holds no private keys, naming the file', () => {
    fs.writeFileSync(signingKeysPath(keysDir), '{ not json');
    expect(() => readSigningKeyFile(keysDir)).toThrow(KeyFileError);
    expect(() => readSigningKeyFile(keysDir)).toThrow(signingKeysPath(keysDir));
    fs.writeFileSync(signingKeysPath(keysDir), JSON.stringify({ keys: [{ kid: 'x', jwk: { kty: 'EC' } }] }));
    expect(() => readSigningKeyFile(keysDir)).toThrow(/private JWKs/);
  });
});
