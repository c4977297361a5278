import { describe, expect, it } from 'vitest';
import {
  type LockoutPolicy,
  lockoutDescription,
  lockoutRefusal,
  lockoutSubjects,
  reachesLimit,
  retryAfterSeconds,
} from '../../../src/domain/lockout.ts';

const policy: LockoutPolicy = {
  maxFailuresPerClient: 10,
  maxFailuresPerIp: 50,
  windowSeconds: 300,
  lockSeconds: 900,
};

describe('lockout decisions', () => {
  it('count a request under its client id and its source IP', () => {
    expect(lockoutSubjects('svcc_abc', '10.0.0.1')).toEqual([
      { kind: 'client', key: 'client:svcc_abc' },
      { kind: 'ip', key: 'ip:10.0.0.1' },
    ]);
    expect(lockoutSubjects(null, '::1')).toEqual([{ kind: 'ip', key: 'ip:::1' }]);
    expect(lockoutSubjects(null, null)).toEqual([]);
  });

  it('key odd or long client ids by a hash, so keys stay short and printable', () => {
    const [odd] = lockoutSubjects('with space\n', null);
    const [long] = lockoutSubjects('x'.repeat(500), null);
    expect(odd!.key).toMatch(/^client:sha256-[0-9a-f]{32}$/);
    expect(long!.key).toMatch(/^client:sha256-[0-9a-f]{32}$/);
    expect(odd!.key).not.toBe(long!.key);
  });

  it('lock a client id at its limit and an IP at its own, higher limit', () => {
    expect(reachesLimit('client', 9, policy)).toBe(false);
    expect(reachesLimit('client', 10, policy)).toBe(true);
    expect(reachesLimit('ip', 10, policy)).toBe(false);
    expect(reachesLimit('ip', 50, policy)).toBe(true);
  });

  it('refuse while a lock of the client id or the IP holds, with the longest remaining time', () => {
    const now = 1_000_000;
    const locks = new Map([
      ['client:svcc_a', now + 30_500],
      ['ip:10.0.0.1', now + 600_000],
      ['client:svcc_expired', now - 1],
    ]);
    expect(lockoutRefusal(locks, lockoutSubjects('svcc_a', '10.0.0.2'), now)).toEqual({
      subject: { kind: 'client', key: 'client:svcc_a' },
      retryAfterSeconds: 31,
    });
    expect(lockoutRefusal(locks, lockoutSubjects('svcc_a', '10.0.0.1'), now)?.retryAfterSeconds).toBe(600);
    expect(lockoutRefusal(locks, lockoutSubjects('svcc_b', '10.0.0.2'), now)).toBeNull();
    expect(lockoutRefusal(locks, lockoutSubjects('svcc_expired', null), now)).toBeNull();
  });

  it('never tells a caller to retry in zero seconds, and words every refusal the same way', () => {
    expect(retryAfterSeconds(1000, 999)).toBe(1);
    expect(retryAfterSeconds(1000, 2000)).toBe(1);
    expect(retryAfterSeconds(10_001, 0)).toBe(11);
    expect(lockoutDescription(42)).toBe('too many failed authentications; retry after 42 seconds');
  });
});
