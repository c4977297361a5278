import { randomBytes } from 'node:crypto';
import { type CryptoKey, importJWK, type JWK, SignJWT } from 'jose';
import type { Config } from '../config/index.ts';
import { DomainError } from '../domain/errors.ts';
import { restrictToScopes } from '../domain/permissions.ts';
import { writePermissionsClaim } from '../domain/permissions-claim.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import type { AccessTokenIssuer, IssuedAccessToken } from '../services/platform-built-in-service.ts';
import type { TokenSubject } from '../services/token-subject-service.ts';
import { audienceScopes, type ProductCatalog } from './provider.ts';

/**
 * Access tokens svcauth issues without a client authentication at /token: to the platform operator,
 * for an organization's built-in account, whose credential has no secret anyone holds. The token is
 * the one /token would issue that credential (same claims, signing key, lifetime, audiences and
 * down-scoping rules; see provider.ts), so resource servers, /introspect and the revocation feed
 * treat it like any other: it stops when its credential is revoked or its account's permissions change.
 */
export class PlatformTokenIssuer implements AccessTokenIssuer {
  readonly #keyRing: KeyRing;
  readonly #config: Pick<Config, 'issuer' | 'defaultAudience' | 'adminAudience' | 'maxTokenClaimsBytes'>;
  readonly #audiences: () => Map<string, readonly string[]>;
  readonly #keys = new Map<string, Promise<CryptoKey | Uint8Array>>();

  constructor(
    keyRing: KeyRing,
    config: Pick<Config, 'issuer' | 'defaultAudience' | 'adminAudience' | 'maxTokenClaimsBytes'>,
    catalog: ProductCatalog,
  ) {
    this.#keyRing = keyRing;
    this.#config = config;
    this.#audiences = audienceScopes(config, catalog);
  }

  async issue(
    subject: TokenSubject,
    request: { resource?: string | undefined; scope?: string | undefined },
    now: Date = new Date(),
  ): Promise<IssuedAccessToken> {
    const audience = request.resource ?? this.#config.defaultAudience;
    const audiences = this.#audiences();
    const carried = audiences.get(audience);
    if (!carried) {
      throw new DomainError(
        'invalid_target',
        `unknown resource "${audience}"; use ${[...audiences.keys()].join(' or ')}, or omit resource`,
        { field: 'resource' },
      );
    }
    const refusal = audience === this.#config.adminAudience ? subject.adminRefusal : subject.refusal;
    if (refusal) throw new DomainError('token_refused', refusal);
    const requested = request.scope?.split(' ').filter(Boolean) ?? [];
    const missing = requested.filter((scope) => !subject.scopes.includes(scope));
    if (missing.length > 0) {
      throw new DomainError(
        'invalid_scope',
        `the service account does not hold ${missing.join(', ')}; request a subset of: ${subject.scopes.join(' ') || '(none)'}`,
        { field: 'scope' },
      );
    }
    const foreign = requested.filter((scope) => !carried.includes(scope));
    if (foreign.length > 0) {
      throw new DomainError(
        'invalid_scope',
        `${foreign.join(', ')} cannot be granted for resource "${audience}"; request them with the resource that carries them`,
        { field: 'scope' },
      );
    }
    const granted = new Set(
      (requested.length > 0 ? requested : subject.scopes).filter((s) => carried.includes(s)),
    );
    const scope = [...granted].sort().join(' ');
    const iat = Math.floor(now.getTime() / 1000);
    const ttl = subject.organization.access_token_ttl_seconds;
    const jti = randomBytes(16).toString('base64url');
    const payload = {
      jti,
      sub: subject.account.id,
      iat,
      exp: iat + ttl,
      ...(scope ? { scope } : {}),
      client_id: subject.credential.client_id,
      iss: this.#config.issuer,
      aud: audience,
      org_id: subject.organization.id,
      permissions_version: subject.account.permissions_version,
      ...(subject.account.groups_admin ? { groups_admin: true } : {}),
    };
    // Plain permissions, or packed when the plain form would be too large (README, "The access token").
    const size = writePermissionsClaim(
      payload,
      restrictToScopes(subject.permissions, granted),
      this.#config.maxTokenClaimsBytes,
    ).bytes;
    if (size > this.#config.maxTokenClaimsBytes) {
      throw new DomainError(
        'invalid_scope',
        `the token would carry ${size} bytes of claims, more than the ${this.#config.maxTokenClaimsBytes} allowed; request fewer permissions with scope`,
        { field: 'scope' },
      );
    }
    const signing = this.#keyRing.schedule(now).signing;
    const accessToken = await new SignJWT(payload)
      .setProtectedHeader({ alg: signing.alg, typ: 'at+jwt', kid: signing.kid })
      .sign(await this.#key(signing.kid, signing.alg, signing.jwk));
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: ttl,
      scope,
      jti,
      audience,
      expires_at: new Date((iat + ttl) * 1000).toISOString(),
    };
  }

  #key(kid: string, alg: string, jwk: JWK): Promise<CryptoKey | Uint8Array> {
    let key = this.#keys.get(kid);
    if (!key) {
      key = importJWK(jwk, alg);
      this.#keys.set(kid, key);
    }
    return key;
  }
}
