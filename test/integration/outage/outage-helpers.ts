import { until } from '../../helpers/eventually.ts';
import { Fixtures, type TestCredential } from '../../helpers/fixtures.ts';
import type { TestServer } from '../../helpers/test-server.ts';

export async function tokenStatus(server: TestServer, credential: TestCredential) {
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${credential.clientId}:${credential.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body, retryAfter: response.headers.get('retry-after') };
}

export async function readiness(server: TestServer) {
  const response = await fetch(`${server.url}/readyz`);
  return {
    status: response.status,
    body: (await response.json()) as { status: string; degraded?: string[]; checks: Record<string, string> },
  };
}

/** Polls until `check` holds; returns how long that took (reported by the tests, never asserted). */
export function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<number> {
  return until(check, what, timeoutMs, 100);
}

/** One organization with a working account and two oauth_client credentials. */
export async function seedTwoCredentials(server: TestServer) {
  const fixtures = new Fixtures(server.database.db);
  const org = await fixtures.organization();
  const role = await fixtures.role(org.id, ['items:read']);
  const account = await fixtures.account(org.id, { allLocations: true, roles: [{ roleId: role.id }] });
  const warm = await fixtures.credential(org.id, account.id);
  const cold = await fixtures.credential(org.id, account.id);
  const spare = await fixtures.credential(org.id, account.id);
  return { org, account, warm, cold, spare };
}

/** What the management API does to revoke a credential: the write, then the change event. */
export async function revoke(
  server: TestServer,
  ids: { orgId: string; accountId: string },
  credential: TestCredential,
) {
  await server.database.db
    .updateTable('credentials')
    .set({ revoked_at: new Date(), revoked_reason: 'outage test' })
    .where('id', '=', credential.id)
    .execute();
  await server.notifier.publish({
    type: 'credential',
    orgId: ids.orgId,
    accountId: ids.accountId,
    credentialId: credential.id,
    clientId: credential.clientId,
    revoked: true,
  });
}

export function report(line: string): void {
  process.stderr.write(`[outage] ${line}\n`);
}

/**
 * Token requests for one credential in a loop until stopped: the load under which a dependency dies.
 * Returns every status seen, so a test can assert that nothing answered wrongly.
 */
export function backgroundLoad(server: TestServer, credential: TestCredential) {
  const statuses = new Map<number, number>();
  let running = true;
  const loops = Array.from({ length: 4 }, async () => {
    while (running) {
      const { status } = await tokenStatus(server, credential).catch(() => ({ status: 0 }));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return statuses;
    },
  };
}
