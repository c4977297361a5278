import { describe, expect, it } from 'vitest';
import { SecretVerifier } from '../../../src/oauth/secret-verification.ts';
import { SecretHasher } from '../../../src/keys/secret-hasher.ts';

const hasher = new SecretHasher(10);

describe('SecretVerifier', () => {
  it('runs bcrypt once per credential and secret, then answers from memory', async () => {
    const verifier = new SecretVerifier(hasher);
    const hash = await hasher.hash('correct horse');
    expect(await verifier.verify('c1', 'correct horse', hash)).toBe(true);
    expect(verifier.stats).toMatchObject({ misses: 1, size: 1 });
    expect(await verifier.verify('c1', 'correct horse', hash)).toBe(true);
    expect(await verifier.verify('c1', 'wrong horse', hash)).toBe(false);
    expect(verifier.stats).toMatchObject({ hits: 2, size: 1 });
  });

  it('never confuses a regenerated secret with the old one', async () => {
    const verifier = new SecretVerifier(hasher);
    const oldHash = await hasher.hash('old secret');
    const newHash = await hasher.hash('new secret');
    expect(await verifier.verify('c1', 'old secret', oldHash)).toBe(true);
    expect(await verifier.verify('c1', 'old secret', newHash)).toBe(false);
    expect(await verifier.verify('c1', 'new secret', newHash)).toBe(true);
  });

  it('does not cache a failed comparison, and forgets a credential on request', async () => {
    const verifier = new SecretVerifier(hasher);
    const hash = await hasher.hash('s3cret');
    expect(await verifier.verify('c1', 'nope', hash)).toBe(false);
    expect(verifier.stats.size).toBe(0);
    expect(await verifier.verify('c1', 's3cret', hash)).toBe(true);
    void verifier.forget('c1');
    expect(verifier.stats.size).toBe(0);
  });
});

describe('SecretHasher', () => {
  it('checks every byte of secrets longer than bcrypt’s 72-byte window', async () => {
    const base = 'k'.repeat(80);
    const hash = await hasher.hash(`${base}A`);
    expect(await hasher.verify(`${base}A`, hash)).toBe(true);
    expect(await hasher.verify(`${base}B`, hash)).toBe(false);
  });
});
