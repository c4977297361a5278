import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from 'jose';
import type { Config } from '../config/index.ts';
import type { Credential } from '../persistence/schema.ts';
import type { TokenSubject } from '../services/token-subject-service.ts';
import type { StateStore } from '../state/state-store.ts';
import { API_KEY_USERNAME, keyIdOf } from './api-key-auth.ts';
import { readBasicCredentials } from './basic-credentials.ts';
import type { SubjectResolver } from './request-subject.ts';
import type { SecretVerifier } from './secret-verification.ts';

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const CLIENT_ASSERTION_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'PS256', 'PS384', 'PS512', 'RS256'];
const CLOCK_TOLERANCE_SECONDS = 5;

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
export function readClientCredentials(
  authorization: string | undefined,
  body: URLSearchParams,
): ReadClientCredentials {
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
    const clientId = id === API_KEY_USERNAME ? keyIdOf(secret) : id;
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
    const clientId = bodyClientId ?? (typeof subject === 'string' ? subject : null);
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
}

/**
 * Client authentication outside oidc-provider (POST /revoke), with the same rules as /token: the same
 * token subjects (cached, dropped by change events) and the same verified-secret cache, a regenerated
 * secret's predecessor accepted during its grace period, private_key_jwt assertions single-use.
 */
export class ClientAuthenticator {
  readonly #subjects: SubjectResolver;
  readonly #secrets: SecretVerifier;
  readonly #state: StateStore;
  readonly #audiences: string[];

  constructor(deps: {
    subjects: SubjectResolver;
    secrets: SecretVerifier;
    state: StateStore;
    config: Config;
  }) {
    this.#subjects = deps.subjects;
    this.#secrets = deps.secrets;
    this.#state = deps.state;
    const issuer = deps.config.issuer;
    this.#audiences = [issuer, `${issuer}/token`, `${issuer}/revoke`];
  }

  async authenticate(credentials: ClientCredentials): Promise<ClientAuthentication> {
    const subject = await this.#subjects.findByClientId(credentials.clientId);
    if (!subject) return { authenticated: null, subject: null };
    const proved =
      credentials.method === 'private_key_jwt'
        ? await this.#verifyAssertion(subject.credential, credentials.clientId, credentials.assertion)
        : await secretMatches(this.#secrets, subject.credential, credentials.secret);
    return { authenticated: proved ? subject : null, subject };
  }

  async #verifyAssertion(credential: Credential, clientId: string, assertion: string): Promise<boolean> {
    if (credential.type !== 'private_key_jwt' || !credential.jwks) return false;
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, createLocalJWKSet(credential.jwks as JSONWebKeySet), {
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
    const ttl = Math.max(1, Math.ceil(payload.exp! - Date.now() / 1000) + CLOCK_TOLERANCE_SECONDS);
    return this.#state.setIfAbsent(`revoke:assertion:${clientId}:${payload.jti}`, '1', ttl);
  }
}

/** The secret matches the credential's hash, or its predecessor's during a regeneration's grace period. */
export async function secretMatches(
  secrets: SecretVerifier,
  credential: Credential,
  secret: string,
): Promise<boolean> {
  if (!credential.secret_hash) return false;
  if (await secrets.verify(credential.id, secret, credential.secret_hash)) return true;
  const { previous_secret_hash: previous, previous_secret_expires_at: until } = credential;
  return Boolean(
    previous &&
    until &&
    until.getTime() > Date.now() &&
    (await secrets.verify(credential.id, secret, previous)),
  );
}
