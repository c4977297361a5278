/**
 * The console's management token: held in memory only (never in storage or a cookie), fetched again
 * before it expires. Where it comes from is a token function: the standalone sign-in makes one from a
 * client id and secret (client-credentials grant); a host page embedding the components hands its own
 * (e.g. its backend's token exchange for the signed-in person).
 */

/** What a token function returns: the token alone, or with its lifetime in seconds. */
export type TokenGrant = string | { access_token: string; expires_in?: number };
export type TokenFunction = () => Promise<TokenGrant>;

/** The claims of a management token the console reads to know who acts and what it may do. */
export interface TokenClaims {
  sub: string;
  org_id: string;
  exp: number;
  permissions: Record<string, string[]>;
  groups_admin?: boolean;
}

/** Refresh when this share of the lifetime has passed, and at least this long before expiry. */
const REFRESH_AT_SHARE = 0.8;
const REFRESH_MARGIN_MS = 30_000;

export class Session extends EventTarget {
  readonly #fetchToken: TokenFunction;
  #token: string | null = null;
  #claims: TokenClaims | null = null;
  #expiresAt = 0;
  #pending: Promise<string> | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** How many tokens this session has fetched (the first and every refresh). */
  fetched = 0;

  constructor(fetchToken: TokenFunction) {
    super();
    this.#fetchToken = fetchToken;
  }

  get claims(): TokenClaims | null {
    return this.#claims;
  }

  /** A token valid for a while yet: the current one, or a new one. */
  async token(): Promise<string> {
    if (this.#token && Date.now() < this.#expiresAt - 5_000) return this.#token;
    return this.refresh();
  }

  /** Fetches a new token now (one fetch at a time, shared by every caller). */
  refresh(): Promise<string> {
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  async #fetch(): Promise<string> {
    const grant = await this.#fetchToken();
    if (this.#closed) throw new Error('signed out');
    const token = typeof grant === 'string' ? grant : grant.access_token;
    const claims = decodeClaims(token);
    const lifetimeMs = Math.max(
      1_000,
      Math.min(
        claims.exp * 1000 - Date.now(),
        typeof grant !== 'string' && grant.expires_in ? grant.expires_in * 1000 : Infinity,
      ),
    );
    this.#token = token;
    this.#claims = claims;
    this.#expiresAt = Date.now() + lifetimeMs;
    this.fetched += 1;
    clearTimeout(this.#timer);
    const refreshInMs = Math.min(lifetimeMs * REFRESH_AT_SHARE, Math.max(lifetimeMs - REFRESH_MARGIN_MS, 0));
    this.#timer = setTimeout(
      () => {
        this.refresh().catch((error: unknown) =>
          this.dispatchEvent(new CustomEvent('error', { detail: error })),
        );
      },
      refreshInMs || lifetimeMs * REFRESH_AT_SHARE,
    );
    this.dispatchEvent(new Event('change'));
    return token;
  }

  /** Forgets the token and stops refreshing it. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#token = null;
    this.#claims = null;
    this.dispatchEvent(new Event('change'));
  }
}

/** Reads (never verifies: the API does) the payload of a JWT. */
export function decodeClaims(token: string): TokenClaims {
  const payload = token.split('.')[1];
  if (!payload) throw new Error('the token function returned something that is not a JWT');
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as TokenClaims;
}

/**
 * The standalone sign-in: a client id and secret of an admin service account, exchanged at /token for a
 * management token (resource <issuer>/admin). The secret stays in this closure, in memory.
 */
export function clientCredentialsTokenFunction(
  issuer: string,
  clientId: string,
  clientSecret: string,
): TokenFunction {
  return async () => {
    const response = await fetch(new URL('/token', issuer), {
      method: 'POST',
      // Without credentials a 401 (whose challenge is Basic) cannot make the browser prompt for a password.
      credentials: 'omit',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${btoa(`${formEncode(clientId)}:${formEncode(clientSecret)}`)}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${issuer}/admin` }),
    });
    const body = (await response.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    };
    if (!response.ok || !body.access_token) {
      throw new Error(
        body.error_description ?? body.error ?? `the token endpoint answered ${response.status}`,
      );
    }
    return { access_token: body.access_token, expires_in: body.expires_in };
  };
}

/** RFC 6749 2.3.1: client id and secret are form-encoded before Basic encoding. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}
