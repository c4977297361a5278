/**
 * Whether a credential may have tokens: one rule for issuing them (/token) and for accepting them
 * afterwards (the management API, /introspect), so a token never outlives a state /token would refuse,
 * and the two can never drift apart. Pure: the caller reads the rows and supplies the time.
 */
import { accountStatus, credentialStatus } from './status.ts';
import { UNVERSIONED_SECRET } from './secret-versions.ts';

/** Product tokens (the default audience) or management-API tokens (the admin audience). */
export type TokenAudienceKind = 'product' | 'management';

export interface TokenEligibilityFacts {
  credential: { type: string; revokedAt: Date | null; expiresAt: Date | null };
  account: { archivedAt: Date | null; isProtected: boolean; roleCount: number };
  organization: {
    apiEnabled: boolean;
    /** Whether the product entitles the organization to the API module (the platform operator's say). */
    apiEntitled: boolean;
    allowedCredentialTypes: readonly string[];
    /** Set by the platform operator; only `active` organizations' credentials may have tokens. */
    status: 'active' | 'suspended' | 'archived';
  };
}

export type TokenEligibility =
  | { allowed: true }
  /**
   * Nothing can authenticate with the credential any more (revoked, expired, account archived): to a
   * client this is the same as a credential that never existed.
   */
  | { allowed: false; gone: true; reason: string }
  /** The credential authenticates, but may not have tokens now; the reason says what would fix it. */
  | { allowed: false; gone: false; reason: string };

export function tokenEligibility(
  facts: TokenEligibilityFacts,
  audience: TokenAudienceKind,
  now: Date,
): TokenEligibility {
  const { credential, account, organization } = facts;
  const gone = goneReason(facts, now);
  if (gone) return { allowed: false, gone: true, reason: gone };
  // Unlike the API module switch, suspension covers management tokens too: the platform operator,
  // not the organization's admins, decides when it ends.
  if (organization.status !== 'active') {
    return refused(`the organization is ${organization.status}; the platform operator can resume it`);
  }
  // The API module switch does not apply to management tokens: an organization that turned its API
  // off must still be able to turn it back on, and one not entitled to it can still manage itself.
  if (audience === 'product' && !organization.apiEntitled) {
    return refused(
      'this organization is not entitled to the API module; the product (its vendor) can enable it',
    );
  }
  if (audience === 'product' && !organization.apiEnabled) {
    return refused(
      'the API module is turned off for this organization; an admin can turn it on in the API security settings',
    );
  }
  // The built-in account's credential is the product's (the platform API issues its tokens), not one
  // of the organization's integrations: its admins' choice of credential types does not bind it.
  if (!account.isProtected && !organization.allowedCredentialTypes.includes(credential.type)) {
    return refused(
      `credentials of type ${credential.type} are not allowed by this organization's API security settings`,
    );
  }
  if (accountStatus({ archivedAt: account.archivedAt, roleCount: account.roleCount }) === 'disabled') {
    return refused('the service account is disabled because it has no roles; an admin must assign it a role');
  }
  return { allowed: true };
}

/**
 * Why nothing can authenticate with the credential any more, or null. Needs no role count: callers ask
 * it first, before reading an account's grants for a credential that is gone anyway.
 */
export function goneReason(
  facts: {
    credential: TokenEligibilityFacts['credential'];
    account: Pick<TokenEligibilityFacts['account'], 'archivedAt'>;
  },
  now: Date,
): string | null {
  const status = credentialStatus(facts.credential, now);
  if (status !== 'active') return `the credential is ${status}`;
  if (facts.account.archivedAt !== null) return 'the service account is archived';
  return null;
}

function refused(reason: string): TokenEligibility {
  return { allowed: false, gone: false, reason };
}

/** What an issued token says about whom it was issued to. */
export interface IssuedTokenClaims {
  orgId: string;
  accountId: string;
  permissionsVersion: number;
  /** The version of the secret the token was obtained with (secret-versions.ts); absent: 1. */
  secretVersion?: number | undefined;
}

/** The credential's current state, as the token subject resolver holds it (null: gone or unknown). */
export interface CurrentSubject {
  orgId: string;
  accountId: string;
  permissionsVersion: number;
  /** Tokens obtained with an older secret than this have stopped with it (oldestLiveSecretVersion). */
  oldestSecretVersion: number;
  /** tokenEligibility's reason for the token's audience, null when allowed. */
  refusal: string | null;
}

/**
 * Whether a token issued earlier is still good, given its credential's current state: why not, or
 * null. Revocation of the token itself (by jti) is the caller's second question.
 */
export function issuedTokenRefusal(token: IssuedTokenClaims, current: CurrentSubject | null): string | null {
  if (!current || current.orgId !== token.orgId || current.accountId !== token.accountId) {
    return 'the credential this token was issued to is no longer active (revoked, expired or deleted, or its service account archived); request a token with an active credential';
  }
  if (current.refusal) return current.refusal;
  if ((token.secretVersion ?? UNVERSIONED_SECRET) < current.oldestSecretVersion) {
    return 'the secret this token was obtained with was regenerated and no longer works; request a token with the new secret';
  }
  if (token.permissionsVersion < current.permissionsVersion) {
    return "the service account's permissions changed after this token was issued; request a new token";
  }
  return null;
}
