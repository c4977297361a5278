/**
 * The feed vouches for freshness only while it carries what the database committed: when revocations
 * wait in the outbox (here: the relay lock is held by another session, as by a relay that hangs),
 * streams get `event: unavailable` and end, and new subscriptions get 503, until the rows are relayed.
 * Holding the lock needs a second database session, so this runs on Postgres (DATABASE_URL).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { usingPostgres } from '../../helpers/test-database.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  bootstrap,
  eventually,
  FeedSubscriber,
  feedSnapshot,
  RESOURCE_SERVER,
  serviceAccount,
} from './revocation-helpers.ts';

/** The key RevocationOutboxRepository.relay locks. */
const RELAY_LOCK = '7340112003';

let server: TestServer;

beforeAll(async () => {
  if (!usingPostgres) return;
  server = await startTestServer({
    RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
  });
});
afterAll(async () => {
  await server?.stop();
});

it.skipIf(!usingPostgres)(
  'stops vouching while committed revocations wait in the outbox, and vouches again once they are relayed',
  async () => {
    const deployment = {
      a: server.url,
      b: server.url,
      issuer: server.issuer,
      db: server.database.db,
      emptyStateStore: async () => {},
      stop: async () => {},
    };
    const organization = await bootstrap(deployment, server.url, 'outbox-lag');
    const revoked = await serviceAccount(organization, [organization.reader]);
    const subscriber = await FeedSubscriber.connect(server.url);
    const relayHolder = new pg.Client({
      connectionString: (server.config.database as { url: string }).url,
    });
    await relayHolder.connect();
    try {
      await subscriber.waitFor((event) => event.event === 'snapshot');
      await relayHolder.query(`select pg_advisory_lock(${RELAY_LOCK})`);
      await organization.admin.ok(
        'POST',
        `/service-accounts/${revoked.accountId}/credentials/${revoked.credentialId}:revoke`,
      );
      const unavailable = await subscriber.waitFor((event) => event.event === 'unavailable', 20_000);
      expect(unavailable.data.detail).toMatch(/not reached the feed/);
      await subscriber.ended;
      expect((await feedSnapshot(server.url)).status).toBe(503);
    } finally {
      await relayHolder.query(`select pg_advisory_unlock_all()`).catch(() => {});
      await relayHolder.end();
      await subscriber.close();
    }
    await eventually(async () => {
      const snapshot = await feedSnapshot(server.url);
      expect(snapshot.status).toBe(200);
      const entries = snapshot.body.entries as Array<Record<string, unknown>>;
      expect(entries.some((e) => e.type === 'credential' && e.client_id === revoked.clientId)).toBe(true);
    }, 20_000);
  },
  60_000,
);
