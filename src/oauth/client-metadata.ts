import type { TokenSubject } from '../services/token-subject-service.ts';

/**
 * oidc-provider client metadata for a credential. An oauth_client or api_key credential accepts its
 * secret in the Authorization header or in the body; oidc-provider registers one method per client, so
 * the metadata names the one this request used. The "secret" given to oidc-provider is the bcrypt hash:
 * the comparison is ours (see provider.ts), and HMAC-based methods that would need the plain secret
 * are not offered.
 */
export function clientMetadataFor(
  subject: TokenSubject,
  usedBasicAuth: boolean,
  grantTypes: readonly string[] = ['client_credentials'],
): Record<string, unknown> {
  const { credential } = subject;
  const common = {
    client_id: credential.client_id,
    // Every grant the server offers: whether this client may exchange tokens for people is decided
    // by the grant itself (delegations), which answers unauthorized_client as RFC 6749 5.2 asks.
    grant_types: [...grantTypes],
    response_types: [],
    redirect_uris: [],
    // No `scope`: oidc-provider would check it against its scopes list, fixed at construction, while
    // the product permissions change at run time. What a client may ask for is checked by the
    // provider's getResourceServerInfo instead: held by the account, carried by the audience.
  };
  if (credential.type === 'private_key_jwt') {
    return { ...common, token_endpoint_auth_method: 'private_key_jwt', jwks: credential.jwks };
  }
  return {
    ...common,
    client_secret: credential.secret_hash,
    token_endpoint_auth_method: usedBasicAuth ? 'client_secret_basic' : 'client_secret_post',
  };
}

/** Whether this request presents its client secret in the Authorization header (else in the body). */
export function presentsBasicAuth(authorization: string | undefined): boolean {
  return typeof authorization === 'string' && /^basic /i.test(authorization);
}
