/**
 * svcauth/resource-server: verify svcauth's access tokens and API keys in a resource server.
 *
 *     const verifier = createVerifier({ issuer, audience, credentials: { name, secret } });
 *     await verifier.ready();
 *     app.use(koaMiddleware(verifier));          // ctx.state.principal.can('items:read', locationId)
 */
export {
  type AuthenticateOptions,
  type KoaLikeContext,
  koaMiddleware,
  nodeHttpAuthenticate,
} from './adapters.ts';
export { API_KEY_USERNAME, type PresentedCredentials, readAuthorization } from './authorization-header.ts';
export { requirePermissions } from './challenge.ts';
export { VerificationError, type VerificationErrorCode } from './errors.ts';
export {
  DEFAULTS,
  type FetchFunction,
  type IntrospectionCacheOptions,
  type ResourceServerCredentials,
  type RevocationOptions,
  SUPPORTED_ALGORITHMS,
  type SigningAlgorithm,
  type VerifierOptions,
} from './options.ts';
export { ALL_LOCATIONS, type Permissions, type Principal } from './principal.ts';
export { createVerifier, type Verifier } from './verifier.ts';
