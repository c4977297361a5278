/**
 * The kit's inputs, served from the test: an RFC 8414 metadata document and a JWKS (and, when a test
 * needs them, an introspection endpoint and a revocation feed following docs/revocation-feed.md), plus
 * helpers to sign tokens shaped like svcauth's. Counts requests so tests can assert on re-fetches.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { until } from '../../helpers/eventually.ts';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(alg = 'ES256', kid: string = randomUUID()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

export interface LocalIssuer {
  issuer: string;
  audience: string;
  /** Keys served at /jwks; change it to publish or withdraw keys. */
  published: SigningKey[];
  requests: { jwks: number; metadata: number; introspect: number; revocations: number };
  /** Replaces the handler of a path (e.g. /introspect, /revocations). */
  route(path: string, handler: Handler): void;
  close(): Promise<void>;
}

export async function startLocalIssuer(keys: SigningKey[]): Promise<LocalIssuer> {
  const routes = new Map<string, Handler>();
  const requests = { jwks: 0, metadata: 0, introspect: 0, revocations: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/jwks') requests.jwks += 1;
      if (path === '/.well-known/oauth-authorization-server') requests.metadata += 1;
      if (path === '/introspect') requests.introspect += 1;
      if (path === '/revocations') requests.revocations += 1;
      const handler = routes.get(path);
      if (handler) return handler(req, res, Buffer.concat(chunks).toString('utf8'));
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const local: LocalIssuer = {
    issuer,
    audience: `${issuer}/api`,
    published: keys,
    requests,
    route: (path, handler) => routes.set(path, handler),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const json = (res: http.ServerResponse, body: unknown, type = 'application/json') => {
    res.writeHead(200, { 'content-type': type });
    res.end(JSON.stringify(body));
  };
  local.route('/.well-known/oauth-authorization-server', (_req, res) =>
    json(res, { issuer, jwks_uri: `${issuer}/jwks`, introspection_endpoint: `${issuer}/introspect` }),
  );
  local.route('/jwks', (_req, res) =>
    json(res, { keys: local.published.map((k) => k.publicJwk) }, 'application/jwk-set+json'),
  );
  return local;
}

export interface TokenOverrides {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  /** Claims to leave out. */
  omit?: string[];
}

/** An access token as svcauth issues it (RFC 9068), signed with `key`, with optional deviations. */
export async function accessToken(
  local: LocalIssuer,
  key: SigningKey,
  overrides: TokenOverrides = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: local.issuer,
    sub: 'account-1',
    aud: local.audience,
    client_id: 'svcc_client1',
    jti: randomUUID(),
    iat: now,
    exp: now + 300,
    scope: 'items:read items:read_private',
    org_id: 'org-1',
    permissions: { 'location-a': ['items:read', 'items:read_private'], 'location-b': ['items:read'] },
    permissions_version: 1,
    ...overrides.claims,
  };
  for (const name of overrides.omit ?? []) delete claims[name];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid, ...overrides.header })
    .sign(key.privateKey);
}

/** base64url of a JSON value, for hand-made tokens. */
export function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/**
 * A revocation feed per docs/revocation-feed.md, driven by the test: every subscription is recorded
 * with its headers, and `onConnect` decides what it is sent first.
 */
export interface LocalFeed {
  subscriptions: Array<{ headers: http.IncomingHttpHeaders; res: http.ServerResponse }>;
  /** What to do with a new subscription; default: a snapshot with no entries. */
  onConnect: (sub: { headers: http.IncomingHttpHeaders; res: http.ServerResponse }) => void;
  /** Status of the next subscriptions (default 200). */
  status: number;
  latest(): http.ServerResponse;
  snapshot(res: http.ServerResponse, cursor: string, entries: unknown[]): void;
  event(res: http.ServerResponse, id: string, entry: unknown): void;
  /** A comment line (`: keepalive`): keeps a proxy from closing the stream, proves nothing else. */
  comment(res: http.ServerResponse, text: string): void;
  /** `event: heartbeat`: the server read its revocation state just now and the stream is current. */
  heartbeat(res: http.ServerResponse): void;
  /** `event: unavailable`: the server cannot read its revocation state (it then ends the stream). */
  unavailable(res: http.ServerResponse): void;
  /** Ends every open stream. */
  dropAll(): void;
}

export function serveFeed(local: LocalIssuer): LocalFeed {
  const feed: LocalFeed = {
    subscriptions: [],
    status: 200,
    onConnect: (sub) => feed.snapshot(sub.res, 'c0', []),
    latest: () => feed.subscriptions.at(-1)!.res,
    snapshot: (res, cursor, entries) =>
      res.write(
        `event: snapshot\ndata: ${JSON.stringify({ cursor, generated_at: Math.floor(Date.now() / 1000), entries })}\n\n`,
      ),
    event: (res, id, entry) => res.write(`id: ${id}\nevent: revocation\ndata: ${JSON.stringify(entry)}\n\n`),
    comment: (res, text) => res.write(`: ${text}\n\n`),
    heartbeat: (res) =>
      res.write(`event: heartbeat\ndata: ${JSON.stringify({ checked_at: Date.now() })}\n\n`),
    unavailable: (res) =>
      res.write(
        `event: unavailable\ndata: ${JSON.stringify({ detail: 'the revocation state cannot be read' })}\n\n`,
      ),
    dropAll: () => {
      for (const { res } of feed.subscriptions) if (!res.writableEnded) res.end();
    },
  };
  local.route('/revocations', (req, res) => {
    if (feed.status !== 200) {
      res.writeHead(feed.status, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.flushHeaders();
    const sub = { headers: req.headers, res };
    feed.subscriptions.push(sub);
    feed.onConnect(sub);
  });
  return feed;
}

/** Waits until `check` holds (polling), or fails after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  await until(check, 'the condition', timeoutMs, 10);
}
