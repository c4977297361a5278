/**
 * RFC 9449 (DPoP) proof verification, for the kit and for svcauth's own management API. A token bound
 * to a key (`cnf.jkt`) is only usable with a fresh proof, signed by that key, for this very request:
 * method (`htm`), URL without query and fragment (`htu`), issued moments ago (`iat`), once (`jti`),
 * and for this token (`ath`, the SHA-256 of the token).
 */
import { calculateJwkThumbprint, EmbeddedJWK, type JWK, jwtVerify } from 'jose';

/** Asymmetric algorithms a proof may be signed with (svcauth's /token accepts a subset of these). */
export const DPOP_ALGORITHMS = [
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
/** How old a proof may be; with the clock tolerance, also how long its jti must be remembered. */
export const DPOP_MAX_AGE_SECONDS = 60;
const MAX_PROOF_LENGTH = 8192;

export interface DpopRequest {
  method: string;
  /** The request's absolute URL, as the client addressed it. */
  url: string;
  /** The `DPoP` header, if any. */
  proof: string | readonly string[] | undefined;
}

export type DpopCheck = { ok: true; jti: string; expiresAt: number } | { ok: false; reason: string };

/**
 * Checks a proof against a bound token: everything but replay, which needs state (the caller records
 * `jti` until `expiresAt`, seconds since the epoch, and refuses one it has seen).
 */
export async function checkDpopProof(
  request: DpopRequest,
  accessToken: string,
  jkt: string,
  options: { clockToleranceSeconds: number; now?: number },
): Promise<DpopCheck> {
  const proof = request.proof;
  if (proof === undefined || proof === '')
    return { ok: false, reason: 'a DPoP proof is required for this token' };
  if (typeof proof !== 'string') return { ok: false, reason: 'send exactly one DPoP header' };
  if (proof.length > MAX_PROOF_LENGTH) return { ok: false, reason: 'the DPoP proof is too long' };
  let payload: Record<string, unknown>;
  let jwk: JWK;
  try {
    const verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: DPOP_ALGORITHMS,
      requiredClaims: ['iat', 'jti', 'htm', 'htu'],
      maxTokenAge: `${DPOP_MAX_AGE_SECONDS}s`,
      clockTolerance: options.clockToleranceSeconds,
      ...(options.now === undefined ? {} : { currentDate: new Date(options.now) }),
    });
    payload = verified.payload;
    jwk = verified.protectedHeader.jwk!;
  } catch {
    return { ok: false, reason: 'the DPoP proof is not valid (signature, typ, alg, or iat out of range)' };
  }
  if ('d' in jwk) return { ok: false, reason: 'the DPoP proof carries a private key' };
  if (payload.htm !== request.method)
    return { ok: false, reason: 'the DPoP proof is for another HTTP method' };
  if (typeof payload.htu !== 'string' || normalizeUrl(payload.htu) !== normalizeUrl(request.url)) {
    return { ok: false, reason: 'the DPoP proof is for another URL' };
  }
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) {
    return { ok: false, reason: 'the DPoP proof has no valid jti' };
  }
  if (payload.ath !== (await sha256Base64url(accessToken))) {
    return { ok: false, reason: 'the DPoP proof is not for this access token (ath)' };
  }
  if ((await calculateJwkThumbprint(jwk, 'sha256')) !== jkt) {
    return { ok: false, reason: 'the DPoP proof is signed by another key than the token is bound to' };
  }
  return {
    ok: true,
    jti: payload.jti,
    expiresAt: (payload.iat as number) + DPOP_MAX_AGE_SECONDS + options.clockToleranceSeconds,
  };
}

/** The `cnf.jkt` a token is bound to, or null for a Bearer token. */
export function boundKeyThumbprint(claims: Record<string, unknown>): string | null {
  const cnf = claims.cnf;
  if (!cnf || typeof cnf !== 'object') return null;
  const jkt = (cnf as Record<string, unknown>).jkt;
  return typeof jkt === 'string' && jkt !== '' ? jkt : null;
}

/** RFC 9449 section 4.3: compared without query and fragment. */
function normalizeUrl(value: string): string | null {
  try {
    const url = new URL(value);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return null;
  }
}

async function sha256Base64url(value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value)));
  let binary = '';
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Remembers proof ids until they expire, for a single process (the kit). */
export class ProofReplayCache {
  readonly #seen = new Map<string, number>();
  readonly #maxEntries: number;

  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  /** True the first time a jti is seen (within its lifetime), false on a replay. */
  remember(jti: string, expiresAt: number, nowSeconds: number): boolean {
    const until = this.#seen.get(jti);
    if (until !== undefined && until >= nowSeconds) return false;
    if (this.#seen.size >= this.#maxEntries) this.#prune(nowSeconds);
    this.#seen.set(jti, expiresAt);
    return true;
  }

  #prune(nowSeconds: number): void {
    for (const [jti, until] of this.#seen) if (until < nowSeconds) this.#seen.delete(jti);
    // Still full of live proofs: forget the oldest rather than grow without bound.
    while (this.#seen.size >= this.#maxEntries) this.#seen.delete(this.#seen.keys().next().value!);
  }
}
