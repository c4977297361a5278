import { describe, expect, it } from 'vitest';
import {
  generateApiKey,
  generateClientSecret,
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  RESOURCE_SERVER_SECRET_PREFIX,
} from '../../../src/domain/credential-format.ts';
import {
  isSecretShaped,
  type LockoutPolicy,
  lockoutDescription,
  lockoutRefusal,
  lockoutSubjects,
  reachesLimit,
  retryAfterSeconds,
  SECRET_SHAPED_CLIENT_ID,
} from '../../../src/domain/lockout.ts';

const policy: LockoutPolicy = {
  maxFailuresPerClient: 10,
  maxFailuresPerIp: 50,
  windowSeconds: 300,
  lockSeconds: 900,
};
/** Stands in for the keyed digest: visible, so the test can read what was digested. */
const digest = (value: string) => `<${value.replaceAll('\0', '|')}>`;
const ip = (value: string) => ({ kind: 'ip', value }) as const;

describe('lockout decisions', () => {
  it('count a request under its (client id, source) pair and its source, through the digest only', () => {
    expect(lockoutSubjects('svcc_abc', ip('10.0.0.1'), digest)).toEqual([
      { kind: 'pair', key: 'pair:<ip|10.0.0.1|svcc_abc>' },
      { kind: 'source', key: 'source:<ip|10.0.0.1>' },
    ]);
    expect(lockoutSubjects(null, ip('::1'), digest)).toEqual([{ kind: 'source', key: 'source:<ip|::1>' }]);
    expect(lockoutSubjects(null, null, digest)).toEqual([]);
    // A resource server and an IP of the same spelling are different sources.
    const [, rs] = lockoutSubjects('k', { kind: 'resource_server', value: '10.0.0.1' }, digest);
    expect(rs!.key).toBe('source:<resource_server|10.0.0.1>');
  });

  it('never use a value shaped like a secret as an identifier', () => {
    const secrets = [
      generateClientSecret(),
      generateApiKey().key,
      generateDeploymentSecret(RESOURCE_SERVER_SECRET_PREFIX),
      // An operator secret pasted as the name at /platform/v1.
      generateDeploymentSecret(OPERATOR_SECRET_PREFIX),
    ];
    for (const secret of secrets) {
      expect(isSecretShaped(secret)).toBe(true);
      const [pair] = lockoutSubjects(secret, ip('10.0.0.1'), digest);
      expect(pair!.key).not.toContain(secret);
      expect(pair!.key).toContain(SECRET_SHAPED_CLIENT_ID);
    }
    // A mistyped secret (checksum off) is no secret, and client ids are not secrets.
    expect(isSecretShaped(`${secrets[0]!.slice(0, -1)}${secrets[0]!.endsWith('A') ? 'B' : 'A'}`)).toBe(false);
    expect(isSecretShaped('svcc_0000000000000000000000')).toBe(false);
  });

  it('lock a pair at the per-client limit and a source at its own, higher limit', () => {
    expect(reachesLimit('pair', 9, policy)).toBe(false);
    expect(reachesLimit('pair', 10, policy)).toBe(true);
    expect(reachesLimit('source', 10, policy)).toBe(false);
    expect(reachesLimit('source', 50, policy)).toBe(true);
  });

  it('refuse while a lock of the pair or the source holds, with the longest remaining time', () => {
    const now = 1_000_000;
    const subjects = (clientId: string | null, address: string) =>
      lockoutSubjects(clientId, ip(address), digest);
    const locks = new Map([
      [subjects('svcc_a', '10.0.0.2')[0]!.key, now + 30_500],
      [subjects(null, '10.0.0.1')[0]!.key, now + 600_000],
      [subjects('svcc_expired', '10.0.0.2')[0]!.key, now - 1],
    ]);
    expect(lockoutRefusal(locks, subjects('svcc_a', '10.0.0.2'), now)?.retryAfterSeconds).toBe(31);
    expect(lockoutRefusal(locks, subjects('svcc_a', '10.0.0.1'), now)?.retryAfterSeconds).toBe(600);
    // The same client id from another source is not locked.
    expect(lockoutRefusal(locks, subjects('svcc_a', '10.0.0.3'), now)).toBeNull();
    expect(lockoutRefusal(locks, subjects('svcc_expired', '10.0.0.2'), now)).toBeNull();
  });

  it('never tells a caller to retry in zero seconds, and words every refusal the same way', () => {
    expect(retryAfterSeconds(1000, 999)).toBe(1);
    expect(retryAfterSeconds(1000, 2000)).toBe(1);
    expect(retryAfterSeconds(10_001, 0)).toBe(11);
    expect(lockoutDescription(42)).toBe('too many failed authentications; retry after 42 seconds');
  });
});
