import type { Context } from 'koa';
import { errors, type Provider } from 'oidc-provider';
import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';
import type { TokenExchangeConfig } from '../config/index.ts';
import {
  ACCESS_TOKEN_TYPE,
  delegatedPermissions,
  delegatedTokenTtl,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT_TYPE,
} from '../domain/delegation.ts';
import { echo } from '../domain/text.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import type { Logger } from '../logging/logger.ts';
import type { Organization } from '../persistence/schema.ts';
import type { DelegationLookup } from '../services/delegation-service.ts';
import { getRequestSubject } from './request-subject.ts';
import type { SubjectPerson, SubjectTokenVerifier } from './subject-token.ts';

/** RFC 8693 2.1: the request parameters of the grant; `resource` and `audience` may repeat. */
const PARAMETERS = [
  'audience',
  'resource',
  'scope',
  'requested_token_type',
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
];
const REPEATABLE = ['audience', 'resource'];

/** What the token being issued by an exchange says: for whom, where, with which permissions. */
export interface DelegatedGrant {
  person: SubjectPerson;
  organization: Organization;
  /** Management permissions of the token (catalog order). */
  permissions: string[];
  /** The delegating client (the product's credential that exchanged the subject token). */
  clientId: string;
}

const DELEGATION = Symbol('svcauth.delegatedGrant');

interface WithDelegation {
  [DELEGATION]?: DelegatedGrant;
}

/** Set while an exchange issues its token: the JWT customizer then writes a person's claims. */
export function getRequestDelegation(ctx: Context | undefined): DelegatedGrant | undefined {
  return (ctx as WithDelegation | undefined)?.[DELEGATION];
}

export interface TokenExchangeDependencies {
  exchange: TokenExchangeConfig;
  adminAudience: string;
  keyRing: KeyRing;
  verifier: SubjectTokenVerifier;
  lookup: DelegationLookup;
  /** Told of every issued person token, for the organization's audit trail. */
  onExchanged: (grant: DelegatedGrant, ctx: Context) => Promise<void>;
  logger: Logger;
}

/**
 * RFC 8693 token exchange at /token, through oidc-provider's extension point for grant types: a client
 * the platform operator allowed to delegate (delegations) presents a subject token the product signed
 * for its logged-in admin and gets a short-lived management token for that person, in the person's
 * organization. Client authentication happened before (oidc-provider, under the one client-auth policy).
 * Refusals are RFC 8693 2.2.2 / RFC 6749 5.2 errors: a client not allowed to delegate is
 * unauthorized_client; a subject token that is invalid or unacceptable by policy is invalid_request
 * (RFC 8693 says MUST); a target other than the management API is invalid_target.
 */
export function installTokenExchange(provider: Provider, deps: TokenExchangeDependencies): void {
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT_TYPE,
    (ctx: Context) => exchange(provider, deps, ctx),
    PARAMETERS,
    REPEATABLE,
  );
}

async function exchange(provider: Provider, deps: TokenExchangeDependencies, ctx: Context): Promise<void> {
  const { oidc } = ctx as Context & {
    oidc: { client: InstanceType<Provider['Client']>; params: Record<string, unknown> };
  };
  const params = oidc.params;
  const subject = getRequestSubject(ctx);
  if (!subject) throw new errors.InvalidClient('client authentication failed');
  if (subject.adminRefusal) throw new errors.UnauthorizedClient(subject.adminRefusal);

  const delegation = await deps.lookup.forCredential(subject.credential);
  if (!delegation) {
    throw new errors.UnauthorizedClient(
      'this client may not exchange tokens for people; the platform operator can allow it (POST /platform/v1/delegations)',
    );
  }
  checkRequestShape(ctx, params, deps.adminAudience);

  const checked = await deps.verifier.verify(String(params.subject_token));
  if (!checked.ok) throw new errors.InvalidRequest(checked.reason);
  const { person } = checked;
  if (person.mayActClientId !== null && person.mayActClientId !== subject.credential.client_id) {
    throw new errors.InvalidRequest("the subject token's may_act names another client");
  }
  const organization = await deps.lookup.organizationOfTenant(person.tenantId);
  if (!organization) {
    throw new errors.InvalidRequest(
      `no organization has the tenant id "${echo(person.tenantId)}"; the platform operator creates it (POST /platform/v1/organizations)`,
    );
  }
  if (organization.status !== 'active') {
    throw new errors.InvalidRequest(
      `the organization of tenant "${echo(person.tenantId)}" is ${organization.status}`,
    );
  }
  const requestedScope =
    typeof params.scope === 'string' && params.scope.trim() !== ''
      ? params.scope.split(' ').filter(Boolean)
      : null;
  const granted = delegatedPermissions({
    person: person.management,
    delegable: delegation.max_permissions,
    requestedScope,
  });
  if (!granted.ok) {
    throw granted.error === 'invalid_scope'
      ? new errors.InvalidScope(granted.reason, echo((requestedScope ?? []).join(' '), 200))
      : new errors.InvalidRequest(granted.reason);
  }
  // Last: a subject token refused for any other reason can be fixed and sent again.
  if (!(await deps.verifier.consume(person))) {
    throw new errors.InvalidRequest(
      'the subject token was exchanged already; a subject token is single-use: sign a new one for each exchange',
    );
  }

  const grant: DelegatedGrant = {
    person,
    organization,
    permissions: granted.permissions,
    clientId: subject.credential.client_id,
  };
  (ctx as WithDelegation)[DELEGATION] = grant;
  const signing = deps.keyRing.schedule().signing;
  const token = new provider.ClientCredentials({
    client: oidc.client,
    scope: grant.permissions.join(' '),
  });
  token.resourceServer = {
    audience: deps.adminAudience,
    scope: MANAGEMENT_PERMISSIONS.join(' '),
    accessTokenFormat: 'jwt',
    accessTokenTTL: delegatedTokenTtl(
      deps.exchange.delegatedTokenTtlSeconds,
      organization.access_token_ttl_seconds,
    ),
    jwt: { sign: { alg: signing.alg, kid: signing.kid } },
    identifier: () => deps.adminAudience,
  } as unknown as typeof token.resourceServer;
  const accessToken = await token.save();
  await deps
    .onExchanged(grant, ctx)
    .catch((error: unknown) => deps.logger.error({ err: error }, 'could not audit a token exchange'));
  ctx.body = {
    access_token: accessToken,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: token.expiration,
    scope: grant.permissions.join(' '),
  };
}

/** What RFC 8693 requires of the request itself, and the one target svcauth issues for. */
function checkRequestShape(ctx: Context, params: Record<string, unknown>, adminAudience: string): void {
  if (ctx.get('dpop')) {
    throw new errors.InvalidRequest(
      'token exchange issues Bearer tokens only; send the request without a DPoP proof',
    );
  }
  if (typeof params.subject_token !== 'string' || params.subject_token === '') {
    throw new errors.InvalidRequest("missing required parameter 'subject_token'");
  }
  if (params.subject_token_type !== JWT_TOKEN_TYPE) {
    throw new errors.InvalidRequest(
      params.subject_token_type === undefined
        ? "missing required parameter 'subject_token_type'"
        : `subject_token_type must be ${JWT_TOKEN_TYPE} (a JWT signed by the product)`,
    );
  }
  if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
    throw new errors.InvalidRequest(
      'actor_token is not accepted: the authenticated client is the actor (it appears as act in the token)',
    );
  }
  if (params.requested_token_type !== undefined && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE} (or omitted)`);
  }
  const targets = [params.resource, params.audience].flatMap((value) =>
    value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)],
  );
  const foreign = targets.filter((target) => target !== adminAudience);
  if (foreign.length > 0) {
    throw new errors.InvalidTarget(
      `a person's token is issued only for the management API: use resource (or audience) ${adminAudience}, or omit it; not "${echo(foreign[0]!)}"`,
    );
  }
}
