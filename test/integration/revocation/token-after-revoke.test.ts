/**
 * Issue 12, race 1 over HTTP: a /token request whose subject lookup read the credential before the
 * revoke, and answers after the revoke was acknowledged, must be refused; so must every later request.
 * The lookup is held at a gate (a wrapper around the real TokenSubjectService) while the revoke goes
 * through the management API of the same instance.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TokenSubjectService } from '../../../src/services/token-subject-service.ts';
import { SecretHasher } from '../../../src/keys/secret-hasher.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  bootstrap,
  type Deployment,
  type Organization,
  requestToken,
  serviceAccount,
} from './revocation-helpers.ts';

let server: TestServer;
let org: Organization;

beforeAll(async () => {
  server = await startTestServer({ BCRYPT_COST: '10' });
  const deployment: Deployment = {
    a: server.url,
    b: server.url,
    issuer: server.issuer,
    db: server.database.db,
    emptyStateStore: async () => {},
    stop: () => server.stop(),
  };
  org = await bootstrap(deployment, server.url, `race-${randomUUID().slice(0, 8)}`);
}, 120_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('/token across a revoke on the same instance', () => {
  it('a token request whose lookup started before the revoke is refused when it answers after it', async () => {
    const credential = await serviceAccount(org, [org.everything]);
    const original = TokenSubjectService.prototype.findByClientIds;
    let read!: () => void;
    const hasRead = new Promise<void>((resolve) => (read = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    vi.spyOn(TokenSubjectService.prototype, 'findByClientIds').mockImplementation(async function (
      this: TokenSubjectService,
      clientIds,
      now,
    ) {
      const subjects = await original.call(this, clientIds, now);
      if (clientIds.includes(credential.clientId) && !held) {
        held = true;
        read();
        await released;
      }
      return subjects;
    });

    const inFlight = requestToken(server.url, credential.clientId, credential.secret);
    await hasRead;
    await org.admin.ok(
      'POST',
      `/service-accounts/${credential.accountId}/credentials/${credential.credentialId}:revoke`,
    );
    release();
    const answer = await inFlight;
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: 'invalid_client' });
    const later = await requestToken(server.url, credential.clientId, credential.secret);
    expect(later.status).toBe(401);
  });

  it('50 concurrent first token requests of one credential run bcrypt once', async () => {
    const credential = await serviceAccount(org, [org.everything]);
    const compare = vi.spyOn(SecretHasher.prototype, 'verify');
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => requestToken(server.url, credential.clientId, credential.secret)),
    );
    expect(answers.filter((answer) => answer.status !== 200).map((answer) => answer.body)).toEqual([]);
    expect(compare).toHaveBeenCalledTimes(1);
  });
});
