import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrap,
  type Deployment,
  FeedSubscriber,
  feedSnapshot,
  type Organization,
  serviceAccount,
  startSingleProcess,
} from './revocation-helpers.ts';

/**
 * Issue 13, item 15: a cursor of the current epoch whose position is beyond anything the log has
 * written was resumed from, so the subscriber skipped every event until the log caught up with it.
 * A position the log never reached is not a place to resume from: the subscriber gets a snapshot.
 */
describe('a /revocations cursor ahead of the log', () => {
  let deployment: Deployment;
  let organization: Organization;

  beforeAll(async () => {
    deployment = await startSingleProcess();
    organization = await bootstrap(deployment, deployment.a, 'ahead');
  });

  afterAll(async () => {
    await deployment?.stop();
  });

  it('gets a snapshot, then the events that follow', async () => {
    const snapshot = await feedSnapshot(deployment.a);
    expect(snapshot.status).toBe(200);
    const [epoch] = String(snapshot.body.cursor).split(':');
    const ahead = `${epoch}:${Date.now() + 365 * 24 * 3600 * 1000}-0`;

    const subscriber = await FeedSubscriber.connect(deployment.a, ahead);
    try {
      // open() writes any snapshot and the backlog before its first heartbeat.
      const { index } = await subscriber.waitFor((event) => event.event === 'heartbeat');
      expect(subscriber.events.slice(0, index).map((event) => event.event)).toContain('snapshot');

      const credential = await serviceAccount(organization, [organization.reader]);
      await organization.admin.ok(
        'POST',
        `/service-accounts/${credential.accountId}/credentials/${credential.credentialId}:revoke`,
      );
      const { data } = await subscriber.waitFor(
        (event, payload) => event.event === 'revocation' && payload.client_id === credential.clientId,
      );
      expect(data).toMatchObject({ client_id: credential.clientId });
    } finally {
      await subscriber.close();
    }
  });
});
