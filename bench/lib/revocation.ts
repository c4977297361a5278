/**
 * Helpers of rows (f) and (g): API keys to introspect, and the time a revocation made on one instance
 * takes to reach a feed subscriber of another.
 */
import { generateClientId } from '../../src/domain/credential-format.ts';
import { openDatabase } from '../../src/persistence/database.ts';
import { SseParser } from '../../src/resource-server/sse.ts';
import { bootstrapOrganization } from '../../src/services/bootstrap-service.ts';
import { insertCredential, prepareSecret } from '../../src/services/credential-service.ts';
import { SecretHasher } from '../../src/keys/secret-hasher.ts';
import { basic } from './load.ts';

/** `count` API keys on the organization's first accounts (one bcrypt hash each). */
export async function seedApiKeys(
  databaseUrl: string,
  orgId: string,
  count: number,
  bcryptCost: number,
): Promise<string[]> {
  const handle = await openDatabase({ kind: 'postgres', url: databaseUrl, poolMax: 5 });
  try {
    const accounts = await handle.db
      .selectFrom('service_accounts')
      .select('id')
      .where('org_id', '=', orgId)
      .where('is_protected', '=', false)
      .orderBy('created_at')
      .limit(count)
      .execute();
    const hasher = new SecretHasher(bcryptCost);
    const keys: string[] = [];
    for (const account of accounts) {
      const prepared = await prepareSecret(hasher, 'api_key');
      const { secret } = await insertCredential(
        handle.db,
        { orgId, accountId: account.id, type: 'api_key', name: 'bench api key' },
        prepared,
      );
      keys.push(secret!);
    }
    return keys;
  } finally {
    await handle.close();
  }
}

interface Subscription {
  arrivals: Map<string, number>;
  close(): Promise<void>;
}

/** A `GET /revocations` event stream; records when each credential entry arrives (performance.now()). */
async function subscribe(url: string, authorization: string): Promise<Subscription> {
  const controller = new AbortController();
  const response = await fetch(`${url}/revocations`, {
    headers: { authorization, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  if (response.status !== 200 || !response.body) {
    throw new Error(`GET ${url}/revocations answered ${response.status}`);
  }
  const reader = response.body.getReader();
  const arrivals = new Map<string, number>();
  let snapshot: () => void = () => {};
  const gotSnapshot = new Promise<void>((resolve) => (snapshot = resolve));
  const reading = (async () => {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const at = performance.now();
        for (const event of parser.push(decoder.decode(value, { stream: true }))) {
          if (event.event === 'snapshot') snapshot();
          if (event.event !== 'revocation') continue;
          const entry = JSON.parse(event.data) as { type: string; client_id?: string };
          if (entry.type === 'credential' && entry.client_id) arrivals.set(entry.client_id, at);
        }
      }
    } catch {
      // closed
    }
  })();
  await gotSnapshot;
  return {
    arrivals,
    close: async () => {
      controller.abort();
      await reader.cancel().catch(() => {});
      await reading;
    },
  };
}

/**
 * Revokes `count` credentials one by one through instance A's management API while a subscriber listens
 * on instance B. Returns, per revocation, milliseconds from the revoke response (and from the request)
 * to the event's arrival; an event that beat the response counts as 0.
 */
export async function measureRevocationLatency(options: {
  a: string;
  b: string;
  databaseUrl: string;
  resourceServer: { name: string; secret: string };
  count: number;
}): Promise<{ fromResponse: number[]; fromRequest: number[] }> {
  const handle = await openDatabase({ kind: 'postgres', url: options.databaseUrl, poolMax: 5 });
  let admin: Awaited<ReturnType<typeof bootstrapOrganization>>;
  const targets: Array<{ id: string; service_account_id: string; client_id: string }> = [];
  try {
    admin = await bootstrapOrganization(handle.db, new SecretHasher(10), { slug: 'bench-revocations' });
    // One bcrypt hash shared by every target (their secrets are never used), distinct client ids.
    const prepared = await prepareSecret(new SecretHasher(10), 'oauth_client');
    const account = await handle.db
      .insertInto('service_accounts')
      .values({ org_id: admin.org_id, name: 'bench revocation targets' })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (let i = 0; i < options.count; i++) {
      const { credential } = await insertCredential(
        handle.db,
        { orgId: admin.org_id, accountId: account.id, type: 'oauth_client', name: `target ${i}` },
        { ...prepared, clientId: generateClientId() },
      );
      targets.push(credential);
    }
  } finally {
    await handle.close();
  }

  const tokenResponse = await fetch(`${options.a}/token`, {
    method: 'POST',
    headers: {
      authorization: basic(admin.client_id, admin.client_secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${options.a}/admin` }),
  });
  if (tokenResponse.status !== 200) throw new Error(`admin token: ${await tokenResponse.text()}`);
  const { access_token: adminToken } = (await tokenResponse.json()) as { access_token: string };

  const subscription = await subscribe(
    options.b,
    basic(options.resourceServer.name, options.resourceServer.secret),
  );
  const fromResponse: number[] = [];
  const fromRequest: number[] = [];
  try {
    for (const target of targets) {
      const sent = performance.now();
      const response = await fetch(
        `${options.a}/admin/v1/service-accounts/${target.service_account_id}/credentials/${target.id}:revoke`,
        { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } },
      );
      const answered = performance.now();
      if (response.status !== 200)
        throw new Error(`revoke answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
      const deadline = answered + 10_000;
      while (!subscription.arrivals.has(target.client_id)) {
        if (performance.now() > deadline)
          throw new Error('a revocation did not reach the subscriber within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const arrived = subscription.arrivals.get(target.client_id)!;
      fromResponse.push(Math.max(0, arrived - answered));
      fromRequest.push(arrived - sent);
    }
  } finally {
    await subscription.close();
  }
  return {
    fromResponse: fromResponse.sort((x, y) => x - y),
    fromRequest: fromRequest.sort((x, y) => x - y),
  };
}
