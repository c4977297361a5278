import { DomainError } from './errors.ts';

const ASYMMETRIC_KTY = new Set(['EC', 'RSA', 'OKP']);
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_KEYS = 10;

export interface PublicJwks {
  keys: Array<Record<string, unknown>>;
}

/**
 * The JWK set a private_key_jwt credential registers: public asymmetric signing keys only. A private
 * or symmetric key here would mean the "no shared secret" promise is already broken, so it is refused.
 */
export function validatePublicJwks(value: unknown): PublicJwks {
  if (!value || typeof value !== 'object' || !Array.isArray((value as PublicJwks).keys)) {
    throw new DomainError('invalid_jwks', 'jwks must be a JWK set: an object with a "keys" array');
  }
  const keys = (value as PublicJwks).keys;
  if (keys.length === 0 || keys.length > MAX_KEYS) {
    throw new DomainError(
      'invalid_jwks',
      `jwks.keys must hold from 1 to ${MAX_KEYS} keys (got ${keys.length})`,
    );
  }
  keys.forEach((key, index) => {
    if (!key || typeof key !== 'object')
      throw new DomainError('invalid_jwks', `jwks.keys[${index}] is not a JWK`);
    if (!ASYMMETRIC_KTY.has(String(key.kty))) {
      throw new DomainError(
        'invalid_jwks',
        `jwks.keys[${index}].kty must be EC, RSA or OKP (got "${key.kty}")`,
      );
    }
    const secret = PRIVATE_MEMBERS.find((member) => member in key);
    if (secret) {
      throw new DomainError(
        'invalid_jwks',
        `jwks.keys[${index}] contains the private member "${secret}"; register only the public key`,
      );
    }
    if (key.use !== undefined && key.use !== 'sig') {
      throw new DomainError('invalid_jwks', `jwks.keys[${index}].use must be "sig" when present`);
    }
  });
  return { keys };
}
