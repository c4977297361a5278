import type { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import type { RevocationLedger } from '../revocation/ledger.ts';
import type { TokenSubject } from '../services/token-subject-service.ts';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import { attemptCredential } from './lockout-guard.ts';

/**
 * RFC 7009 for a client's own access tokens. A token that verifies against the published keys and was
 * issued to the calling client is recorded as revoked until it expires (database, then the revocation
 * feed). Anything else (malformed, expired, another client's, an API key) is ignored: the endpoint
 * answers 200 either way, so the answer tells nothing about tokens the caller does not hold.
 */
export class TokenRevocationService {
  readonly #tokens: AccessTokenVerifier;
  readonly #ledger: RevocationLedger;
  readonly #audit: AuditRepository;

  constructor(deps: { tokens: AccessTokenVerifier; ledger: RevocationLedger; audit: AuditRepository }) {
    this.#tokens = deps.tokens;
    this.#ledger = deps.ledger;
    this.#audit = deps.audit;
  }

  async revoke(caller: TokenSubject, token: string): Promise<'revoked' | 'ignored'> {
    const claims = await this.#tokens.verify(token);
    if (!claims || claims.client_id !== caller.credential.client_id) return 'ignored';
    if (claims.org_id !== caller.organization.id) return 'ignored';
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
}
