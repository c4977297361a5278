import type { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import type { RevocationLedger } from '../revocation/ledger.ts';
import type { TokenSubject } from '../services/token-subject-service.ts';
import { personIdOf } from '../domain/delegation.ts';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import { keyIdOf, type LegacyKeyResolver } from './api-key-auth.ts';
import { secretMatches } from './secret-match.ts';
import { attemptCredential } from './lockout-guard.ts';
import type { SecretVerifier } from './secret-verification.ts';

/** Revokes a credential the way the management API does (CredentialLifecycleService.revokeByHolder). */
export interface HolderRevocation {
  revokeByHolder(
    holder: { orgId: string; accountId: string; credentialId: string },
    request: { sourceIp: string | null; requestId: string | null },
  ): Promise<void>;
}

export interface RevocationRequest {
  sourceIp: string | null;
  requestId: string | null;
}

/**
 * RFC 7009 for a client's own tokens. An access token that verifies against the published keys and was
 * issued to the calling client is recorded as revoked until it expires (database, then the revocation
 * feed). An API key presented by its own credential is a kill switch: the credential is revoked,
 * audited and announced exactly as an admin's revocation would. Anything else (malformed, expired,
 * another client's token or key) is ignored: the endpoint answers 200 either way, so the answer tells
 * nothing about tokens the caller does not hold.
 */
export class TokenRevocationService {
  readonly #tokens: AccessTokenVerifier;
  readonly #ledger: RevocationLedger;
  readonly #audit: AuditRepository;
  readonly #credentials: HolderRevocation;
  readonly #secrets: SecretVerifier;
  readonly #legacyKeys: LegacyKeyResolver;

  constructor(deps: {
    tokens: AccessTokenVerifier;
    ledger: RevocationLedger;
    credentials: HolderRevocation;
    secrets: SecretVerifier;
    legacyKeys: LegacyKeyResolver;
    audit: AuditRepository;
  }) {
    this.#tokens = deps.tokens;
    this.#ledger = deps.ledger;
    this.#credentials = deps.credentials;
    this.#secrets = deps.secrets;
    this.#legacyKeys = deps.legacyKeys;
    this.#audit = deps.audit;
  }

  async revoke(
    caller: TokenSubject,
    token: string,
    request: RevocationRequest = { sourceIp: null, requestId: null },
  ): Promise<'revoked' | 'ignored'> {
    if (caller.credential.type === 'api_key' && (await this.#isCallersOwnKey(caller, token))) {
      await this.#credentials.revokeByHolder(
        {
          orgId: caller.organization.id,
          accountId: caller.account.id,
          credentialId: caller.credential.id,
        },
        request,
      );
      return 'revoked';
    }
    const claims = await this.#tokens.verify(token);
    if (!claims || claims.client_id !== caller.credential.client_id) return 'ignored';
    // A person's token (token exchange) belongs to the person's organization, not the client's: the
    // client that obtained it may still revoke it (e.g. when the person logs out of the product).
    const obtainedForPerson = personIdOf(claims.sub) !== null && actorOf(claims.payload) === claims.client_id;
    if (claims.org_id !== caller.organization.id && !obtainedForPerson) return 'ignored';
    await this.#ledger.revokeToken({
      jti: claims.jti,
      orgId: claims.org_id,
      clientId: claims.client_id,
      expiresAt: Math.ceil(claims.exp),
    });
    return 'revoked';
  }

  /**
   * A client that failed to authenticate at /revoke goes to its credential's organization's audit
   * trail (counting the failure is the lockout's). False when the attempt named no usable credential:
   * there is no organization to tell.
   */
  async recordFailedAuthentication(
    subject: TokenSubject | null | undefined,
    request: { sourceIp: string | null; requestId: string | null },
  ): Promise<boolean> {
    const credential = attemptCredential(subject);
    if (!credential) return false;
    await this.#audit.record({
      orgId: credential.orgId,
      action: 'revocation.authentication_failed',
      outcome: 'failure',
      actorAccountId: credential.accountId,
      actorCredentialId: credential.credentialId,
      targetType: 'credential',
      targetId: credential.credentialId,
      sourceIp: request.sourceIp,
      requestId: request.requestId,
    });
    return true;
  }

  /** The token is the calling API key's own secret (the credential authenticated with it, or a predecessor in grace). */
  async #isCallersOwnKey(caller: TokenSubject, token: string): Promise<boolean> {
    const keyId = await keyIdOf(token, this.#legacyKeys);
    if (keyId === null || keyId !== caller.credential.client_id) return false;
    return secretMatches(this.#secrets, caller.credential, token);
  }
}

/** RFC 8693 4.1: the client that acted (act.sub) in a verified token, if any. */
function actorOf(payload: Record<string, unknown>): string | null {
  const act = payload.act;
  return typeof act === 'object' && act !== null && typeof (act as { sub?: unknown }).sub === 'string'
    ? (act as { sub: string }).sub
    : null;
}
