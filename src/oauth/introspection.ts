import { PRODUCT_PERMISSIONS } from '../../config/permissions.ts';
import type { Config } from '../config/index.ts';
import { restrictToScopes } from '../domain/permissions.ts';
import type { RevocationRepository } from '../persistence/repositories/revocation-repository.ts';
import type { TokenSubject } from '../services/token-subject-service.ts';
import type { UsageRecorder } from '../services/usage-recorder.ts';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import { looksLikeJwt } from './access-token-verifier.ts';
import { keyIdOf } from './api-key-auth.ts';
import { secretMatches } from './client-authentication.ts';
import type { SubjectResolver } from './request-subject.ts';
import type { SecretVerifier } from './secret-verification.ts';

export type IntrospectionAnswer = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE: IntrospectionAnswer = Object.freeze({ active: false as const });
const PRODUCT = new Set<string>(PRODUCT_PERMISSIONS);

/**
 * RFC 7662 for resource servers. A JWT is active while it verifies against the published keys, has not
 * expired, was not revoked through /revoke, its credential still authenticates, its organization's API
 * is on and its account's permissions have not changed since it was issued. An API key is active while
 * it would obtain a token; the answer carries the claims a token for the default audience would.
 * Anything else, malformed or unknown included, is `{"active": false}` and nothing more.
 */
export class IntrospectionService {
  readonly #config: Config;
  readonly #tokens: AccessTokenVerifier;
  readonly #subjects: SubjectResolver;
  readonly #secrets: SecretVerifier;
  readonly #revocations: RevocationRepository;
  readonly #usage: UsageRecorder | undefined;

  constructor(deps: {
    config: Config;
    tokens: AccessTokenVerifier;
    subjects: SubjectResolver;
    secrets: SecretVerifier;
    revocations: RevocationRepository;
    /** An API key checked here is a use of that key: its last_used_at follows. */
    usage?: UsageRecorder;
  }) {
    this.#config = deps.config;
    this.#tokens = deps.tokens;
    this.#subjects = deps.subjects;
    this.#secrets = deps.secrets;
    this.#revocations = deps.revocations;
    this.#usage = deps.usage;
  }

  async introspect(token: string): Promise<IntrospectionAnswer> {
    return looksLikeJwt(token) ? this.#introspectJwt(token) : this.#introspectApiKey(token);
  }

  async #introspectJwt(token: string): Promise<IntrospectionAnswer> {
    const claims = await this.#tokens.verify(token);
    if (!claims) return INACTIVE;
    const subject = await this.#subjects.findByClientId(claims.client_id);
    if (
      !subject ||
      subject.account.id !== claims.sub ||
      subject.organization.id !== claims.org_id ||
      !subject.organization.api_enabled ||
      claims.permissions_version < subject.account.permissions_version
    ) {
      return INACTIVE;
    }
    if (await this.#revocations.isTokenRevoked(claims.jti)) return INACTIVE;
    return { ...claims.payload, active: true, token_type: 'Bearer' };
  }

  async #introspectApiKey(key: string): Promise<IntrospectionAnswer> {
    if (key.length > 512) return INACTIVE;
    const keyId = keyIdOf(key);
    if (!keyId) return INACTIVE;
    const subject = await this.#subjects.findByClientId(keyId);
    if (!subject || subject.credential.type !== 'api_key' || subject.refusal) return INACTIVE;
    if (!(await secretMatches(this.#secrets, subject.credential, key))) return INACTIVE;
    // No address: the caller here is the resource server, not the integration holding the key.
    this.#usage?.record(subject.credential.id, null);
    return apiKeyClaims(subject, this.#config);
  }
}

/** What a token for the default audience would carry for the key's account, as an introspection answer. */
export function apiKeyClaims(
  subject: TokenSubject,
  config: Pick<Config, 'issuer' | 'defaultAudience'>,
): IntrospectionAnswer {
  const granted = subject.scopes.filter((scope) => PRODUCT.has(scope)).sort();
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
    ...(subject.account.groups_admin ? { groups_admin: true } : {}),
    token_type: 'api_key',
  };
}
