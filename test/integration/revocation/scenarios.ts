/**
 * What issue 5 promises, as scenarios run against a deployment: two svcauth processes sharing Postgres
 * and Redis, or one process on the in-process state store. "Instance A" and "instance B" are the same
 * server in the latter.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../../src/resource-server/index.ts';
import {
  accessToken,
  RESOURCE_SERVER,
  bootstrap,
  type Deployment,
  eventually,
  FeedSubscriber,
  feedSnapshot,
  introspect,
  type Organization,
  requestToken,
  revokeToken,
  serviceAccount,
} from './revocation-helpers.ts';

const HORIZON_SECONDS = 3660;
const now = () => Math.floor(Date.now() / 1000);

export function describeRevocationScenarios(name: string, start: () => Promise<Deployment>): void {
  describe(name, () => {
    let deployment: Deployment;
    let org: Organization;

    beforeAll(async () => {
      deployment = await start();
      org = await bootstrap(deployment, deployment.a, `rev-${randomUUID().slice(0, 8)}`);
    }, 120_000);

    afterAll(async () => {
      await deployment?.stop();
    }, 60_000);

    const revokeCredential = (accountId: string, credentialId: string) =>
      org.admin.ok('POST', `/service-accounts/${accountId}/credentials/${credentialId}:revoke`);

    it('a credential revoked through instance A is refused by /token and /introspect on both instances at once, and B’s feed subscriber hears of it', async () => {
      const credential = await serviceAccount(org, [org.everything]);
      // Both instances have the credential's subject and verified secret cached.
      const tokenA = await accessToken(deployment.a, credential.clientId, credential.secret);
      const tokenB = await accessToken(deployment.b, credential.clientId, credential.secret);
      expect((await introspect(deployment.b, tokenA)).body).toMatchObject({
        active: true,
        client_id: credential.clientId,
        sub: credential.accountId,
        org_id: org.orgId,
        iss: deployment.issuer,
        token_type: 'Bearer',
      });

      const subscriber = await FeedSubscriber.connect(deployment.b);
      try {
        const snapshot = await subscriber.waitFor((event) => event.event === 'snapshot');
        expect(snapshot.data).toMatchObject({ cursor: expect.any(String), entries: expect.any(Array) });

        const revokedAt = now();
        await revokeCredential(credential.accountId, credential.credentialId);
        for (const url of [deployment.a, deployment.b]) {
          const refused = await requestToken(url, credential.clientId, credential.secret);
          expect(refused.status).toBe(401);
          expect(refused.body.error).toBe('invalid_client');
          for (const token of [tokenA, tokenB]) {
            expect((await introspect(url, token)).body).toEqual({ active: false });
          }
        }

        const { event, data } = await subscriber.waitFor(
          (e, d) => e.event === 'revocation' && d.client_id === credential.clientId,
        );
        expect(data).toEqual({
          type: 'credential',
          client_id: credential.clientId,
          org_id: org.orgId,
          account_id: credential.accountId,
          until: expect.any(Number),
        });
        expect(data.until).toBeGreaterThanOrEqual(revokedAt + HORIZON_SECONDS);
        expect(event.lastEventId).toMatch(/^[0-9A-Za-z]+:\d+-\d+$/);
        // The JSON snapshot of either instance lists it.
        const listed = await feedSnapshot(deployment.a);
        expect(listed.status).toBe(200);
        expect(listed.body.entries).toContainEqual(data);
      } finally {
        await subscriber.close();
      }
    });

    it('a subscriber reconnecting with its cursor gets what it missed and no snapshot; a foreign cursor gets a snapshot', async () => {
      const first = await serviceAccount(org, [org.reader]);
      const second = await serviceAccount(org, [org.reader]);
      const subscriber = await FeedSubscriber.connect(deployment.b);
      let cursor: string;
      try {
        await subscriber.waitFor((event) => event.event === 'snapshot');
        await revokeCredential(first.accountId, first.credentialId);
        const heard = await subscriber.waitFor(
          (e, d) => e.event === 'revocation' && d.client_id === first.clientId,
        );
        cursor = heard.event.lastEventId;
      } finally {
        await subscriber.close();
      }
      // Revoked while nobody listened, through the other instance.
      await revokeCredential(second.accountId, second.credentialId);

      const resumed = await FeedSubscriber.connect(deployment.a, cursor);
      try {
        const missed = await resumed.waitFor((e) => e.event === 'revocation');
        expect(missed.data).toMatchObject({ type: 'credential', client_id: second.clientId });
        expect(resumed.events.some((e) => e.event === 'snapshot')).toBe(false);
      } finally {
        await resumed.close();
      }

      const foreign = await FeedSubscriber.connect(deployment.b, 'not-a-cursor');
      try {
        const snapshot = await foreign.waitFor((e) => e.event === 'snapshot');
        expect(snapshot.data.entries).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ client_id: first.clientId }),
            expect.objectContaining({ client_id: second.clientId }),
          ]),
        );
      } finally {
        await foreign.close();
      }
    });

    it('a permissions edit makes older tokens stale at /introspect and emits an account entry on the feed', async () => {
      const credential = await serviceAccount(org, [org.reader]);
      const before = await accessToken(deployment.b, credential.clientId, credential.secret);
      const oldVersion = decodeJwt(before).permissions_version as number;
      expect((await introspect(deployment.a, before)).body).toMatchObject({
        active: true,
        scope: 'items:read',
      });

      const subscriber = await FeedSubscriber.connect(deployment.b);
      try {
        await subscriber.waitFor((event) => event.event === 'snapshot');
        await org.admin.ok('PATCH', `/service-accounts/${credential.accountId}`, {
          roles: [{ role_id: org.everything }],
        });
        for (const url of [deployment.a, deployment.b]) {
          expect((await introspect(url, before)).body).toEqual({ active: false });
        }
        const { data } = await subscriber.waitFor(
          (e, d) => e.event === 'revocation' && d.type === 'account' && d.account_id === credential.accountId,
        );
        expect(data).toMatchObject({ org_id: org.orgId, permissions_version: expect.any(Number) });
        expect(data.permissions_version).toBeGreaterThan(oldVersion);

        const after = await accessToken(deployment.a, credential.clientId, credential.secret);
        expect(decodeJwt(after).permissions_version).toBe(data.permissions_version);
        expect((await introspect(deployment.b, after)).body).toMatchObject({ active: true });
      } finally {
        await subscriber.close();
      }
    });

    it('introspects an API key with the claims a token would carry, and not once it is revoked', async () => {
      const key = await serviceAccount(org, [org.reader], 'api_key');
      const answer = await introspect(deployment.b, key.secret);
      expect(answer.body).toEqual({
        active: true,
        iss: deployment.issuer,
        sub: key.accountId,
        aud: `${deployment.issuer}/api`,
        client_id: key.clientId,
        org_id: org.orgId,
        scope: 'items:read',
        permissions: { '*': ['items:read'] },
        permissions_version: expect.any(Number),
        secret_version: 1,
        svcauth_credential_type: 'api_key',
      });
      expect(answer.headers.get('cache-control')).toBe('no-store');
      // A mistyped key: a different last character (a fixed 'x' left a key ending in 'x' unchanged).
      const mistyped = `${key.secret.slice(0, -1)}${key.secret.endsWith('x') ? 'y' : 'x'}`;
      for (const garbage of ['svcak_nope', mistyped, 'a.b.c', '']) {
        const inactive = await introspect(deployment.a, garbage || ' ');
        expect(inactive.body).toEqual({ active: false });
      }
      await revokeCredential(key.accountId, key.credentialId);
      for (const url of [deployment.a, deployment.b]) {
        expect((await introspect(url, key.secret)).body).toEqual({ active: false });
      }
    });

    it('refuses /introspect and /revocations without resource server credentials', async () => {
      const credential = await serviceAccount(org, [org.reader]);
      const token = await accessToken(deployment.a, credential.clientId, credential.secret);
      const anonymous = await fetch(`${deployment.a}/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ error: 'invalid_client' });
      const feed = await fetch(`${deployment.b}/revocations`, {
        headers: { authorization: `Basic ${Buffer.from('scenario-rs:wrong').toString('base64')}` },
      });
      expect(feed.status).toBe(401);
      expect(feed.headers.get('www-authenticate')).toMatch(/^Basic /);
    });

    it('POST /revoke revokes a client’s own token everywhere; other clients’ and invalid tokens are answered 200 and left alone', async () => {
      const mine = await serviceAccount(org, [org.reader]);
      const other = await serviceAccount(org, [org.reader]);
      const revoked = await accessToken(deployment.a, mine.clientId, mine.secret);
      const kept = await accessToken(deployment.a, mine.clientId, mine.secret);
      const foreign = await accessToken(deployment.b, other.clientId, other.secret);

      const subscriber = await FeedSubscriber.connect(deployment.a);
      try {
        await subscriber.waitFor((event) => event.event === 'snapshot');
        const answer = await revokeToken(deployment.b, mine.clientId, mine.secret, revoked);
        expect(answer.status).toBe(200);
        for (const url of [deployment.a, deployment.b]) {
          expect((await introspect(url, revoked)).body).toEqual({ active: false });
          expect((await introspect(url, kept)).body).toMatchObject({ active: true });
        }
        const claims = decodeJwt(revoked);
        const { data } = await subscriber.waitFor((e, d) => e.event === 'revocation' && d.jti === claims.jti);
        expect(data).toEqual({ type: 'token', jti: claims.jti, org_id: org.orgId, until: claims.exp });
      } finally {
        await subscriber.close();
      }

      expect((await revokeToken(deployment.a, mine.clientId, mine.secret, foreign)).status).toBe(200);
      expect((await introspect(deployment.b, foreign)).body).toMatchObject({ active: true });
      expect((await revokeToken(deployment.a, mine.clientId, mine.secret, 'not-a-token')).status).toBe(200);
      // The client itself keeps working.
      expect((await requestToken(deployment.b, mine.clientId, mine.secret)).status).toBe(200);

      const unauthenticated = await revokeToken(deployment.a, mine.clientId, 'wrong secret', kept);
      expect(unauthenticated.status).toBe(401);
      expect(unauthenticated.body.error).toBe('invalid_client');
      expect((await introspect(deployment.a, kept)).body).toMatchObject({ active: true });
      const missing = await fetch(`${deployment.a}/revoke`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${mine.clientId}:${mine.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: '',
      });
      expect(missing.status).toBe(400);
      expect(await missing.json()).toMatchObject({ error: 'invalid_request' });

      // The management API is a resource server too: a revoked admin token no longer works there.
      const { clientId, secret } = org.adminClient;
      const adminToken = await accessToken(deployment.a, clientId, secret, {
        resource: `${deployment.issuer}/admin`,
      });
      const settings = (token: string) =>
        fetch(`${deployment.b}/admin/v1/settings`, { headers: { authorization: `Bearer ${token}` } });
      expect((await settings(adminToken)).status).toBe(200);
      expect((await revokeToken(deployment.b, clientId, secret, adminToken)).status).toBe(200);
      const refused = await settings(adminToken);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ detail: 'the access token has been revoked' });
    });

    it('a burst of wrong secrets locks that client id out on every instance while other clients keep getting tokens', async () => {
      const victim = await serviceAccount(org, [org.reader]);
      const bystander = await serviceAccount(org, [org.reader]);
      expect((await requestToken(deployment.a, bystander.clientId, bystander.secret)).status).toBe(200);

      for (let attempt = 0; attempt < 10; attempt++) {
        const url = attempt % 2 ? deployment.b : deployment.a;
        expect((await requestToken(url, victim.clientId, `wrong ${attempt}`)).status).toBe(401);
      }
      for (const url of [deployment.a, deployment.b]) {
        // The lock is recorded after the tenth answer; it is in force on every instance right after.
        const refused = await eventually(async () => {
          const response = await requestToken(url, victim.clientId, victim.secret);
          expect(response.status).toBe(429);
          return response;
        }, 5_000);
        const retryAfter = Number(refused.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThan(0);
        expect(retryAfter).toBeLessThanOrEqual(900);
        expect(refused.body).toEqual({
          error: 'invalid_client',
          error_description: `too many failed authentications; retry after ${retryAfter} seconds`,
        });
        expect((await requestToken(url, bystander.clientId, bystander.secret)).status).toBe(200);
        const revocation = await revokeToken(url, victim.clientId, victim.secret, 'anything');
        expect(revocation.status).toBe(429);
        expect(revocation.headers.get('retry-after')).toBeTruthy();
      }

      // A made-up client id is locked out the same way, with the same answer.
      const madeUp = `svcc_${randomUUID().replaceAll('-', '').slice(0, 22)}`;
      for (let attempt = 0; attempt < 10; attempt++) {
        expect((await requestToken(deployment.b, madeUp, 'guess')).status).toBe(401);
      }
      const unknown = await eventually(async () => {
        const response = await requestToken(deployment.a, madeUp, 'guess');
        expect(response.status).toBe(429);
        return response;
      }, 5_000);
      expect(unknown.body.error_description).toMatch(
        /^too many failed authentications; retry after \d+ seconds$/,
      );

      const audited = await eventually(async () => {
        const rows = await sql<{ target_id: string; outcome: string }>`
          select target_id, outcome from audit_events where org_id = ${org.orgId} and action = 'token.lockout'`.execute(
          deployment.db,
        );
        expect(rows.rows).toHaveLength(1);
        return rows.rows[0]!;
      }, 5_000);
      expect(audited).toEqual({ target_id: victim.credentialId, outcome: 'failure' });

      // The instances that decided the lockouts counted them in /metrics.
      let lockouts = 0;
      for (const instance of [deployment.a, deployment.b]) {
        const text = await (await fetch(`${instance}/metrics`)).text();
        for (const line of text.split('\n')) {
          if (line.startsWith('svcauth_lockouts_total{')) lockouts += Number(line.split(' ').at(-1));
        }
      }
      expect(lockouts).toBeGreaterThanOrEqual(2);
    });

    it('a secret verified on one instance costs the other no bcrypt; a regenerated or revoked secret is refused by both at once', async () => {
      const bcryptCompares = async (instance: string) => {
        const text = await (await fetch(`${instance}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('svcauth_bcrypt_compares '));
        return Number(line?.split(' ').at(-1));
      };
      const credential = await serviceAccount(org, [org.reader]);
      expect((await requestToken(deployment.a, credential.clientId, credential.secret)).status).toBe(200);
      // B never saw this secret: the record A wrote vouches for it (in one process, A's memory does).
      const before = await bcryptCompares(deployment.b);
      expect((await requestToken(deployment.b, credential.clientId, credential.secret)).status).toBe(200);
      expect(await bcryptCompares(deployment.b)).toBe(before);

      const regenerated = await org.admin.ok(
        'POST',
        `/service-accounts/${credential.accountId}/credentials/${credential.credentialId}:regenerate`,
        {},
      );
      for (const instance of [deployment.a, deployment.b]) {
        expect((await requestToken(instance, credential.clientId, credential.secret)).status).toBe(401);
      }
      const secret = regenerated.client_secret as string;
      for (const instance of [deployment.b, deployment.a]) {
        expect((await requestToken(instance, credential.clientId, secret)).status).toBe(200);
      }

      // Verified on A only, then revoked through A: B, which could only have recalled it, refuses it too.
      const other = await serviceAccount(org, [org.reader]);
      expect((await requestToken(deployment.a, other.clientId, other.secret)).status).toBe(200);
      await revokeCredential(other.accountId, other.credentialId);
      for (const instance of [deployment.b, deployment.a]) {
        expect((await requestToken(instance, other.clientId, other.secret)).status).toBe(401);
      }
    });

    it('a token minted with a regenerated secret stops when that secret stops: at once without a grace period, at its end with one', async () => {
      const kit = createVerifier({
        issuer: deployment.issuer,
        audience: `${deployment.issuer}/api`,
        credentials: RESOURCE_SERVER,
        revocation: { mode: 'feed' },
      });
      await kit.ready();
      const regenerate = (credential: { accountId: string; credentialId: string }, body: object) =>
        org.admin.ok(
          'POST',
          `/service-accounts/${credential.accountId}/credentials/${credential.credentialId}:regenerate`,
          body,
        );
      const activeEverywhere = async (token: string, active: boolean) => {
        for (const url of [deployment.a, deployment.b]) {
          expect((await introspect(url, token)).body.active).toBe(active);
        }
      };
      try {
        // Without a grace period the previous secret stops at once, and so do its tokens.
        const immediate = await serviceAccount(org, [org.reader]);
        const minted = await accessToken(deployment.a, immediate.clientId, immediate.secret);
        await kit.verify(minted);
        await regenerate(immediate, {});
        await activeEverywhere(minted, false);
        await eventually(async () => {
          await expect(kit.verify(minted)).rejects.toMatchObject({ code: 'invalid_token' });
        });

        // With one, the previous secret and its tokens work until the grace ends, then stop together.
        const graced = await serviceAccount(org, [org.reader]);
        const before = await accessToken(deployment.a, graced.clientId, graced.secret);
        const regenerated = await regenerate(graced, { grace_period_seconds: 3 });
        const duringGrace = await accessToken(deployment.b, graced.clientId, graced.secret);
        const fresh = await accessToken(deployment.a, graced.clientId, regenerated.client_secret as string);
        for (const token of [before, duringGrace, fresh]) {
          await activeEverywhere(token, true);
          await kit.verify(token);
        }
        const graceEnds = Date.parse(regenerated.previous_secret_expires_at as string);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, graceEnds - Date.now()) + 1_100));
        expect((await requestToken(deployment.b, graced.clientId, graced.secret)).status).toBe(401);
        for (const token of [before, duringGrace]) {
          await activeEverywhere(token, false);
          await expect(kit.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
        }
        await activeEverywhere(fresh, true);
        await kit.verify(fresh);
      } finally {
        await kit.close();
      }
    });

    // Last: it empties the state store (and, in one process, restarts the server).
    it('rebuilds the active revocations from the database when the state store comes back empty', async () => {
      const credential = await serviceAccount(org, [org.reader]);
      const token = await accessToken(deployment.b, credential.clientId, credential.secret);
      await revokeCredential(credential.accountId, credential.credentialId);
      const before = await feedSnapshot(deployment.b);
      expect(before.body.entries).toContainEqual(expect.objectContaining({ client_id: credential.clientId }));
      const oldCursor = before.body.cursor as string;

      await deployment.emptyStateStore();

      const after = await eventually(async () => {
        const snapshot = await feedSnapshot(deployment.b);
        expect(snapshot.status).toBe(200);
        expect(snapshot.body.entries).toContainEqual({
          type: 'credential',
          client_id: credential.clientId,
          org_id: org.orgId,
          account_id: credential.accountId,
          until: expect.any(Number),
        });
        return snapshot;
      });
      // A new epoch: cursors from before the loss are too old, so a reconnecting subscriber starts over.
      expect((after.body.cursor as string).split(':')[0]).not.toBe(oldCursor.split(':')[0]);
      const reconnected = await FeedSubscriber.connect(deployment.a, oldCursor);
      try {
        const snapshot = await reconnected.waitFor((e) => e.event === 'snapshot');
        expect(snapshot.data.entries).toContainEqual(
          expect.objectContaining({ client_id: credential.clientId }),
        );
      } finally {
        await reconnected.close();
      }
      for (const url of [deployment.a, deployment.b]) {
        expect((await requestToken(url, credential.clientId, credential.secret)).status).toBe(401);
        expect((await introspect(url, token)).body).toEqual({ active: false });
      }
    });
  });
}
