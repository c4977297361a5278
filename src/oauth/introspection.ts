import type { Config } from '../config/index.ts';
import { restrictToScopes } from '../domain/permissions.ts';
import { withPlainPermissions } from '../domain/permissions-claim.ts';
import { issuedTokenRefusal } from '../domain/token-eligibility.ts';
import type { RevocationRepository } from '../persistence/repositories/revocation-repository.ts';
import type { LockoutService } from '../services/lockout-service.ts';
import { matchedSecretVersion, type SecretMatch } from '../domain/secret-versions.ts';
import {
  currentSubjectFor,
  secretVersionFacts,
  type TokenSubject,
} from '../services/token-subject-service.ts';
import type { UsageRecorder } from '../persistence/usage-recorder.ts';
import type { AccessTokenClaims, AccessTokenVerifier, TokenAudiences } from './access-token-verifier.ts';
import { personIdOf } from '../domain/delegation.ts';
import type { DelegationLookup } from '../services/delegation-service.ts';
import { looksLikeJwt } from './access-token-verifier.ts';
import { boundKeyThumbprint } from '../resource-server/dpop.ts';
import { keyIdOf, type LegacyKeyResolver } from './api-key-auth.ts';
import { matchingSecret, recalledSecret, recognizedSecret } from './secret-match.ts';
import { attemptCredential } from './lockout-guard.ts';
import type { SubjectResolver } from './request-subject.ts';
import type { SecretVerifier } from './secret-verification.ts';

export type IntrospectionAnswer = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE: IntrospectionAnswer = Object.freeze({ active: false as const });

/** Whether a name is a product permission of the catalog now (PermissionCatalog). */
export interface ProductPermissions {
  isProduct(name: string): boolean;
}

/** Who asks: the resource server (by its RESOURCE_SERVERS name), the source API-key guesses are counted under. */
export interface IntrospectionCaller {
  resourceServer: string;
  requestId: string | null;
}

/**
 * RFC 7662 for resource servers. A JWT is active while it verifies against the published keys, has not
 * expired, was not revoked through /revoke, its credential still authenticates, its organization's API
 * is on and its account's permissions have not changed since it was issued. An API key is active while
 * it would obtain a token; the answer carries the claims a token for the default audience would.
 * Anything else, malformed or unknown included, is `{"active": false}` and nothing more.
 */
export class IntrospectionService {
  readonly #config: TokenAudiences;
  readonly #tokens: AccessTokenVerifier;
  readonly #subjects: SubjectResolver;
  readonly #secrets: SecretVerifier;
  readonly #revocations: RevocationRepository;
  readonly #usage: UsageRecorder | undefined;
  readonly #lockout: LockoutService | undefined;
  readonly #legacyKeys: LegacyKeyResolver;
  readonly #delegations: DelegationLookup | undefined;
  readonly #catalog: ProductPermissions;

  constructor(deps: {
    /** The product permission catalog now: an API key's answer carries what a product token would. */
    catalog: ProductPermissions;
    config: TokenAudiences;
    tokens: AccessTokenVerifier;
    subjects: SubjectResolver;
    secrets: SecretVerifier;
    revocations: RevocationRepository;
    legacyKeys: LegacyKeyResolver;
    /** An API key checked here is a use of that key: its last_used_at follows. */
    usage?: UsageRecorder;
    /** API-key guesses are counted per (key id, resource server) and per resource server. */
    lockout?: LockoutService;
    /** Judges people's tokens (token exchange); without it they are inactive. */
    delegations?: DelegationLookup;
  }) {
    this.#delegations = deps.delegations;
    this.#catalog = deps.catalog;
    this.#lockout = deps.lockout;
    this.#config = deps.config;
    this.#tokens = deps.tokens;
    this.#subjects = deps.subjects;
    this.#secrets = deps.secrets;
    this.#revocations = deps.revocations;
    this.#usage = deps.usage;
    this.#legacyKeys = deps.legacyKeys;
  }

  async introspect(token: string, caller?: IntrospectionCaller): Promise<IntrospectionAnswer> {
    return looksLikeJwt(token) ? this.#introspectJwt(token) : this.#introspectApiKey(token, caller);
  }

  async #introspectJwt(token: string): Promise<IntrospectionAnswer> {
    const claims = await this.#tokens.verify(token);
    if (!claims) return INACTIVE;
    if (claims.permissions_version === undefined) return this.#introspectPersonToken(claims);
    const subject = await this.#subjects.findByClientId(claims.client_id);
    // The same rule as the management API's (domain/token-eligibility.ts), for the token's audience.
    const management = claims.payload.aud === this.#config.adminAudience;
    const refusal = issuedTokenRefusal(
      {
        orgId: claims.org_id,
        accountId: claims.sub,
        permissionsVersion: claims.permissions_version,
        secretVersion: claims.secret_version,
      },
      currentSubjectFor(subject, management ? 'management' : 'product'),
    );
    if (refusal) return INACTIVE;
    if (await this.#revocations.isTokenRevoked(claims.jti)) return INACTIVE;
    // RFC 9449 section 6.2: a token bound to a key is a DPoP token; its cnf (already in the claims) says which.
    const tokenType = boundKeyThumbprint(claims.payload) ? 'DPoP' : 'Bearer';
    // Always the plain permissions: an answer body has no header-size limit, and readers get one form.
    return { ...withPlainPermissions(claims.payload), active: true, token_type: tokenType };
  }

  /**
   * A person's management token (token exchange): active while it would still be accepted by the
   * management API (delegations.personTokenStanding) and was not revoked.
   */
  async #introspectPersonToken(claims: AccessTokenClaims): Promise<IntrospectionAnswer> {
    const act = claims.payload.act as { sub?: unknown } | undefined;
    if (!this.#delegations || personIdOf(claims.sub) === null || act?.sub !== claims.client_id) {
      return INACTIVE;
    }
    const standing = await this.#delegations.personTokenStanding(
      { clientId: claims.client_id, orgId: claims.org_id, management: new Set() },
      this.#subjects,
    );
    if (!standing.ok || (await this.#revocations.isTokenRevoked(claims.jti))) return INACTIVE;
    return { ...claims.payload, active: true, token_type: 'Bearer' };
  }

  /**
   * An API key is a secret, and every resource server using the kit passes its callers' keys here: a
   * guess is counted per (key id, resource server) and per resource server like a failed client
   * authentication at /token, before bcrypt evaluates it, and a lockout answers inactive without
   * evaluating. A key recognized from memory (verified before) is answered without counting.
   */
  async #introspectApiKey(
    key: string,
    caller: IntrospectionCaller | undefined,
  ): Promise<IntrospectionAnswer> {
    if (key.length > 512) return INACTIVE;
    const keyId = await keyIdOf(key, this.#legacyKeys);
    // Fails its shape or checksum, or is a legacy-shaped key no import matches (its keyed lookup found
    // nothing, so it is certainly wrong): refused without bcrypt, nothing evaluated, nothing to count.
    if (!keyId) return INACTIVE;
    const subject = await this.#subjects.findByClientId(keyId);
    if (subject && (subject.credential.type !== 'api_key' || subject.refusal)) return INACTIVE;
    const hash = subject?.credential.secret_hash;
    const known =
      subject &&
      (recognizedSecret(this.#secrets, subject.credential, key) ??
        (await recalledSecret(this.#secrets, subject.credential, key)));
    if (subject && known) return this.#active(subject, known);
    const lockout = this.#lockout;
    if (!lockout || !caller) {
      const match = subject && (await matchingSecret(this.#secrets, subject.credential, key));
      return subject && match ? this.#active(subject, match) : INACTIVE;
    }
    const source = { kind: 'resource_server', value: caller.resourceServer } as const;
    if (lockout.check(keyId, source)) return INACTIVE;
    // Per resource server: the same key checked by two of them is counted under each.
    const matched = await lockout.once(`${caller.resourceServer}\0${keyId}`, key, async () => {
      const reserved = await lockout.reserve({
        clientId: keyId,
        source,
        endpoint: 'introspect',
        requestId: caller.requestId,
      });
      if (!reserved.ok) return null;
      const match = subject && (await matchingSecret(this.#secrets, subject.credential, key));
      if (match) {
        reserved.attempt.succeeded();
        return match;
      }
      if (!subject || !hash || this.#secrets.remembers(subject.credential.id, hash)) {
        await this.#secrets.compareNothing();
      }
      void reserved.attempt.failed(attemptCredential(subject));
      return null;
    });
    return matched && subject ? this.#active(subject, matched) : INACTIVE;
  }

  #active(subject: TokenSubject, match: SecretMatch): IntrospectionAnswer {
    // No address: the caller here is the resource server, not the integration holding the key.
    this.#usage?.record(subject.credential.id, null);
    return apiKeyClaims(
      subject,
      this.#config,
      matchedSecretVersion(match, secretVersionFacts(subject.credential)),
      this.#catalog,
    );
  }
}

/** What a token for the default audience would carry for the key's account, as an introspection answer. */
export function apiKeyClaims(
  subject: TokenSubject,
  config: Pick<Config, 'issuer' | 'defaultAudience'>,
  secretVersion: number,
  catalog: ProductPermissions,
): IntrospectionAnswer {
  const granted = subject.scopes.filter((scope) => catalog.isProduct(scope)).sort();
  return {
    active: true,
    iss: config.issuer,
    sub: subject.account.id,
    aud: config.defaultAudience,
    client_id: subject.credential.client_id,
    org_id: subject.organization.id,
    ...(granted.length > 0 ? { scope: granted.join(' ') } : {}),
    permissions: restrictToScopes(subject.permissions, new Set(granted)),
    permissions_version: subject.account.permissions_version,
    // A cached answer stops with the key when it is regenerated (the feed's secret entries).
    secret_version: secretVersion,
    ...(subject.account.groups_admin ? { groups_admin: true } : {}),
    // RFC 7662 2.2: token_type is an OAuth token type (RFC 6749 7.1), which an API key is not; what
    // kind of credential it is goes in a member of svcauth's own.
    svcauth_credential_type: 'api_key',
  };
}
