import { importJWK } from 'jose';
import { DomainError } from './errors.ts';
import { echo, isSingleLineText } from './text.ts';

const MAX_KEYS = 10;
/** Ten RSA-8192 keys with every optional member fit well within this. */
const MAX_JWKS_BYTES = 32 * 1024;
const MIN_RSA_BITS = 2048;
/** Longer moduli buy nothing and make every assertion check slower. */
const MAX_RSA_BITS = 8192;
const MAX_MEMBER_CHARS = 2048;

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * Members a registered public signing key may carry. Anything else is refused rather than stored:
 * x5u and jku would point a verifier at a URL of the registrant's choosing, x5c/x5t are certificates
 * svcauth never checks, and unknown members are only ballast.
 */
const MEMBERS_BY_KTY: Record<string, readonly string[]> = {
  EC: ['crv', 'x', 'y'],
  RSA: ['n', 'e'],
  OKP: ['crv', 'x'],
};
const OPTIONAL_MEMBERS = ['kid', 'alg', 'use', 'key_ops', 'ext'];

/** Algorithms a client assertion may be signed with, by key type (the metadata advertises these). */
const ALGS_BY_KTY: Record<string, readonly string[]> = {
  EC: ['ES256', 'ES384', 'ES512'],
  RSA: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  OKP: ['EdDSA', 'Ed25519'],
};
const EC_ALG_BY_CRV: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const OKP_SIGNING_CURVES = new Set(['Ed25519', 'Ed448']);

export interface PublicJwks {
  keys: Array<Record<string, unknown>>;
}

function refuse(index: number | null, message: string): never {
  const field = index === null ? 'jwks' : `jwks.keys[${index}]`;
  throw new DomainError('invalid_jwks', `${field} ${message}`, { field });
}

/**
 * The JWK set a private_key_jwt credential registers: public asymmetric signing keys only, each one
 * able to verify a signature. A private or symmetric key here would mean the "no shared secret"
 * promise is already broken; a key that cannot verify (too short, a point off its curve) would only
 * fail later, at /token, with no hint why. So every key is imported before it is stored.
 */
export async function validatePublicJwks(value: unknown): Promise<PublicJwks> {
  if (!value || typeof value !== 'object' || !Array.isArray((value as PublicJwks).keys)) {
    refuse(null, 'must be a JWK set: an object with a "keys" array');
  }
  const keys = (value as PublicJwks).keys;
  if (keys.length === 0 || keys.length > MAX_KEYS) {
    refuse(null, `must hold from 1 to ${MAX_KEYS} keys (got ${keys.length})`);
  }
  // Key by key first, so a refusal names the key at fault; each member is bounded there.
  for (const [index, key] of keys.entries()) await validatePublicKey(key, index);
  const size = Buffer.byteLength(JSON.stringify(value));
  if (size > MAX_JWKS_BYTES) refuse(null, `is ${size} bytes; at most ${MAX_JWKS_BYTES} are accepted`);
  return { keys };
}

async function validatePublicKey(key: unknown, index: number): Promise<void> {
  if (!key || typeof key !== 'object' || Array.isArray(key)) refuse(index, 'is not a JWK object');
  const jwk = key as Record<string, unknown>;
  const kty = jwk.kty;
  if (typeof kty !== 'string' || !MEMBERS_BY_KTY[kty]) {
    refuse(
      index,
      `.kty must be EC, RSA or OKP (got ${typeof kty === 'string' ? `"${echo(kty)}"` : typeof kty})`,
    );
  }
  const secret = PRIVATE_MEMBERS.find((member) => member in jwk);
  if (secret) refuse(index, `contains the private member "${secret}"; register only the public key`);
  const allowed = new Set(['kty', ...MEMBERS_BY_KTY[kty], ...OPTIONAL_MEMBERS]);
  for (const [member, memberValue] of Object.entries(jwk)) {
    if (!allowed.has(member)) {
      refuse(
        index,
        `has the member "${echo(member)}", which a ${kty} public signing key does not take; allowed: ${[...allowed].join(', ')}`,
      );
    }
    if (member === 'key_ops' || member === 'ext') continue;
    if (typeof memberValue !== 'string' || memberValue.length === 0)
      refuse(index, `.${member} must be a non-empty string`);
    if (memberValue.length > MAX_MEMBER_CHARS) {
      refuse(
        index,
        `.${member} is ${memberValue.length} characters; at most ${MAX_MEMBER_CHARS} are accepted`,
      );
    }
    if (!isSingleLineText(memberValue))
      refuse(index, `.${member} must not contain NUL or control characters`);
  }
  if (jwk.ext !== undefined && typeof jwk.ext !== 'boolean') refuse(index, '.ext must be a boolean');
  if (jwk.use !== undefined && jwk.use !== 'sig') refuse(index, '.use must be "sig" when present');
  if (
    jwk.key_ops !== undefined &&
    (!Array.isArray(jwk.key_ops) || jwk.key_ops.length !== 1 || jwk.key_ops[0] !== 'verify')
  ) {
    refuse(index, '.key_ops must be ["verify"] when present: the key only verifies client assertions');
  }
  const alg = typeof jwk.alg === 'string' ? jwk.alg : defaultAlg(jwk);
  if (!ALGS_BY_KTY[kty]!.includes(alg)) {
    refuse(
      index,
      `.alg "${echo(alg)}" cannot be used with a ${kty} key; use one of ${ALGS_BY_KTY[kty]!.join(', ')}`,
    );
  }
  if (kty === 'EC' && jwk.alg !== undefined && EC_ALG_BY_CRV[String(jwk.crv)] !== jwk.alg) {
    refuse(index, `.alg "${echo(alg)}" does not match the curve ${echo(String(jwk.crv))}`);
  }
  if (kty === 'OKP' && !OKP_SIGNING_CURVES.has(String(jwk.crv))) {
    refuse(index, `.crv must be Ed25519 or Ed448 for a signing key (got "${echo(String(jwk.crv))}")`);
  }
  if (kty === 'RSA') {
    const bits = modulusBits(String(jwk.n));
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
      refuse(index, `is an RSA key of ${bits} bits; use ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`);
    }
  }
  try {
    await importJWK({ ...jwk, ext: true }, alg);
  } catch {
    refuse(index, `is not a usable ${kty} public key (its members do not form a valid key)`);
  }
}

function defaultAlg(jwk: Record<string, unknown>): string {
  if (jwk.kty === 'EC') return EC_ALG_BY_CRV[String(jwk.crv)] ?? 'ES256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  return 'RS256';
}

function modulusBits(n: string): number {
  const bytes = Buffer.from(n, 'base64url');
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start += 1;
  if (start === bytes.length) return 0;
  return (bytes.length - start - 1) * 8 + (32 - Math.clz32(bytes[start]!));
}
