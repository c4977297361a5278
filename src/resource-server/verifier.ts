/**
 * createVerifier: everything a resource server needs to trust svcauth's credentials. A JWT is verified
 * locally (keys from the issuer's JWKS), then checked against the revocation state the feed keeps. An
 * API key is checked by `/introspect`, with a short cache that feed events invalidate.
 */
import { classifyApiKey } from './api-key.ts';
import { readAuthorization } from './authorization-header.ts';
import { checkDpopProof, type DpopRequest, ProofReplayCache } from './dpop.ts';
import { invalidToken } from './errors.ts';
import { basicAuthorization } from './http.ts';
import { createIntrospectionClient, type IntrospectionClient } from './introspection.ts';
import { JwksCache } from './jwks.ts';
import { verifyAccessToken } from './jwt.ts';
import { discoverEndpoints, revocationFeedEndpoint, type ServerEndpoints } from './metadata.ts';
import { DEFAULTS, resolveOptions, type VerifierOptions } from './options.ts';
import { createPrincipal, type Principal, readAccessClaims } from './principal.ts';
import { RevocationFeed } from './revocation-feed.ts';
import {
  REFUSAL_DESCRIPTIONS,
  type RevocationEntry,
  RevocationState,
  type TokenFacts,
} from './revocation-state.ts';
import { TtlCache } from './ttl-cache.ts';

export interface Verifier {
  readonly issuer: string;
  readonly audiences: readonly string[];
  /**
   * Verifies an access token (the JWT itself, without the scheme). Without `dpop` it was presented as
   * Bearer, and a DPoP-bound token is refused; with it, the token must be bound to the proof's key.
   */
  verify(token: string, dpop?: DpopRequest): Promise<Principal>;
  /** Checks an API key (the value presented as the Basic password with username `api`). */
  verifyApiKey(key: string): Promise<Principal>;
  /**
   * Reads an `Authorization` header (Bearer or DPoP JWT, or Basic `api:<key>`) and verifies what it
   * holds; `request` (method, absolute URL, DPoP header) is needed for DPoP-bound tokens.
   */
  authenticate(
    authorization: string | readonly string[] | null | undefined,
    request?: DpopRequest,
  ): Promise<Principal>;
  /**
   * Resolves once the metadata and keys are loaded and, in feed mode, the first revocation snapshot
   * is applied. Rejects if the metadata or keys cannot be loaded, or the feed refuses the subscription
   * (bad credentials, no feed); verifications keep retrying in the background either way.
   */
  ready(): Promise<void>;
  /** Ends the feed subscription and timers. JWTs verified afterwards find the feed stale. */
  close(): Promise<void>;
}

/** Minimum wait before retrying a failed metadata discovery. */
const DISCOVERY_RETRY_MS = 1_000;
const PRUNE_INTERVAL_MS = 60_000;

export function createVerifier(options: VerifierOptions): Verifier {
  const o = resolveOptions(options);
  const now = Date.now;
  const startedAt = now();
  const authorization = o.credentials ? basicAuthorization(o.credentials.name, o.credentials.secret) : null;

  let discovery: { promise: Promise<ServerEndpoints>; failedAt: number | null } | null = null;
  const endpoints = (): Promise<ServerEndpoints> => {
    if (discovery && (discovery.failedAt === null || now() - discovery.failedAt < DISCOVERY_RETRY_MS)) {
      return discovery.promise;
    }
    const current: { promise: Promise<ServerEndpoints>; failedAt: number | null } = {
      promise: discoverEndpoints(o.issuer, o.fetch, o.httpTimeoutMs),
      failedAt: null,
    };
    current.promise.catch(() => {
      current.failedAt = now();
    });
    discovery = current;
    return current.promise;
  };

  let jwksCache: JwksCache | null = null;
  const keys = async (): Promise<JwksCache> => {
    const { jwksUri } = await endpoints();
    jwksCache ??= new JwksCache({
      url: jwksUri,
      fetch: o.fetch,
      timeoutMs: o.httpTimeoutMs,
      refreshIntervalMs: o.jwksRefreshIntervalMs,
      maxAgeMs: o.jwksMaxAgeMs,
      onError: o.onError,
    });
    return jwksCache;
  };

  const introspection: IntrospectionClient | null = authorization
    ? createIntrospectionClient({
        endpoint: async () => (await endpoints()).introspectionEndpoint,
        authorization,
        fetch: o.fetch,
        timeoutMs: o.httpTimeoutMs,
      })
    : null;
  const introspected = new TtlCache<Principal>(o.introspectionCache);

  const state = new RevocationState({ clockToleranceSeconds: o.clockToleranceSeconds });
  const feed =
    o.revocation.mode === 'feed' && authorization
      ? new RevocationFeed({
          url: revocationFeedEndpoint(o.issuer),
          authorization,
          fetch: o.fetch,
          state,
          heartbeatTimeoutMs: o.revocation.heartbeatTimeoutMs,
          onEntry: (entry) => evict(introspected, entry),
          onResync: () => introspected.clear(),
          onError: o.onError,
        })
      : null;
  feed?.start();
  const pruning = feed ? setInterval(() => state.prune(now()), PRUNE_INTERVAL_MS) : null;
  pruning?.unref?.();

  /** Whether the feed's knowledge counts now; before the first snapshot, waits for it within the bound. */
  const feedIsFresh = async (): Promise<boolean> => {
    if (!feed) return false;
    if (!state.initialized) await feed.waitForSnapshot(startedAt + o.revocation.maxStalenessMs - now());
    return feed.isFresh(o.revocation.maxStalenessMs);
  };

  const introspect = async (token: string, what: string) => {
    if (!introspection)
      throw invalidToken(`${what} cannot be checked: this resource server has no credentials`);
    try {
      return await introspection.introspect(token);
    } catch (error) {
      o.onError(error as Error);
      throw invalidToken(`${what} cannot be checked now (introspection failed)`, error);
    }
  };

  const proofs = new ProofReplayCache();
  /**
   * RFC 9449: a bound token needs the DPoP scheme and a fresh proof of its key; an unbound one, Bearer.
   * `jkt` is read from the verified claims (a second decoding of the token would cost on every request).
   */
  const checkBinding = async (token: string, jkt: string | null, dpop: DpopRequest): Promise<void> => {
    if (!jkt) throw invalidToken('the token is not DPoP-bound; send it as "Authorization: Bearer <token>"');
    const checked = await checkDpopProof(dpop, token, jkt, {
      clockToleranceSeconds: o.clockToleranceSeconds,
    });
    if (!checked.ok) throw invalidToken(checked.reason);
    const nowSeconds = Math.floor(now() / 1000);
    if (!proofs.remember(`${jkt}:${checked.jti}`, checked.expiresAt, nowSeconds)) {
      throw invalidToken('the DPoP proof was already used; make a new proof for each request');
    }
  };

  const verify = async (token: string, dpop?: DpopRequest): Promise<Principal> => {
    const claims = await verifyAccessToken(token, {
      issuer: o.issuer,
      audiences: o.audiences,
      algorithms: o.algorithms,
      clockToleranceSeconds: o.clockToleranceSeconds,
      maxTokenLength: DEFAULTS.maxTokenLength,
      // Once discovery has made the key cache, go to it directly (no await on every verification).
      getKey: (header, input) =>
        jwksCache ? jwksCache.getKey(header, input) : keys().then((cache) => cache.getKey(header, input)),
    });
    // After the signature: the binding of an unverified token means nothing.
    if (dpop) await checkBinding(token, claims.cnf_jkt, dpop);
    else if (claims.cnf_jkt) {
      throw invalidToken(
        'the token is bound to a key (DPoP): send it as "Authorization: DPoP <token>" with a DPoP proof',
      );
    }
    const principal = createPrincipal(claims, 'jwt');
    if (o.revocation.mode === 'none') return principal;

    const fresh = feed && state.initialized ? feed.isFresh(o.revocation.maxStalenessMs) : await feedIsFresh();
    // What the feed said still holds when it has gone quiet since.
    const refusal = state.refusalFor(factsOf(principal), now());
    if (refusal) throw invalidToken(REFUSAL_DESCRIPTIONS[refusal]);
    if (fresh) return principal;

    if (o.revocation.onFeedUnavailable === 'fail-closed') {
      throw invalidToken(
        'the token cannot be checked for revocation now (the revocation feed is unavailable)',
      );
    }
    const cacheKey = `jwt:${principal.tokenId}`;
    if (introspected.get(cacheKey)) return principal;
    const result = await introspect(token, 'the token');
    if (!result.active)
      throw invalidToken('the token is no longer active (revoked, or its permissions changed)');
    introspected.set(cacheKey, principal);
    return principal;
  };

  const verifyApiKey = async (key: string): Promise<Principal> => {
    if (key.length > DEFAULTS.maxTokenLength) throw invalidToken('the API key is too long');
    const shape = classifyApiKey(key);
    if (shape.kind === 'invalid') throw invalidToken('the API key is malformed');
    if (shape.kind === 'svcauth' && state.isCredentialRevoked(shape.keyId, now())) {
      throw invalidToken(REFUSAL_DESCRIPTIONS.credential_revoked);
    }
    // With the feed stale, nothing invalidates the cache: every request asks the server.
    const cacheUsable = o.revocation.mode === 'none' || (await feedIsFresh());
    const cacheKey = `key:${await sha256(key)}`;
    if (cacheUsable) {
      const cached = introspected.get(cacheKey);
      if (cached && (o.revocation.mode === 'none' || state.refusalFor(factsOf(cached), now()) === null)) {
        return cached;
      }
      introspected.delete(cacheKey);
    }
    const result = await introspect(key, 'the API key');
    if (!result.active) throw invalidToken('the API key is not valid (unknown, revoked or expired)');
    const claims = readAccessClaims(result.claims);
    const aud = result.claims.aud;
    if (aud !== undefined) {
      const audiences = Array.isArray(aud) ? aud : [aud];
      if (!audiences.some((a) => o.audiences.includes(a as string))) {
        throw invalidToken('the API key does not grant access to this resource server (aud)');
      }
    }
    const principal = createPrincipal(claims, 'api_key');
    introspected.set(cacheKey, principal);
    return principal;
  };

  return {
    issuer: o.issuer,
    audiences: o.audiences,
    verify,
    verifyApiKey,
    async authenticate(header, request) {
      const presented = readAuthorization(header);
      switch (presented.scheme) {
        case 'bearer':
          return verify(presented.token);
        case 'dpop':
          if (!request) throw invalidToken('a DPoP token cannot be checked without its request');
          return verify(presented.token, request);
        case 'api_key':
          return verifyApiKey(presented.key);
        case 'none':
          throw invalidToken('no credentials were presented');
        case 'invalid':
          throw invalidToken(presented.reason);
      }
    },
    async ready() {
      await (await keys()).load();
      if (feed) await feed.ready();
    },
    async close() {
      if (pruning) clearInterval(pruning);
      await feed?.close();
    },
  };
}

function factsOf(principal: Principal): TokenFacts {
  return {
    clientId: principal.clientId,
    accountId: principal.serviceAccountId,
    orgId: principal.orgId,
    tokenId: principal.tokenId,
    permissionsVersion: principal.permissionsVersion,
    secretVersion: principal.secretVersion,
  };
}

/** Drops cached introspection answers an event makes void. */
function evict(cache: TtlCache<Principal>, entry: RevocationEntry): void {
  switch (entry.type) {
    case 'credential':
      return cache.deleteWhere((p) => p.clientId === entry.client_id);
    case 'token':
      return cache.deleteWhere((p) => p.tokenId === entry.jti);
    case 'secret':
      // Before `effective_at` the answer still holds: dropping it early costs one introspection only.
      return cache.deleteWhere(
        (p) => p.clientId === entry.client_id && (p.secretVersion ?? 1) < entry.secret_version,
      );
    case 'account':
      return cache.deleteWhere(
        (p) =>
          p.serviceAccountId === entry.account_id && (p.permissionsVersion ?? -1) < entry.permissions_version,
      );
    case 'organization':
      if (!entry.enabled) cache.deleteWhere((p) => p.orgId === entry.org_id);
  }
}

async function sha256(value: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
