import { describe, expect, it } from 'vitest';
import {
  parseEntry,
  RevocationState,
  type TokenFacts,
} from '../../../src/resource-server/revocation-state.ts';

const T0 = 1_800_000_000_000; // ms
const at = (seconds: number) => T0 + seconds * 1000;
const until = (seconds: number) => T0 / 1000 + seconds;

const token: TokenFacts = {
  clientId: 'svcc_a',
  accountId: 'account-1',
  orgId: 'org-1',
  tokenId: 'jti-1',
  permissionsVersion: 3,
  secretVersion: null,
};

function fresh(): RevocationState {
  const state = new RevocationState({ clockToleranceSeconds: 5 });
  state.replace({ cursor: 'c0', generated_at: until(0), entries: [] }, at(0));
  return state;
}

describe('RevocationState', () => {
  it('refuses tokens of a regenerated secret from the grace period’s end on, and newer secrets’ never', () => {
    const state = fresh();
    const secret = (version: number, effectiveAt: number) => ({
      type: 'secret',
      client_id: 'svcc_a',
      org_id: 'org-1',
      account_id: 'account-1',
      secret_version: version,
      effective_at: until(effectiveAt),
      until: until(effectiveAt + 3660),
    });
    expect(state.apply(secret(2, 30), 'c1', at(0))).toMatchObject({ type: 'secret', secret_version: 2 });
    // During the grace period the old secret's tokens (no claim: version 1) are still good.
    expect(state.refusalFor(token, at(29))).toBeNull();
    expect(state.refusalFor(token, at(30))).toBe('secret_regenerated');
    expect(state.refusalFor({ ...token, secretVersion: 1 }, at(31))).toBe('secret_regenerated');
    expect(state.refusalFor({ ...token, secretVersion: 2 }, at(31))).toBeNull();
    expect(state.refusalFor({ ...token, clientId: 'svcc_b' }, at(31))).toBeNull();
    // A second regeneration during the first's grace: version 1 still stops at the first's end.
    state.apply(secret(3, 60), 'c2', at(10));
    expect(state.refusalFor({ ...token, secretVersion: 1 }, at(30))).toBe('secret_regenerated');
    expect(state.refusalFor({ ...token, secretVersion: 2 }, at(59))).toBeNull();
    expect(state.refusalFor({ ...token, secretVersion: 2 }, at(60))).toBe('secret_regenerated');
    // Malformed entries are ignored.
    expect(parseEntry({ ...secret(2, 0), secret_version: '2' })).toBeNull();
    expect(parseEntry({ ...secret(2, 0), effective_at: undefined })).toBeNull();
    // Forgotten once no token it covers can still be presented.
    state.prune(at(60 + 3660 + 6));
    expect(state.refusalFor({ ...token, secretVersion: 1 }, at(60 + 3660 + 6))).toBeNull();
  });

  it('knows nothing before a snapshot, then takes the snapshot cursor', () => {
    const state = new RevocationState({ clockToleranceSeconds: 5 });
    expect(state.initialized).toBe(false);
    expect(state.cursor).toBeNull();
    state.replace({ cursor: 'c7', entries: [] }, at(0));
    expect(state.initialized).toBe(true);
    expect(state.cursor).toBe('c7');
  });

  it('applies snapshot entries of every type', () => {
    const state = new RevocationState({ clockToleranceSeconds: 5 });
    state.replace(
      {
        cursor: 'c1',
        entries: [
          {
            type: 'credential',
            client_id: 'svcc_a',
            org_id: 'org-1',
            account_id: 'account-1',
            until: until(60),
          },
          { type: 'token', jti: 'jti-2', org_id: 'org-1', until: until(60) },
          {
            type: 'account',
            account_id: 'account-9',
            org_id: 'org-1',
            permissions_version: 4,
            until: until(60),
          },
          { type: 'organization', org_id: 'org-off', enabled: false, until: until(60) },
        ],
      },
      at(0),
    );
    expect(state.size).toBe(4);
    expect(state.refusalFor(token, at(1))).toBe('credential_revoked');
    expect(state.refusalFor({ ...token, clientId: 'svcc_b', tokenId: 'jti-2' }, at(1))).toBe('token_revoked');
    expect(state.refusalFor({ ...token, clientId: 'svcc_b', accountId: 'account-9' }, at(1))).toBe(
      'permissions_changed',
    );
    expect(state.refusalFor({ ...token, clientId: 'svcc_b', orgId: 'org-off' }, at(1))).toBe(
      'organization_disabled',
    );
    expect(state.refusalFor({ ...token, clientId: 'svcc_b' }, at(1))).toBeNull();
  });

  it('applies events and advances the cursor', () => {
    const state = fresh();
    const entry = state.apply(
      { type: 'token', jti: 'jti-1', org_id: 'org-1', until: until(60) },
      'c1',
      at(1),
    );
    expect(entry).toMatchObject({ type: 'token', jti: 'jti-1' });
    expect(state.cursor).toBe('c1');
    expect(state.refusalFor(token, at(2))).toBe('token_revoked');
  });

  it('refuses only tokens older than the account permissions_version, keeping the newest version', () => {
    const state = fresh();
    const account = (version: number, seconds: number) => ({
      type: 'account',
      account_id: 'account-1',
      org_id: 'org-1',
      permissions_version: version,
      until: until(seconds),
    });
    state.apply(account(5, 300), 'c1', at(0));
    state.apply(account(4, 600), 'c2', at(0));
    expect(state.refusalFor({ ...token, permissionsVersion: 4 }, at(1))).toBe('permissions_changed');
    expect(state.refusalFor({ ...token, permissionsVersion: 5 }, at(1))).toBeNull();
    expect(state.refusalFor({ ...token, permissionsVersion: null }, at(1))).toBe('permissions_changed');
    // The longest `until` of the two is kept.
    expect(state.refusalFor({ ...token, permissionsVersion: 4 }, at(500))).toBe('permissions_changed');
  });

  it('lifts an organization entry with enabled: true', () => {
    const state = fresh();
    state.apply({ type: 'organization', org_id: 'org-1', enabled: false, until: until(300) }, 'c1', at(0));
    expect(state.refusalFor(token, at(1))).toBe('organization_disabled');
    state.apply({ type: 'organization', org_id: 'org-1', enabled: true, until: until(300) }, 'c2', at(2));
    expect(state.refusalFor(token, at(3))).toBeNull();
    expect(state.cursor).toBe('c2');
  });

  it('lets entries lapse after until plus the clock tolerance, and prunes them', () => {
    const state = fresh();
    state.apply({ type: 'token', jti: 'jti-1', org_id: 'org-1', until: until(60) }, 'c1', at(0));
    expect(state.refusalFor(token, at(64))).toBe('token_revoked');
    expect(state.refusalFor(token, at(66))).toBeNull();
    expect(state.size).toBe(1);
    state.prune(at(66));
    expect(state.size).toBe(0);
  });

  it('ignores events that are already over, of unknown types, or malformed, but keeps their cursor', () => {
    const state = fresh();
    expect(
      state.apply({ type: 'token', jti: 'old', org_id: 'org-1', until: until(-60) }, 'c1', at(0)),
    ).toBeNull();
    expect(
      state.apply({ type: 'session', id: 'x', org_id: 'org-1', until: until(60) }, 'c2', at(0)),
    ).toBeNull();
    expect(state.apply({ type: 'token', org_id: 'org-1', until: until(60) }, 'c3', at(0))).toBeNull();
    expect(state.apply('nonsense', 'c4', at(0))).toBeNull();
    expect(state.size).toBe(0);
    expect(state.cursor).toBe('c4');
  });

  it('a new snapshot replaces everything (resync)', () => {
    const state = fresh();
    state.apply({ type: 'token', jti: 'jti-1', org_id: 'org-1', until: until(60) }, 'c1', at(0));
    state.replace(
      {
        cursor: 'c9',
        entries: [
          { type: 'credential', client_id: 'svcc_z', org_id: 'org-1', account_id: 'a', until: until(60) },
        ],
      },
      at(1),
    );
    expect(state.cursor).toBe('c9');
    expect(state.refusalFor(token, at(2))).toBeNull();
    expect(state.isCredentialRevoked('svcc_z', at(2))).toBe(true);
    expect(state.size).toBe(1);
  });

  it('parseEntry checks the fields each type needs', () => {
    expect(parseEntry({ type: 'credential', client_id: 'c', org_id: 'o', until: 1 })).toBeNull();
    expect(
      parseEntry({ type: 'account', account_id: 'a', org_id: 'o', permissions_version: 1.5, until: 1 }),
    ).toBeNull();
    expect(parseEntry({ type: 'organization', org_id: 'o', until: 1 })).toBeNull();
    expect(parseEntry({ type: 'token', jti: 'j', org_id: 'o', until: '1' })).toBeNull();
    expect(parseEntry({ type: 'token', jti: 'j', org_id: 'o', until: 1, extra: true })).toEqual({
      type: 'token',
      jti: 'j',
      org_id: 'o',
      until: 1,
    });
  });
});
