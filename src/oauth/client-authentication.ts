import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { type Configuration, errors, Provider } from 'oidc-provider';
import {
  assertionTimesProblem,
  CLOCK_TOLERANCE_SECONDS,
  replayMarkerTtlSeconds,
} from '../domain/client-assertion.ts';
import type { Credential } from '../persistence/schema.ts';
import type { TokenSubject } from '../services/token-subject-service.ts';
import type { StateStore } from '../state/state-store.ts';
import { API_KEY_USERNAME, keyIdOf, type LegacyKeyResolver } from './api-key-auth.ts';
import { readBasicCredentials } from './basic-credentials.ts';
import { setMatchedSecret, type SubjectResolver } from './request-subject.ts';
import { matchingSecret, secretMatches } from './secret-match.ts';
import type { SecretVerifier } from './secret-verification.ts';

/*
 * The one client-authentication policy of svcauth. /token authenticates clients through oidc-provider
 * (configured from here: clientAuthPolicyConfiguration, installClientAuthPolicy), /revoke through
 * ClientAuthenticator below; both take every decision from this module: the accepted methods and
 * algorithms, the clock tolerance, the secret comparison, the assertion lifetime rules and the one
 * replay record per assertion.
 */

/** The client authentication methods every endpoint that authenticates clients accepts. */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];

/**
 * Signature algorithms accepted for private_key_jwt assertions (asymmetric only: secrets are hashed).
 * EdDSA and its fully-specified name Ed25519 (RFC 9864), which openid-client and oauth4webapi sign with.
 */
export const CLIENT_ASSERTION_ALGS = [
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
];

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export { CLOCK_TOLERANCE_SECONDS };

const nowSeconds = () => Date.now() / 1000;

/**
 * Single-use JWT ids, one record per (issuer, jti) whichever endpoint saw it first: client
 * assertions at /token and /revoke, and whatever else oidc-provider checks for replay (DPoP proofs).
 * The key is a hash, so nothing a client sent ends up in a key name; the marker lives only as long as
 * the JWT could be accepted (see replayMarkerTtlSeconds).
 */
export class SingleUseJwtIds {
  readonly #state: StateStore;

  constructor(state: StateStore) {
    this.#state = state;
  }

  /** True the first time (issuer, jti) is presented before `expiresAt` (epoch seconds); false after. */
  async markUsed(issuer: string, jti: string, expiresAt: number): Promise<boolean> {
    const id = createHash('sha256')
      .update(JSON.stringify([issuer, jti]))
      .digest('base64url');
    return this.#state.setIfAbsent(`jti:${id}`, '1', replayMarkerTtlSeconds(expiresAt, nowSeconds()));
  }
}

/** The assertion's times are acceptable (see assertionTimesProblem), or a refusal saying what to fix. */
function checkAssertionTimes(claims: { iat?: unknown; exp?: unknown }): string | null {
  return assertionTimesProblem(claims, nowSeconds());
}

/**
 * 401 invalid_client that tells what to fix: the signature has been verified by then, so the caller
 * holds the client's key and learns nothing it should not.
 */
function assertionRefusal(description: string): Error {
  const error = new errors.InvalidClient(description);
  Object.assign(error, { status: 401, statusCode: 401 });
  return error;
}

/** The part of oidc-provider's configuration that is client authentication. */
export function clientAuthPolicyConfiguration(): Pick<
  Configuration,
  'clientAuthMethods' | 'clockTolerance' | 'assertJwtClientAuthClaimsAndHeader'
> & { clientAuthSigningAlgValues: string[] } {
  return {
    clientAuthMethods: [...CLIENT_AUTH_METHODS] as Configuration['clientAuthMethods'],
    clientAuthSigningAlgValues: [...CLIENT_ASSERTION_ALGS],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    // Runs after the signature and exp were checked, before the replay record is written.
    assertJwtClientAuthClaimsAndHeader: (_ctx, claims) => {
      const problem = checkAssertionTimes(claims);
      if (problem) throw assertionRefusal(problem);
    },
  };
}

/**
 * What oidc-provider decides through its models rather than its configuration: secrets are compared
 * with secretMatches (bcrypt hashes, a regenerated secret's predecessor during its grace period), and
 * single-use JWT ids are recorded in the same place and under the same key as /revoke records them.
 */
export function installClientAuthPolicy(
  provider: Provider,
  deps: {
    secrets: SecretVerifier;
    replay: SingleUseJwtIds;
    /** The credential this request's client was built from (oidc-provider awaits the comparison). */
    credentialOf: (clientId: string) => Credential | undefined;
  },
): void {
  provider.Client.prototype.compareClientSecret = async function compareClientSecret(actual: string) {
    const credential = deps.credentialOf(this.clientId);
    if (!credential) return false;
    const match = await matchingSecret(deps.secrets, credential, actual);
    // The token's secret_version says which secret it was obtained with (domain/secret-versions.ts).
    if (match) setMatchedSecret(Provider.ctx, match);
    return match !== null;
  };
  provider.ReplayDetection.unique = (iss: string, jti: string, exp: number) =>
    deps.replay.markUsed(iss, jti, exp);
}

/** How a client proved (or tried to prove) who it is, as /token accepts it. */
export type ClientCredentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }
  | { method: 'private_key_jwt'; clientId: string; assertion: string };

export type ReadClientCredentials =
  | { ok: true; credentials: ClientCredentials }
  /** `invalid_request` (400) for a malformed request; `invalid_client` (401) when none was presented. */
  | { ok: false; error: 'invalid_request' | 'invalid_client'; description: string; clientId: string | null };

/**
 * Reads client credentials the way the token endpoint accepts them: HTTP Basic `client_id:secret`
 * (form-encoded parts, RFC 6749 2.3.1), Basic `api:<API key>`, `client_id` + `client_secret` in the
 * body, or a `private_key_jwt` client assertion. One method per request.
 */
export async function readClientCredentials(
  authorization: string | undefined,
  body: URLSearchParams,
  legacyKeys: LegacyKeyResolver,
): Promise<ReadClientCredentials> {
  const bodyClientId = body.get('client_id');
  const bodySecret = body.get('client_secret');
  const assertion = body.get('client_assertion');
  const header = authorization?.trim() ?? '';
  if (header !== '') {
    const basic = readBasicCredentials(header);
    const id = basic?.id ?? null;
    const secret = basic?.secret ?? null;
    if (id === null || secret === null || secret === '') {
      return {
        ok: false,
        error: 'invalid_client',
        description: 'client authentication failed',
        clientId: null,
      };
    }
    if (bodySecret !== null || assertion !== null) {
      return {
        ok: false,
        error: 'invalid_request',
        description:
          'use one client authentication method: HTTP Basic, or the client credentials in the body',
        clientId: null,
      };
    }
    const clientId = id === API_KEY_USERNAME ? await keyIdOf(secret, legacyKeys) : id;
    if (clientId === null) {
      return {
        ok: false,
        error: 'invalid_client',
        description: 'client authentication failed',
        clientId: null,
      };
    }
    if (bodyClientId !== null && bodyClientId !== clientId && id !== API_KEY_USERNAME) {
      return {
        ok: false,
        error: 'invalid_request',
        description: 'client_id in the body differs from the one in the Authorization header',
        clientId,
      };
    }
    return { ok: true, credentials: { method: 'client_secret_basic', clientId, secret } };
  }
  if (assertion !== null) {
    if (body.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE) {
      return {
        ok: false,
        error: 'invalid_request',
        description: `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`,
        clientId: bodyClientId,
      };
    }
    let subject: unknown;
    try {
      subject = decodeJwt(assertion).sub;
    } catch {
      subject = undefined;
    }
    const assertedId = typeof subject === 'string' ? subject : null;
    // As oidc-provider answers it at /token: the assertion's sub names the client.
    if (bodyClientId !== null && assertedId !== null && bodyClientId !== assertedId) {
      return {
        ok: false,
        error: 'invalid_request',
        description: 'client_id differs from the sub of the client assertion',
        clientId: null,
      };
    }
    const clientId = bodyClientId ?? assertedId;
    if (!clientId) {
      return {
        ok: false,
        error: 'invalid_client',
        description: 'client authentication failed',
        clientId: null,
      };
    }
    return { ok: true, credentials: { method: 'private_key_jwt', clientId, assertion } };
  }
  if (bodyClientId !== null && bodySecret !== null) {
    return {
      ok: true,
      credentials: { method: 'client_secret_post', clientId: bodyClientId, secret: bodySecret },
    };
  }
  return {
    ok: false,
    error: 'invalid_client',
    description: 'client authentication is required (HTTP Basic, client_secret_post or private_key_jwt)',
    clientId: bodyClientId,
  };
}

export interface ClientAuthentication {
  /** Set when the client authenticated. */
  authenticated: TokenSubject | null;
  /** The credential behind the presented client id, whether or not the proof matched. */
  subject: TokenSubject | null;
  /** What to fix, when the client proved its key but the assertion is unacceptable (its lifetime). */
  description?: string;
}

/**
 * Client authentication outside oidc-provider (POST /revoke), by the policy above: the same token
 * subjects (cached, dropped by change events), the same secret comparison and verified-secret cache,
 * the same assertion algorithms, clock tolerance and lifetime rules, and the same replay record, so an
 * assertion used at /token is refused here and the other way round.
 */
export class ClientAuthenticator {
  readonly #subjects: SubjectResolver;
  readonly #secrets: SecretVerifier;
  readonly #replay: SingleUseJwtIds;
  readonly #audiences: string[];

  constructor(deps: {
    subjects: SubjectResolver;
    secrets: SecretVerifier;
    replay: SingleUseJwtIds;
    issuer: string;
  }) {
    this.#subjects = deps.subjects;
    this.#secrets = deps.secrets;
    this.#replay = deps.replay;
    const { issuer } = deps;
    // What oidc-provider accepts at /token (issuer, token endpoint), plus this endpoint.
    this.#audiences = [issuer, `${issuer}/token`, `${issuer}/revoke`];
  }

  async authenticate(credentials: ClientCredentials): Promise<ClientAuthentication> {
    const subject = await this.#subjects.findByClientId(credentials.clientId);
    if (!subject) return { authenticated: null, subject: null };
    if (credentials.method !== 'private_key_jwt') {
      const proved = await secretMatches(this.#secrets, subject.credential, credentials.secret);
      return { authenticated: proved ? subject : null, subject };
    }
    const verdict = await this.#verifyAssertion(
      subject.credential,
      credentials.clientId,
      credentials.assertion,
    );
    return verdict === true
      ? { authenticated: subject, subject }
      : { authenticated: null, subject, ...(verdict ? { description: verdict } : {}) };
  }

  /** True when the assertion authenticates; else what to fix, or false to say nothing more. */
  async #verifyAssertion(
    credential: Credential,
    clientId: string,
    assertion: string,
  ): Promise<true | string | false> {
    if (credential.type !== 'private_key_jwt' || !credential.jwks) return false;
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, createLocalJWKSet(credential.jwks), {
        issuer: clientId,
        subject: clientId,
        audience: this.#audiences,
        algorithms: CLIENT_ASSERTION_ALGS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'jti'],
      }));
    } catch {
      return false;
    }
    const problem = checkAssertionTimes(payload);
    if (problem) return problem;
    return this.#replay.markUsed(clientId, payload.jti!, payload.exp! + CLOCK_TOLERANCE_SECONDS);
  }
}
