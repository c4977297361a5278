/**
 * Local verification of an RFC 9068 access token: header (`typ: at+jwt`, an allowed asymmetric `alg`),
 * signature against the issuer's JWKS, `iss`, `aud`, `exp`/`nbf` with leeway, and the claims svcauth
 * always sets. Every refusal becomes an `invalid_token` VerificationError with a plain description.
 */
import { type CryptoKey, errors, type FlattenedJWSInput, type JWSHeaderParameters, jwtVerify } from 'jose';
import { invalidToken, type VerificationError } from './errors.ts';
import { type AccessClaims, readAccessClaims } from './principal.ts';

export interface JwtVerificationOptions {
  issuer: string;
  audiences: readonly string[];
  algorithms: readonly string[];
  clockToleranceSeconds: number;
  maxTokenLength: number;
  getKey: (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;
}

/**
 * RFC 9068 section 2.2, plus what svcauth's resource servers rely on. The permissions, in either of
 * their two forms (`permissions` or `permissions_packed`), are required by readAccessClaims.
 */
const REQUIRED_CLAIMS = ['iss', 'aud', 'exp', 'iat', 'jti', 'sub', 'client_id', 'org_id'];

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export async function verifyAccessToken(
  token: string,
  options: JwtVerificationOptions,
): Promise<AccessClaims> {
  if (token.length > options.maxTokenLength) throw invalidToken('the token is too long');
  if (!JWT_SHAPE.test(token)) throw invalidToken('the token is not a JWT');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, options.getKey, {
      issuer: options.issuer,
      // jose only reads these lists; copying them on every verification would cost for nothing.
      audience: options.audiences as string[],
      algorithms: options.algorithms as string[],
      typ: 'at+jwt',
      clockTolerance: options.clockToleranceSeconds,
      requiredClaims: REQUIRED_CLAIMS,
    }));
  } catch (error) {
    throw describeFailure(error);
  }
  const claims = readAccessClaims(payload);
  if (claims.jti === null) throw invalidToken('the token has no valid "jti" claim');
  return claims;
}

function describeFailure(error: unknown): VerificationError {
  if (error instanceof errors.JWTExpired) return invalidToken('the token has expired', error);
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return invalidToken(`the token has no "${error.claim}" claim`, error);
    switch (error.claim) {
      case 'typ':
        return invalidToken('the token is not an access token (typ must be at+jwt)', error);
      case 'iss':
        return invalidToken('the token was issued by another issuer', error);
      case 'aud':
        return invalidToken('the token is not meant for this resource server (aud)', error);
      case 'nbf':
        return invalidToken('the token is not valid yet', error);
      case 'iat':
        return invalidToken('the token was issued in the future', error);
      default:
        return invalidToken(`the token has an invalid "${error.claim}" claim`, error);
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed)
    return invalidToken('the token is signed with a refused algorithm', error);
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalidToken('the token signature is invalid', error);
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return invalidToken("the token's signing key (kid) is not one of the issuer's keys", error);
  }
  if (error instanceof errors.JWKSMultipleMatchingKeys) {
    return invalidToken('the token names no kid and several issuer keys match', error);
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return invalidToken('the token is malformed', error);
  }
  if (error instanceof errors.JOSENotSupported)
    return invalidToken('the token uses an unsupported algorithm', error);
  // The issuer's keys could not be fetched: the token may be fine, but it cannot be trusted now.
  return invalidToken('the token cannot be verified now (the issuer keys are unavailable)', error);
}
