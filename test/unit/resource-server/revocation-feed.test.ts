/**
 * The verifier's subscription to the revocation feed, against a feed served by the test that follows
 * docs/revocation-feed.md: snapshot, events with ids, reconnection with Last-Event-ID, resync, and what
 * happens to JWTs once the feed has been unreachable for longer than the bound.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createVerifier,
  VerificationError,
  type Verifier,
  type VerifierOptions,
} from '../../../src/resource-server/index.ts';
import {
  accessToken,
  eventually,
  type LocalFeed,
  type LocalIssuer,
  type SigningKey,
  serveFeed,
  signingKey,
  startLocalIssuer,
} from './local-issuer.ts';

const CREDENTIALS = { name: 'items-api', secret: 's3cret+/=' };
const until = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;

let local: LocalIssuer;
let key: SigningKey;
let feed: LocalFeed;
let verifiers: Verifier[];

beforeEach(async () => {
  key = await signingKey('ES256');
  local = await startLocalIssuer([key]);
  feed = serveFeed(local);
  verifiers = [];
});

afterEach(async () => {
  await Promise.all(verifiers.map((v) => v.close()));
  await local.close();
});

function verifierFor(
  revocation: Partial<VerifierOptions['revocation']> = {},
  errors: Error[] = [],
): Verifier {
  const verifier = createVerifier({
    issuer: local.issuer,
    audience: local.audience,
    credentials: CREDENTIALS,
    revocation: { mode: 'feed', ...revocation },
    onError: (error) => errors.push(error),
  });
  verifiers.push(verifier);
  return verifier;
}

async function refusal(promise: Promise<unknown>): Promise<VerificationError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerificationError);
  return error as VerificationError;
}

async function accepted(verifier: Verifier, token: string): Promise<boolean> {
  return verifier.verify(token).then(
    () => true,
    () => false,
  );
}

describe('the revocation feed subscription', () => {
  it('subscribes with the resource server credentials and is ready after the snapshot', async () => {
    const verifier = verifierFor();
    await verifier.ready();
    expect(feed.subscriptions).toHaveLength(1);
    const { headers } = feed.subscriptions[0]!;
    expect(headers.accept).toBe('text/event-stream');
    expect(headers['last-event-id']).toBeUndefined();
    const decoded = Buffer.from(headers.authorization!.replace(/^Basic /, ''), 'base64').toString();
    expect(decoded).toBe(`items-api:${encodeURIComponent(CREDENTIALS.secret)}`);
  });

  it('refuses tokens the snapshot names, and tokens named by later events', async () => {
    const revokedClient = await accessToken(local, key, { claims: { client_id: 'svcc_revoked' } });
    const laterToken = await accessToken(local, key);
    const other = await accessToken(local, key, { claims: { client_id: 'svcc_other' } });
    feed.onConnect = ({ res }) =>
      feed.snapshot(res, 'c1', [
        {
          type: 'credential',
          client_id: 'svcc_revoked',
          org_id: 'org-1',
          account_id: 'account-1',
          until: until(300),
        },
      ]);
    const verifier = verifierFor();
    await verifier.ready();
    expect((await refusal(verifier.verify(revokedClient))).description).toMatch(
      /credential has been revoked/,
    );
    expect(await accepted(verifier, laterToken)).toBe(true);

    const jti = JSON.parse(Buffer.from(laterToken.split('.')[1]!, 'base64url').toString()).jti;
    feed.event(feed.latest(), 'c2', { type: 'token', jti, org_id: 'org-1', until: until(300) });
    await eventually(async () => !(await accepted(verifier, laterToken)));
    expect((await refusal(verifier.verify(laterToken))).description).toMatch(/token has been revoked/);
    expect(await accepted(verifier, other)).toBe(true);
  });

  it('refuses tokens older than a permissions change and accepts newer ones', async () => {
    const verifier = verifierFor();
    await verifier.ready();
    feed.event(feed.latest(), 'c1', {
      type: 'account',
      account_id: 'account-1',
      org_id: 'org-1',
      permissions_version: 2,
      until: until(300),
    });
    const old = await accessToken(local, key, { claims: { permissions_version: 1 } });
    const renewed = await accessToken(local, key, { claims: { permissions_version: 2 } });
    await eventually(async () => !(await accepted(verifier, old)));
    expect((await refusal(verifier.verify(old))).description).toMatch(/permissions changed/);
    expect(await accepted(verifier, renewed)).toBe(true);
  });

  it('reconnects with Last-Event-ID and receives what it missed', async () => {
    const verifier = verifierFor();
    await verifier.ready();
    const first = await accessToken(local, key, { claims: { jti: 'jti-5' } });
    feed.event(feed.latest(), 'c5', { type: 'token', jti: 'jti-5', org_id: 'org-1', until: until(300) });
    await eventually(async () => !(await accepted(verifier, first)));
    const token = await accessToken(local, key, { claims: { client_id: 'svcc_missed' } });
    feed.onConnect = ({ res }) =>
      feed.event(res, 'c6', {
        type: 'credential',
        client_id: 'svcc_missed',
        org_id: 'org-1',
        account_id: 'account-1',
        until: until(300),
      });
    feed.dropAll();
    await eventually(() => feed.subscriptions.length === 2);
    expect(feed.subscriptions[1]!.headers['last-event-id']).toBe('c5');
    await eventually(async () => !(await accepted(verifier, token)));
  });

  it('replaces its state when the server answers a reconnection with a new snapshot', async () => {
    const token = await accessToken(local, key, { claims: { client_id: 'svcc_temporarily' } });
    feed.onConnect = ({ res }) =>
      feed.snapshot(res, 'c1', [
        {
          type: 'credential',
          client_id: 'svcc_temporarily',
          org_id: 'org-1',
          account_id: 'a',
          until: until(300),
        },
      ]);
    const verifier = verifierFor();
    await verifier.ready();
    expect(await accepted(verifier, token)).toBe(false);
    feed.onConnect = ({ res }) => feed.snapshot(res, 'c100', []);
    feed.dropAll();
    await eventually(() => feed.subscriptions.length === 2);
    await eventually(() => accepted(verifier, token));
  });

  it('fails closed once the feed has been unreachable for longer than maxStalenessMs', async () => {
    const errors: Error[] = [];
    const verifier = verifierFor({ maxStalenessMs: 300 }, errors);
    await verifier.ready();
    const token = await accessToken(local, key);
    expect(await accepted(verifier, token)).toBe(true);

    feed.status = 503;
    feed.dropAll();
    // Within the bound the last known state still counts...
    expect(await accepted(verifier, token)).toBe(true);
    // ...after it, the token is refused.
    await eventually(async () => !(await accepted(verifier, token)));
    expect((await refusal(verifier.verify(token))).description).toMatch(/revocation feed is unavailable/);
    expect(errors.some((e) => /503/.test(e.message))).toBe(true);

    // Back online: accepted again, without an introspection call.
    feed.status = 200;
    await eventually(() => accepted(verifier, token));
    expect(local.requests.introspect).toBe(0);
  });

  it('falls back to introspection when configured so', async () => {
    const verifier = verifierFor({ maxStalenessMs: 200, onFeedUnavailable: 'introspect' });
    await verifier.ready();
    const active = await accessToken(local, key);
    const revoked = await accessToken(local, key, { claims: { client_id: 'svcc_gone' } });
    const seen: Array<{ authorization: string | undefined; token: string | null }> = [];
    local.route('/introspect', (req, res, body) => {
      const token = new URLSearchParams(body).get('token');
      seen.push({ authorization: req.headers.authorization, token });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(token === active ? { active: true } : { active: false }));
    });
    feed.status = 503;
    feed.dropAll();
    await eventually(async () => !(await accepted(verifier, revoked)));
    expect((await refusal(verifier.verify(revoked))).description).toMatch(/no longer active/);
    expect(await accepted(verifier, active)).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]!.authorization).toMatch(/^Basic /);

    // An active answer is reused for a short while.
    const calls = local.requests.introspect;
    expect(await accepted(verifier, active)).toBe(true);
    expect(local.requests.introspect).toBe(calls);
  });

  it('fails closed before the first snapshot once the bound has passed', async () => {
    feed.onConnect = () => {}; // connected, but never sends the snapshot
    const verifier = verifierFor({ maxStalenessMs: 200 });
    const error = await refusal(verifier.verify(await accessToken(local, key)));
    expect(error.description).toMatch(/revocation feed is unavailable/);
  });

  it('reports a refused subscription through ready()', async () => {
    feed.status = 401;
    const verifier = verifierFor();
    await expect(verifier.ready()).rejects.toThrow(/401/);
  });

  it('does not count keepalive comments as freshness: a stream of only keepalives fails closed (issue 12, race 3)', async () => {
    // A server that cannot read its revocation state (its Redis is down) may still hold the stream
    // open and write keepalives: they prove the connection, not that the state is current.
    const verifier = verifierFor({ maxStalenessMs: 300 });
    await verifier.ready();
    const token = await accessToken(local, key);
    expect(await accepted(verifier, token)).toBe(true);
    const keepalives = setInterval(() => feed.comment(feed.latest(), 'keepalive'), 20);
    try {
      await eventually(async () => !(await accepted(verifier, token)));
      expect((await refusal(verifier.verify(token))).description).toMatch(/revocation feed is unavailable/);
      expect(feed.subscriptions).toHaveLength(1);
    } finally {
      clearInterval(keepalives);
    }
  });

  it('stays fresh on heartbeat events, which prove the server read its state', async () => {
    const verifier = verifierFor({ maxStalenessMs: 300 });
    await verifier.ready();
    const token = await accessToken(local, key);
    const heartbeats = setInterval(() => feed.heartbeat(feed.latest()), 20);
    try {
      // Several times the bound, every verification is accepted from the local state alone.
      const started = Date.now();
      while (Date.now() - started < 1_000) {
        expect(await accepted(verifier, token)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(local.requests.introspect).toBe(0);
    } finally {
      clearInterval(heartbeats);
    }
  });

  it('an unavailable event ends the vouching: the state goes stale after maxStalenessMs and the kit reports it', async () => {
    const errors: Error[] = [];
    const verifier = verifierFor({ maxStalenessMs: 300 }, errors);
    await verifier.ready();
    const token = await accessToken(local, key);
    // The server announces it cannot read its state and ends the stream; reconnections get 503.
    feed.status = 503;
    feed.unavailable(feed.latest());
    feed.dropAll();
    await eventually(async () => !(await accepted(verifier, token)));
    expect((await refusal(verifier.verify(token))).description).toMatch(/revocation feed is unavailable/);
    expect(errors.some((e) => /cannot read its revocation state/.test(e.message))).toBe(true);
  });

  it('close() ends the subscription', async () => {
    const verifier = verifierFor();
    await verifier.ready();
    const { res } = feed.subscriptions[0]!;
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
    await verifier.close();
    await closed;
    expect(feed.subscriptions).toHaveLength(1);
  });
});
