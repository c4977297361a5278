import { describe, expect, it } from 'vitest';
import { DomainError } from '../../../src/domain/errors.ts';
import {
  checkCredentialExpiry,
  checkCredentialQuota,
  type LiveLineageMember,
  liveCountAfterRotation,
  planRegeneration,
  planRotation,
  type RotationPlan,
} from '../../../src/domain/rotation.ts';

const NOW = new Date('2025-06-01T00:00:00Z');
const DAY = 86_400;

function at(secondsFromNow: number): Date {
  return new Date(NOW.getTime() + secondsFromNow * 1000);
}

/** Runs `fn`, expecting a DomainError, and returns it for further assertions. */
function domainErrorOf(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('expected a DomainError, nothing was thrown');
}

describe('planRotation', () => {
  const cases: Array<{ name: string; live: LiveLineageMember[]; rotated: string; expected: RotationPlan }> = [
    {
      name: 'lone primary: it becomes secondary, nothing revoked',
      live: [{ id: 'a', slot: 'primary' }],
      rotated: 'a',
      expected: { revoke: [], demoteToSecondary: 'a', promoted: null },
    },
    {
      name: 'primary and secondary: primary demoted, secondary revoked',
      live: [
        { id: 'b', slot: 'secondary' },
        { id: 'a', slot: 'primary' },
      ],
      rotated: 'a',
      expected: { revoke: ['b'], demoteToSecondary: 'a', promoted: null },
    },
    {
      name: 'several secondaries (broken lineage): all revoked',
      live: [
        { id: 'a', slot: 'primary' },
        { id: 'b', slot: 'secondary' },
        { id: 'c', slot: 'secondary' },
      ],
      rotated: 'a',
      expected: { revoke: ['b', 'c'], demoteToSecondary: 'a', promoted: null },
    },
    {
      name: 'lone secondary (its primary revoked): promoted, then kept as the secondary',
      live: [{ id: 'b', slot: 'secondary' }],
      rotated: 'b',
      expected: { revoke: [], demoteToSecondary: 'b', promoted: 'b' },
    },
  ];
  it.each(cases)('$name', ({ live, rotated, expected }) => {
    expect(planRotation(live, rotated)).toEqual(expected);
  });

  it('never revokes the credential it demotes, nor the one it was asked to rotate', () => {
    for (const [live, rotated] of [
      [
        [
          { id: 'a', slot: 'primary' },
          { id: 'b', slot: 'secondary' },
        ],
        'a',
      ],
      [[{ id: 'b', slot: 'secondary' }], 'b'],
    ] as Array<[LiveLineageMember[], string]>) {
      const plan = planRotation(live, rotated);
      expect(plan.revoke).not.toContain(plan.demoteToSecondary);
      expect(plan.revoke).not.toContain(rotated);
    }
  });

  it('refuses to rotate a secondary while its primary is live, naming the primary', () => {
    const error = domainErrorOf(() =>
      planRotation(
        [
          { id: 'a', slot: 'primary' },
          { id: 'b', slot: 'secondary' },
        ],
        'b',
      ),
    );
    expect(error.code).toBe('rotate_the_primary');
    expect(error.message).toMatch(/Rotate the primary a instead/);
    expect(error.details).toEqual({ primary_credential_id: 'a' });
  });

  it('refuses a lineage with nothing live to rotate', () => {
    const error = domainErrorOf(() => planRotation([], 'a'));
    expect(error.code).toBe('no_live_primary');
    expect(error.message).toMatch(/no live primary/);
  });

  it('refuses a lineage with two live primaries, naming them', () => {
    const error = domainErrorOf(() =>
      planRotation(
        [
          { id: 'a', slot: 'primary' },
          { id: 'c', slot: 'primary' },
        ],
        'a',
      ),
    );
    expect(error.code).toBe('multiple_live_primaries');
    expect(error.message).toMatch(/revoke all but one/);
    expect(error.details).toEqual({ primaryIds: ['a', 'c'] });
  });
});

describe('planRegeneration', () => {
  it('without grace, the previous secret stops working at once', () => {
    expect(planRegeneration({ now: NOW, graceSeconds: 0, maxGraceSeconds: DAY })).toEqual({
      previousSecretValidUntil: null,
    });
  });

  it.each([1, 3600, DAY])(
    'with %i seconds of grace, the previous secret works until now + grace',
    (grace) => {
      expect(planRegeneration({ now: NOW, graceSeconds: grace, maxGraceSeconds: DAY })).toEqual({
        previousSecretValidUntil: at(grace),
      });
    },
  );

  it('refuses grace above the maximum', () => {
    const error = domainErrorOf(() =>
      planRegeneration({ now: NOW, graceSeconds: DAY + 1, maxGraceSeconds: DAY }),
    );
    expect(error.code).toBe('grace_too_long');
    expect(error.message).toContain('at most 1 day');
    expect(error.details).toEqual({ graceSeconds: DAY + 1, maxGraceSeconds: DAY });
  });

  it('refuses any grace when the maximum is 0', () => {
    expect(
      domainErrorOf(() => planRegeneration({ now: NOW, graceSeconds: 1, maxGraceSeconds: 0 })).code,
    ).toBe('grace_too_long');
    expect(
      planRegeneration({ now: NOW, graceSeconds: 0, maxGraceSeconds: 0 }).previousSecretValidUntil,
    ).toBeNull();
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses a grace of %s', (grace) => {
    expect(
      domainErrorOf(() => planRegeneration({ now: NOW, graceSeconds: grace, maxGraceSeconds: DAY })).code,
    ).toBe('grace_invalid');
  });
});

describe('checkCredentialExpiry', () => {
  const accepted: Array<{
    name: string;
    requested: Date | null;
    max: number | null;
    expected: Date | null;
  }> = [
    { name: 'no maximum, none requested: never expires', requested: null, max: null, expected: null },
    {
      name: 'maximum, none requested: expires at the maximum',
      requested: null,
      max: 365 * DAY,
      expected: at(365 * DAY),
    },
    {
      name: 'no maximum, requested far away',
      requested: at(3650 * DAY),
      max: null,
      expected: at(3650 * DAY),
    },
    { name: 'within the maximum', requested: at(30 * DAY), max: 365 * DAY, expected: at(30 * DAY) },
    { name: 'exactly at the maximum', requested: at(365 * DAY), max: 365 * DAY, expected: at(365 * DAY) },
    { name: 'one second from now', requested: at(1), max: 365 * DAY, expected: at(1) },
  ];
  it.each(accepted)('$name', ({ requested, max, expected }) => {
    expect(
      checkCredentialExpiry({ now: NOW, requestedExpiresAt: requested, maxLifetimeSeconds: max }),
    ).toEqual(expected);
  });

  it.each([
    ['in the past', at(-DAY), null],
    ['exactly now', NOW, null],
    ['in the past, with a maximum', at(-1), 365 * DAY],
  ] as Array<[string, Date, number | null]>)('refuses an expiry %s', (_name, requested, max) => {
    const error = domainErrorOf(() =>
      checkCredentialExpiry({ now: NOW, requestedExpiresAt: requested, maxLifetimeSeconds: max }),
    );
    expect(error.code).toBe('expiry_in_past');
    expect(error.message).toMatch(/not in the future/);
  });

  it('refuses an expiry beyond the maximum, saying how far and what is allowed', () => {
    const error = domainErrorOf(() =>
      checkCredentialExpiry({ now: NOW, requestedExpiresAt: at(400 * DAY), maxLifetimeSeconds: 365 * DAY }),
    );
    expect(error.code).toBe('expiry_too_far');
    expect(error.message).toBe(
      'expires_at is 400 days away; this organization allows at most 365 days (no later than 2026-06-01T00:00:00.000Z)',
    );
    expect(error.details).toMatchObject({
      latestAllowed: '2026-06-01T00:00:00.000Z',
      maxLifetimeSeconds: 365 * DAY,
    });
  });

  it('refuses one second beyond the maximum', () => {
    expect(
      domainErrorOf(() =>
        checkCredentialExpiry({ now: NOW, requestedExpiresAt: at(DAY + 1), maxLifetimeSeconds: DAY }),
      ).code,
    ).toBe('expiry_too_far');
  });

  it('formats short maximums in smaller units', () => {
    const error = domainErrorOf(() =>
      checkCredentialExpiry({ now: NOW, requestedExpiresAt: at(5400), maxLifetimeSeconds: 3600 }),
    );
    expect(error.message).toMatch(/^expires_at is 1.5 hours away; this organization allows at most 1 hour /);
  });

  it('refuses an invalid date', () => {
    expect(
      domainErrorOf(() =>
        checkCredentialExpiry({ now: NOW, requestedExpiresAt: new Date('nope'), maxLifetimeSeconds: null }),
      ).code,
    ).toBe('expiry_invalid');
  });
});

describe('checkCredentialQuota', () => {
  it.each([
    [0, 1],
    [4, 5],
    [100, null],
  ] as Array<[number, number | null]>)('allows one more with %i live of max %s', (live, max) => {
    expect(() => checkCredentialQuota(live, max)).not.toThrow();
  });

  it.each([
    [1, 1],
    [5, 5],
    [7, 5],
    [0, 0],
  ])('refuses with %i live of max %i', (live, max) => {
    const error = domainErrorOf(() => checkCredentialQuota(live, max));
    expect(error.code).toBe('credential_limit_reached');
    expect(error.message).toContain(`allows at most ${max}`);
    expect(error.details).toEqual({ liveCount: live, max });
  });
});

describe('liveCountAfterRotation', () => {
  it('does not count the secondary the rotation revokes, so a full lineage can rotate at the limit', () => {
    const plan = planRotation(
      [
        { id: 'a', slot: 'primary' },
        { id: 'b', slot: 'secondary' },
      ],
      'a',
    );
    const live = 2;
    expect(() => checkCredentialQuota(live, 2)).toThrow(DomainError);
    expect(liveCountAfterRotation(live, plan)).toBe(1);
    expect(() => checkCredentialQuota(liveCountAfterRotation(live, plan), 2)).not.toThrow();
  });

  it('refuses to rotate a lone primary at the limit: the old primary stays live as secondary', () => {
    const plan = planRotation([{ id: 'a', slot: 'primary' }], 'a');
    expect(liveCountAfterRotation(1, plan)).toBe(1);
    expect(() => checkCredentialQuota(liveCountAfterRotation(1, plan), 1)).toThrow(DomainError);
    expect(() => checkCredentialQuota(liveCountAfterRotation(1, plan), 2)).not.toThrow();
  });

  it('counts credentials of other lineages of the account', () => {
    const plan = planRotation(
      [
        { id: 'a', slot: 'primary' },
        { id: 'b', slot: 'secondary' },
      ],
      'a',
    );
    expect(liveCountAfterRotation(5, plan)).toBe(4);
  });
});
