import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyRing } from '../../../src/keys/key-ring.ts';
import { generateSigningKeys, rotateSigningKeys } from '../../../src/keys/signing-keys.ts';

let keysDir: string;
const logger = pino({ level: 'silent' });

beforeEach(() => {
  keysDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-key-ring-'));
});

afterEach(() => {
  fs.rmSync(keysDir, { recursive: true, force: true });
});

describe('KeyRing.schedule (remembered between calls)', () => {
  it('answers each instant as the key file says, whatever order the instants come in', async () => {
    const first = await generateSigningKeys(keysDir, 'ES256');
    const now = new Date();
    const { added } = await rotateSigningKeys(keysDir, 'ES256', { activateInSeconds: 60, now });
    const ring = await KeyRing.open(keysDir, { generateIfMissing: false, alg: 'ES256', logger });
    const beforeActivation = now;
    const afterActivation = new Date(now.getTime() + 61_000);
    const afterRetirement = new Date(now.getTime() + 10 * 3600_000);

    expect(ring.schedule(beforeActivation).signing.kid).toBe(first.kid);
    expect(ring.schedule(beforeActivation).published.map((k) => k.kid)).toEqual([first.kid, added.kid]);
    expect(ring.schedule(afterActivation).signing.kid).toBe(added.kid);
    // An earlier instant after a later one: the remembered schedule must not leak backwards.
    expect(ring.schedule(beforeActivation).signing.kid).toBe(first.kid);
    expect(ring.schedule(afterRetirement).published.map((k) => k.kid)).toEqual([added.kid]);
    expect(ring.schedule(afterActivation).published.map((k) => k.kid)).toEqual([first.kid, added.kid]);
    ring.close();
  });
});
