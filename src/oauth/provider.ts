import { type Configuration, errors, Provider } from 'oidc-provider';
import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';
import type { Config } from '../config/index.ts';
import { personSubject, TOKEN_EXCHANGE_GRANT_TYPE } from '../domain/delegation.ts';
import { ALL_LOCATIONS, type ResolvedPermissions, restrictToScopes } from '../domain/permissions.ts';
import { matchedSecretVersion } from '../domain/secret-versions.ts';
import { PACKED_PERMISSIONS_CLAIM, writePermissionsClaim } from '../domain/permissions-claim.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import type { Logger } from '../logging/logger.ts';
import { secretVersionFacts, type TokenSubject } from '../services/token-subject-service.ts';
import type { StateStore } from '../state/state-store.ts';
import { createAdapterFactory } from './adapter.ts';
import {
  clientAuthPolicyConfiguration,
  installClientAuthPolicy,
  type SingleUseJwtIds,
} from './client-authentication.ts';
import { installClientInstanceCache } from './client-instances.ts';
import { echo } from '../domain/text.ts';
import { installLockoutGuard, installSecretLimits, type TokenLockout } from './lockout-guard.ts';
import { getMatchedSecret, getRequestSubject, type SubjectResolver } from './request-subject.ts';
import type { SecretVerifier } from './secret-verification.ts';
import {
  type DelegatedGrant,
  getRequestDelegation,
  installTokenExchange,
  type TokenExchangeDependencies,
} from './token-exchange.ts';

export interface OAuthDependencies {
  config: Config;
  keyRing: KeyRing;
  subjects: SubjectResolver;
  secrets: SecretVerifier;
  state: StateStore;
  /** Single-use assertion ids, shared with /revoke (see client-authentication.ts). */
  replay: SingleUseJwtIds;
  logger: Logger;
  /** Brute-force limits, checked before each client lookup and secret evaluation (see lockout-guard.ts). */
  lockout?: TokenLockout;
  /** The product permission catalog as this instance knows it now (it changes at run time). */
  catalog: ProductCatalog;
  /** RFC 8693 token exchange for people; absent when the deployment trusts no product (config). */
  tokenExchange?: Omit<TokenExchangeDependencies, 'adminAudience' | 'keyRing' | 'logger'>;
}

/** Algorithms of DPoP proofs /token accepts (RFC 9449); the metadata advertises the same list. */
export const DPOP_SIGNING_ALGS = ['ES256', 'EdDSA', 'Ed25519'] as const;

/** The product permissions' names now: a new array whenever the catalog changes. */
export interface ProductCatalog {
  readonly productNames: readonly string[];
}

/**
 * The audiences svcauth issues tokens for, and the permissions each may carry now: the product API's
 * follow the catalog (PermissionCatalog), the management API's are fixed. Rebuilt only when the
 * catalog changed.
 */
export function audienceScopes(
  config: Pick<Config, 'defaultAudience' | 'adminAudience'>,
  catalog: ProductCatalog,
): () => Map<string, readonly string[]> {
  let names: readonly string[] | undefined;
  let audiences = new Map<string, readonly string[]>();
  return () => {
    if (catalog.productNames !== names) {
      names = catalog.productNames;
      audiences = new Map<string, readonly string[]>([
        [config.defaultAudience, names],
        [config.adminAudience, MANAGEMENT_PERMISSIONS],
      ]);
    }
    return audiences;
  };
}

/**
 * oidc-provider configured for one job: the client-credentials grant issuing RFC 9068 JWTs. No
 * authorization endpoint, interactions, registration or refresh tokens are reachable: the HTTP layer
 * routes only discovery, /jwks and /token to it.
 */
export function createProvider(deps: OAuthDependencies): Provider {
  const { config, keyRing } = deps;
  const audiences = audienceScopes(config, deps.catalog);
  const grantedClaims = grantedClaimsCache(audiences);
  const schedule = keyRing.schedule();
  const { clientAuthSigningAlgValues, ...clientAuthPolicy } = clientAuthPolicyConfiguration();

  const grantTypes = deps.tokenExchange
    ? ['client_credentials', TOKEN_EXCHANGE_GRANT_TYPE]
    : ['client_credentials'];
  const configuration: Configuration = {
    adapter: createAdapterFactory({ state: deps.state, subjects: deps.subjects, grantTypes }),
    jwks: { keys: schedule.published.map((k) => k.jwk) },
    // Only the fixed management permissions: oidc-provider reads this list once, at construction, and
    // the product permissions change at run time. Nothing is lost: clients carry no `scope` metadata
    // (client-metadata.ts), so oidc-provider checks no scope against this list; getResourceServerInfo
    // below checks every requested scope against the catalog now and the account's permissions, and
    // the token's scope is the requested one filtered by the scope it returns (client_credentials).
    scopes: [...MANAGEMENT_PERMISSIONS],
    claims: { openid: ['sub'] },
    responseTypes: ['none'],
    ...clientAuthPolicy,
    enabledJWA: {
      clientAuthSigningAlgValues: clientAuthSigningAlgValues as NonNullable<
        Configuration['enabledJWA']
      >['clientAuthSigningAlgValues'],
      dPoPSigningAlgValues: [...DPOP_SIGNING_ALGS],
    },
    // No ID tokens are ever issued; the default must still name an algorithm the key set can sign.
    clientDefaults: {
      id_token_signed_response_alg: schedule.signing.alg,
      grant_types: ['client_credentials'],
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // RFC 9068 3: without resource, a scope that only one audience carries picks that audience; the
        // default audience otherwise (a scope spanning both stays invalid_scope, naming the fix).
        defaultResource: (ctx) =>
          audienceForScope(ctx.oidc.params?.scope, audiences(), config.defaultAudience),
        useGrantedResource: () => false,
        getResourceServerInfo: (ctx, resourceIndicator) => {
          const subject = getRequestSubject(ctx);
          if (!subject) throw new errors.InvalidClient('client authentication failed');
          const refusal = resourceIndicator === config.adminAudience ? subject.adminRefusal : subject.refusal;
          if (refusal) throw new errors.UnauthorizedClient(refusal);
          const scopeSet = audiences().get(resourceIndicator);
          if (!scopeSet) {
            throw new errors.InvalidTarget(
              `unknown resource "${echo(resourceIndicator)}"; use ${[...audiences().keys()].join(' or ')}, or omit resource`,
            );
          }
          checkRequestedScopes(ctx.oidc.params?.scope, subject, resourceIndicator, scopeSet);
          const signing = keyRing.schedule().signing;
          return {
            audience: resourceIndicator,
            scope: scopeSet.join(' '),
            accessTokenFormat: 'jwt',
            accessTokenTTL: subject.organization.access_token_ttl_seconds,
            jwt: { sign: { alg: signing.alg, kid: signing.kid } },
          };
        },
      },
    },
    formats: {
      customizers: {
        jwt: (ctx, token, jwt) => {
          const delegated = getRequestDelegation(ctx);
          if (delegated) {
            writePersonClaims(jwt.payload, delegated);
            checkClaimsSize(Buffer.byteLength(JSON.stringify(jwt.payload)), config.maxTokenClaimsBytes);
            return;
          }
          const subject = getRequestSubject(ctx);
          if (!subject) throw new errors.InvalidClient('client authentication failed');
          const claims = grantedClaims(
            subject,
            String(jwt.payload.aud),
            typeof token.scope === 'string' ? token.scope : '',
          );
          jwt.payload.sub = subject.account.id;
          if (claims.scope) jwt.payload.scope = claims.scope;
          else delete jwt.payload.scope;
          // The token response's scope is read from the token after this runs: RFC 6749 5.1 wants the
          // granted scope there whenever it differs from the requested one (nothing requested included).
          token.scope = claims.scope || undefined;
          jwt.payload.org_id = subject.organization.id;
          jwt.payload.permissions_version = subject.account.permissions_version;
          // Which secret the client authenticated with, so the token stops when that secret does
          // (a regeneration, at once or at its grace's end); none for private_key_jwt.
          const matched = getMatchedSecret(ctx);
          if (matched)
            jwt.payload.secret_version = matchedSecretVersion(
              matched,
              secretVersionFacts(subject.credential),
            );
          if (subject.account.groups_admin) jwt.payload.groups_admin = true;
          // Every other claim has a fixed length for a given subject and variant (ids, jti, issuer,
          // audience, ten-digit times), so the form of the permissions (plain, or packed when the plain
          // form is too large) and the size are decided once per variant.
          if (claims.bytes === undefined) {
            const written = writePermissionsClaim(
              jwt.payload,
              claims.permissions,
              config.maxTokenClaimsBytes,
            );
            claims.packed = written.packed;
            claims.bytes = written.bytes;
          } else if (claims.packed) {
            jwt.payload[PACKED_PERMISSIONS_CLAIM] = claims.packed;
          } else {
            jwt.payload.permissions = claims.permissions;
          }
          checkClaimsSize(claims.bytes, config.maxTokenClaimsBytes);
        },
      },
    },
    ttl: {
      // The organization's TTL, carried by the resource server info (a fixed number here would win over it).
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
    },
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  installClientAuthPolicy(provider, {
    secrets: deps.secrets,
    replay: deps.replay,
    // The subject found while looking the client up (request-subject.ts): the very rows it was built from.
    credentialOf: (clientId) => {
      const credential = getRequestSubject(Provider.ctx)?.credential;
      return credential?.client_id === clientId ? credential : undefined;
    },
  });
  installClientInstanceCache(provider, deps.subjects, deps.logger);
  // oidc-provider answers an unexpected failure with a bare server_error; the cause is only known here.
  provider.on('server_error', (_ctx, error) => {
    deps.logger.error({ err: error }, 'the token endpoint failed; answered server_error');
  });
  if (deps.tokenExchange) {
    installTokenExchange(provider, {
      ...deps.tokenExchange,
      adminAudience: config.adminAudience,
      keyRing,
      logger: deps.logger,
    });
  }
  // Wraps the lookup above, so a locked-out client id or IP is refused before anything else happens.
  if (deps.lockout) {
    // Wraps the comparison above: counted before it is evaluated (see checkSecretWithinLimits).
    installSecretLimits(provider, deps.lockout, deps.secrets);
    installLockoutGuard(provider, deps.lockout, deps.secrets);
  }
  return provider;
}

function checkClaimsSize(size: number, max: number): void {
  if (size > max) {
    throw new errors.InvalidRequest(
      `the token would carry ${size} bytes of claims, more than the ${max} allowed; ` +
        'request fewer permissions with the scope parameter, or a narrower resource',
    );
  }
}

/**
 * A person's management token (RFC 8693): `sub` is the person (a prefix no service account id can
 * have), `act` names the delegating client (4.1), who they are for the audit trail, and what they may
 * administer. No permissions_version: a person has no account here; the delegation is checked instead.
 */
function writePersonClaims(payload: Record<string, unknown>, grant: DelegatedGrant): void {
  const { person } = grant;
  payload.sub = personSubject(person.personId);
  payload.act = { sub: grant.clientId };
  payload.org_id = grant.organization.id;
  payload.scope = grant.permissions.join(' ');
  payload.permissions = { [ALL_LOCATIONS]: grant.permissions };
  payload.name = person.displayName;
  if (person.email) payload.email = person.email;
  if (person.groupsAdmin) payload.groups_admin = true;
  if (person.grantableRoles) payload.grantable_roles = person.grantableRoles;
}

/** The one audience that carries every requested scope, when it is not the default; else the default. */
function audienceForScope(
  scope: unknown,
  audiences: Map<string, readonly string[]>,
  defaultAudience: string,
): string {
  if (typeof scope !== 'string') return defaultAudience;
  const requested = scope.split(' ').filter(Boolean);
  if (requested.length === 0) return defaultAudience;
  const carrying = [...audiences].filter(([, scopes]) => requested.every((s) => scopes.includes(s)));
  return carrying.length === 1 ? carrying[0]![0] : defaultAudience;
}

type GrantedClaims = {
  scope: string;
  permissions: ResolvedPermissions;
  /** The serialized claims' size, once the first token of this variant measured it. */
  bytes?: number;
  /** The `permissions_packed` claim, when the first token found the plain form too large; else null. */
  packed?: string | null;
};

/**
 * The token's `scope` and `permissions` for a subject, an audience and the requested scope (already
 * checked by checkRequestedScopes). Kept on the subject object, which is replaced whenever its rows
 * change, so nothing here can outlive them; a few variants per subject, since a client could ask for
 * any number of scope combinations.
 */
function grantedClaimsCache(audiences: () => Map<string, readonly string[]>) {
  let current: Map<string, readonly string[]> | undefined;
  let audienceScopes = new Map<string, Set<string>>();
  const bySubject = new WeakMap<TokenSubject, Map<string, GrantedClaims>>();
  const VARIANTS_PER_SUBJECT = 8;
  return (subject: TokenSubject, audience: string, requestedScope: string): GrantedClaims => {
    if (audiences() !== current) {
      current = audiences();
      audienceScopes = new Map([...current].map(([aud, scopes]) => [aud, new Set(scopes)]));
    }
    const key = `${audience} ${requestedScope}`;
    let variants = bySubject.get(subject);
    const known = variants?.get(key);
    if (known) return known;
    const allowed = audienceScopes.get(audience) ?? new Set<string>();
    const requested = requestedScope ? requestedScope.split(' ') : subject.scopes;
    const granted = new Set(requested.filter((s) => allowed.has(s)));
    const claims: GrantedClaims = {
      scope: [...granted].sort().join(' '),
      permissions: restrictToScopes(subject.permissions, granted),
    };
    if (!variants) bySubject.set(subject, (variants = new Map()));
    if (variants.size < VARIANTS_PER_SUBJECT) variants.set(key, claims);
    return claims;
  };
}

/**
 * `scope` may only name permissions the account holds, and only ones the requested audience carries;
 * anything else is invalid_scope, never ignored (oidc-provider would drop the foreign names, and an
 * empty remainder would read as "no down-scoping": the token would carry every permission).
 */
function checkRequestedScopes(
  scope: unknown,
  subject: TokenSubject,
  resource: string,
  audienceScopes: readonly string[],
): void {
  if (typeof scope !== 'string' || scope.trim() === '') return;
  const held = new Set(subject.scopes);
  const requested = scope.split(' ').filter(Boolean);
  const missing = requested.filter((s) => !held.has(s));
  if (missing.length > 0) {
    throw new errors.InvalidScope(
      `the service account does not hold ${echo(missing.join(', '), 200)}; request a subset of: ${subject.scopes.join(' ') || '(none)'}`,
      echo(missing.join(' '), 200),
    );
  }
  const foreign = requested.filter((s) => !audienceScopes.includes(s));
  if (foreign.length > 0) {
    throw new errors.InvalidScope(
      `${echo(foreign.join(', '), 200)} cannot be granted for resource "${echo(resource)}"; request them with the resource that carries them`,
      echo(foreign.join(' '), 200),
    );
  }
}
