import { describe, expect, it } from 'vitest';
import {
  entriesFromRecords,
  entryForChange,
  entryMember,
  formatCursor,
  parseCursor,
  REVOCATION_HORIZON_SECONDS,
  tokenEntry,
  untilAfter,
} from '../../../src/revocation/entries.ts';

const NOW_MS = Date.parse('2026-11-23T10:00:00.250Z');
const NOW_S = Math.ceil(NOW_MS / 1000);

describe('revocation feed entries', () => {
  it('keep a credential or account entry for the longest token lifetime plus a minute', () => {
    expect(REVOCATION_HORIZON_SECONDS).toBe(3660);
    expect(untilAfter(NOW_MS)).toBe(NOW_S + 3660);
  });

  it('come from revocations, permission version bumps and API switches, and from nothing else', () => {
    const base = { orgId: 'o1', accountId: 'a1', credentialId: 'c1', clientId: 'svcc_x' };
    expect(entryForChange({ type: 'credential', ...base, revoked: true }, NOW_MS)).toEqual({
      type: 'credential',
      client_id: 'svcc_x',
      org_id: 'o1',
      account_id: 'a1',
      until: NOW_S + 3660,
    });
    expect(entryForChange({ type: 'credential', ...base }, NOW_MS)).toBeNull();
    expect(entryForChange({ type: 'credential', ...base, revoked: false }, NOW_MS)).toBeNull();
    // A regenerated secret: the predecessor's tokens stop at the grace's end (here 10 minutes on).
    const graceEndsMs = NOW_MS + 600_000;
    expect(
      entryForChange(
        { type: 'credential', ...base, secretRetired: { oldestVersion: 2, effectiveAtMs: graceEndsMs } },
        NOW_MS,
      ),
    ).toEqual({
      type: 'secret',
      client_id: 'svcc_x',
      org_id: 'o1',
      account_id: 'a1',
      secret_version: 2,
      effective_at: Math.floor(graceEndsMs / 1000),
      until: untilAfter(graceEndsMs),
    });
    expect(
      entryForChange({ type: 'account', orgId: 'o1', accountId: 'a1', permissionsVersion: 7 }, NOW_MS),
    ).toEqual({
      type: 'account',
      account_id: 'a1',
      org_id: 'o1',
      permissions_version: 7,
      until: NOW_S + 3660,
    });
    expect(entryForChange({ type: 'account', orgId: 'o1', accountId: 'a1' }, NOW_MS)).toBeNull();
    expect(entryForChange({ type: 'organization', orgId: 'o1', apiEnabled: false }, NOW_MS)).toEqual({
      type: 'organization',
      org_id: 'o1',
      enabled: false,
      until: NOW_S + 3660,
    });
    expect(entryForChange({ type: 'organization', orgId: 'o1', apiEnabled: true }, NOW_MS)).toMatchObject({
      enabled: true,
    });
    expect(entryForChange({ type: 'organization', orgId: 'o1' }, NOW_MS)).toBeNull();
  });

  it('keep a revoked token until it expires', () => {
    expect(tokenEntry({ jti: 'j1', orgId: 'o1', expiresAt: 1_800_000_000 })).toEqual({
      type: 'token',
      jti: 'j1',
      org_id: 'o1',
      until: 1_800_000_000,
    });
  });

  it('are indexed so that a later entry replaces what it supersedes, and account versions coexist', () => {
    const off = entryForChange({ type: 'organization', orgId: 'o1', apiEnabled: false }, NOW_MS)!;
    const on = entryForChange({ type: 'organization', orgId: 'o1', apiEnabled: true }, NOW_MS)!;
    expect(entryMember(off)).toBe(entryMember(on));
    const v2 = entryForChange(
      { type: 'account', orgId: 'o1', accountId: 'a1', permissionsVersion: 2 },
      NOW_MS,
    )!;
    const v3 = entryForChange(
      { type: 'account', orgId: 'o1', accountId: 'a1', permissionsVersion: 3 },
      NOW_MS,
    )!;
    expect(entryMember(v2)).not.toBe(entryMember(v3));
    expect(entryMember(tokenEntry({ jti: 'j', orgId: 'o', expiresAt: 1 }))).toBe('token:j');
  });

  it('are rebuilt from the database with the same until, dropping what no longer matters', () => {
    const revokedAt = new Date(NOW_MS - 60_000);
    const entries = entriesFromRecords(
      {
        credentials: [
          { client_id: 'svcc_a', org_id: 'o1', account_id: 'a1', revoked_at: revokedAt },
          // Revoked more than the horizon ago: every token it obtained has expired.
          { client_id: 'svcc_old', org_id: 'o1', account_id: 'a1', revoked_at: new Date(NOW_MS - 3_700_000) },
        ],
        regeneratedSecrets: [
          // With a grace period: its predecessor's tokens stop when the grace ends.
          {
            client_id: 'svcc_graced',
            org_id: 'o1',
            account_id: 'a3',
            secret_version: 3,
            secret_changed_at: revokedAt,
            previous_secret_expires_at: new Date(NOW_MS + 30_000),
          },
          // Without one, long ago: nothing it retired can still be presented.
          {
            client_id: 'svcc_long_ago',
            org_id: 'o1',
            account_id: 'a3',
            secret_version: 2,
            secret_changed_at: new Date(NOW_MS - 3_700_000),
            previous_secret_expires_at: null,
          },
        ],
        accounts: [{ account_id: 'a2', org_id: 'o1', permissions_version: 4, changed_at: revokedAt }],
        disabledOrganizations: [{ org_id: 'o2' }],
        tokens: [{ jti: 'j1', org_id: 'o1', expires_at: new Date(NOW_MS + 120_000) }],
      },
      NOW_MS,
    );
    expect(entries).toEqual([
      {
        type: 'credential',
        client_id: 'svcc_a',
        org_id: 'o1',
        account_id: 'a1',
        until: untilAfter(revokedAt.getTime()),
      },
      {
        type: 'secret',
        client_id: 'svcc_graced',
        org_id: 'o1',
        account_id: 'a3',
        secret_version: 3,
        effective_at: Math.floor((NOW_MS + 30_000) / 1000),
        until: untilAfter(NOW_MS + 30_000),
      },
      {
        type: 'account',
        account_id: 'a2',
        org_id: 'o1',
        permissions_version: 4,
        until: untilAfter(revokedAt.getTime()),
      },
      { type: 'organization', org_id: 'o2', enabled: false, until: NOW_S + 3660 },
      { type: 'token', jti: 'j1', org_id: 'o1', until: Math.ceil((NOW_MS + 120_000) / 1000) },
    ]);
  });

  it('carry cursors of an epoch and a log position, and refuse anything else', () => {
    const cursor = formatCursor({ epoch: 'Ab3', position: '1700000000000-4' });
    expect(cursor).toBe('Ab3:1700000000000-4');
    expect(parseCursor(cursor)).toEqual({ epoch: 'Ab3', position: '1700000000000-4' });
    for (const bad of [
      null,
      undefined,
      '',
      'Ab3',
      'Ab3:',
      ':1-0',
      'Ab3:1',
      'A b:1-0',
      'Ab3:1-0:x',
      'Ab3:-1-0',
    ]) {
      expect(parseCursor(bad)).toBeNull();
    }
  });
});
