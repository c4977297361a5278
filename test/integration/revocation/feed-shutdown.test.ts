import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { startTestServer } from '../../helpers/test-server.ts';
import { FeedSubscriber, RESOURCE_SERVER } from './revocation-helpers.ts';

it('ends open event streams on shutdown instead of waiting for them', async () => {
  const server = await startTestServer({
    RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
    // Far longer than the test's own timeout: close() resolving at all shows it did not wait for this.
    SHUTDOWN_GRACE_MS: '120000',
  });
  const subscribers = await Promise.all([1, 2, 3].map(() => FeedSubscriber.connect(server.issuer)));
  try {
    await Promise.all(subscribers.map((s) => s.waitFor((event) => event.event === 'snapshot')));
    await server.stop();
    // Every stream was ended by the server: reading them finishes without the client aborting.
    await Promise.all(subscribers.map((s) => s.ended));
    const refused = await fetch(`${server.issuer}/revocations`).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
  } finally {
    await Promise.all(subscribers.map((s) => s.close()));
  }
}, 20_000);
