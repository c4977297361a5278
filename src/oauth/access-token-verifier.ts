import { errors as joseErrors, type JWTPayload, jwtVerify } from 'jose';
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import type { KeyRing } from '../keys/key-ring.ts';

/** Algorithms svcauth signs with (SIGNING_ALG): its own tokens never carry anything else. */
// Ed25519 is EdDSA's fully-specified name (RFC 9864): the same keys, either name in the header.
const SIGNING_ALGS = ['ES256', 'EdDSA', 'Ed25519', 'RS256'];
const CLOCK_TOLERANCE_SECONDS = 5;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 16_384;

const claimsSchema = z.object({
  sub: z.string().min(1),
  client_id: z.string().min(1),
  org_id: z.string().min(1),
  jti: z.string().min(1).max(256),
  exp: z.number(),
  // Absent from a person's token (token exchange): a person has no account whose version could change.
  permissions_version: z.number().int().optional(),
  // The version of the secret the token was obtained with (absent: 1, or a private_key_jwt client).
  secret_version: z.number().int().positive().optional(),
});

export type AccessTokenClaims = z.infer<typeof claimsSchema> & { payload: JWTPayload };

/** A verified token's claims, or why the token is refused (for callers that may tell the bearer). */
export type AccessTokenCheck =
  | { ok: true; claims: AccessTokenClaims }
  | { ok: false; reason: 'expired' | 'audience' | 'invalid' | 'claims' };

/** Whether a presented value has the shape of a JWS compact serialization (as opposed to an API key). */
export function looksLikeJwt(value: string): boolean {
  return value.length <= MAX_TOKEN_LENGTH && JWT_SHAPE.test(value);
}

/** What verifying an access token reads of the configuration: who issues it, for which audiences. */
export type TokenAudiences = Pick<Config, 'issuer' | 'defaultAudience' | 'adminAudience'>;

/**
 * Verifies access tokens this server issued, against its own published keys (no network): signature,
 * `typ: at+jwt`, `iss`, one of its audiences, `exp`. For /introspect, /revoke and the management API.
 */
export class AccessTokenVerifier {
  readonly #keyRing: KeyRing;
  readonly #config: TokenAudiences;

  constructor(keyRing: KeyRing, config: TokenAudiences) {
    this.#keyRing = keyRing;
    this.#config = config;
  }

  /** The token's claims, or null when it is not a valid, unexpired access token of this server. */
  async verify(token: string): Promise<AccessTokenClaims | null> {
    const checked = await this.check(token);
    return checked.ok ? checked.claims : null;
  }

  /**
   * The same verification, for one audience or any of this server's, telling why a token is refused:
   * `expired`, `audience` (valid, but for another audience), `claims` (lacks an svcauth claim),
   * `invalid` (anything else).
   */
  async check(token: string, audience?: string): Promise<AccessTokenCheck> {
    if (!looksLikeJwt(token)) return { ok: false, reason: 'invalid' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keyRing.verificationKeys(), {
        issuer: this.#config.issuer,
        audience: audience ?? [this.#config.defaultAudience, this.#config.adminAudience],
        typ: 'at+jwt',
        algorithms: SIGNING_ALGS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') {
        return { ok: false, reason: 'audience' };
      }
      // Anything else a hostile token could provoke is a refusal too, never a server error.
      return { ok: false, reason: 'invalid' };
    }
    const claims = claimsSchema.safeParse(payload);
    return claims.success
      ? { ok: true, claims: { ...claims.data, payload } }
      : { ok: false, reason: 'claims' };
  }
}
