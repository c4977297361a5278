/**
 * Brute-force limits and enumeration at /token, /revoke and /introspect (issue 12 item 9, issue 13
 * items 5, 8, 9, 10, 11). Source addresses are set through X-Forwarded-For (TRUST_PROXY), so each test
 * counts from sources of its own. bcrypt comparisons are counted on the bcrypt module itself: the tests
 * assert how much work a request causes, never how long it takes.
 */
import { createHash, randomUUID } from 'node:crypto';
import bcrypt from 'bcrypt';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateApiKey, generateClientSecret } from '../../../src/domain/credential-format.ts';
import { eventually } from '../../helpers/eventually.ts';
import { Fixtures, type TestCredential } from '../../helpers/fixtures.ts';
import { type PrivateService, startPrivateRedis } from '../../helpers/private-services.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { basicAuthorization, postToken, type RawResponse } from './token-helpers.ts';

const GRANT = { grant_type: 'client_credentials' };
const PER_CLIENT = 5;
const PER_IP = 20;
const RESOURCE_SERVERS = [
  { name: 'orders-api', secret: `rs-secret-${randomUUID()}` },
  { name: 'billing-api', secret: `rs-secret-${randomUUID()}` },
];
const LIMITS = {
  LOCKOUT_MAX_FAILURES: String(PER_CLIENT),
  LOCKOUT_MAX_FAILURES_PER_IP: String(PER_IP),
  TRUST_PROXY: 'true',
  RESOURCE_SERVERS: RESOURCE_SERVERS.map(
    ({ name, secret }) => `${name}:${createHash('sha256').update(secret).digest('hex')}`,
  ).join(','),
};

let nextAddress = 1;
/** A source address no other test uses. */
function newAddress(): string {
  nextAddress += 1;
  return `10.77.${Math.floor(nextAddress / 250)}.${nextAddress % 250}`;
}

function token(
  server: TestServer,
  clientId: string,
  secret: string,
  ip: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return postToken(server, GRANT, {
    authorization: basicAuthorization(clientId, secret),
    'x-forwarded-for': ip,
    ...headers,
  });
}

async function introspect(
  server: TestServer,
  resourceServer: (typeof RESOURCE_SERVERS)[number],
  value: string,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.issuer}/introspect`, {
    method: 'POST',
    headers: {
      authorization: basicAuthorization(resourceServer.name, resourceServer.secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token: value }).toString(),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

async function lockoutEvents(server: TestServer, orgId: string) {
  const rows = await sql<{ target_id: string; diff: Record<string, unknown> | null }>`
    select target_id, diff from audit_events where org_id = ${orgId} and action = 'token.lockout'`.execute(
    server.database.db,
  );
  return rows.rows;
}

/** Counts bcrypt comparisons (the cost of evaluating a secret) from now on. */
function countCompares(): { readonly count: number } {
  const spy = vi.spyOn(bcrypt, 'compare');
  return {
    get count() {
      return spy.mock.calls.length;
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('lockout', () => {
  let server: TestServer;
  let fixtures: Fixtures;
  let orgId: string;
  let accountId: string;

  beforeAll(async () => {
    server = await startTestServer(LIMITS);
    fixtures = new Fixtures(server.database.db);
    orgId = (await fixtures.organization()).id;
    const role = await fixtures.role(orgId, ['items:read']);
    accountId = (await fixtures.account(orgId, { allLocations: true, roles: [{ roleId: role.id }] })).id;
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  }, 60_000);

  const credential = (type: 'oauth_client' | 'api_key' = 'oauth_client'): Promise<TestCredential> =>
    fixtures.credential(orgId, accountId, type);

  it('a lockout of a source IP writes a token.lockout audit event to the organization of the client it was tripped with', async () => {
    const ip = newAddress();
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => credential()));
    // Fewer failures per client than the per-client limit, so only the IP's limit is reached.
    for (const client of clients) {
      for (let attempt = 0; attempt < PER_CLIENT - 1; attempt++) {
        expect((await token(server, client.clientId, 'wrong', ip)).status).toBe(401);
      }
    }
    expect((await token(server, clients[0]!.clientId, clients[0]!.secret!, ip)).status).toBe(429);
    const events = await eventually(async () => {
      const rows = await lockoutEvents(server, orgId);
      const forIp = rows.filter((row) => row.diff?.['scope'] === 'source');
      expect(forIp).toHaveLength(1);
      return forIp;
    }, 5_000);
    expect(clients.map((client) => client.id)).toContain(events[0]!.target_id);
  });

  it("a lockout of a revoked credential's client id is audited in its organization too", async () => {
    const client = await credential();
    await sql`update credentials set revoked_at = now() where id = ${client.id}`.execute(server.database.db);
    const ip = newAddress();
    for (let attempt = 0; attempt < PER_CLIENT; attempt++) {
      expect((await token(server, client.clientId, client.secret!, ip)).status).toBe(401);
    }
    expect((await token(server, client.clientId, client.secret!, ip)).status).toBe(429);
    await eventually(async () => {
      const rows = await lockoutEvents(server, orgId);
      expect(rows.filter((row) => row.target_id === client.id)).toHaveLength(1);
    }, 5_000);
  });

  it('N concurrent wrong secrets for one client from one source: at most the limit are evaluated', async () => {
    const client = await credential();
    const ip = newAddress();
    const compares = countCompares();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, attempt) => token(server, client.clientId, `wrong-${attempt}`, ip)),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(PER_CLIENT);
    expect(statuses.filter((status) => status !== 401).every((status) => status === 429)).toBe(true);
    expect(compares.count).toBeLessThanOrEqual(PER_CLIENT);
  });

  it('a burst of first requests with the right secret from one source is served, not counted against the limit', async () => {
    const client = await credential();
    const ip = newAddress();
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => token(server, client.clientId, client.secret!, ip)),
    );
    expect(answers.filter((answer) => answer.status !== 200).map((answer) => answer.json)).toEqual([]);
    // The same for API keys a resource server checks at /introspect.
    const key = await credential('api_key');
    const [orders] = RESOURCE_SERVERS as [(typeof RESOURCE_SERVERS)[number]];
    const introspections = await Promise.all(
      Array.from({ length: 30 }, () => introspect(server, orders, key.secret!)),
    );
    expect(introspections.filter((answer) => answer['active'] !== true)).toEqual([]);
  });

  it('N concurrent failures with different client ids from one source: at most the IP limit are evaluated', async () => {
    const ip = newAddress();
    // Fewer attempts per client than the per-client limit: only the IP's limit can stop them.
    const clients = await Promise.all(Array.from({ length: 15 }, () => credential()));
    const compares = countCompares();
    const answers = await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: PER_CLIENT - 1 }, (_, attempt) =>
          token(server, client.clientId, `wrong-${attempt}`, ip),
        ),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(PER_IP);
    expect(statuses.filter((status) => status !== 401).every((status) => status === 429)).toBe(true);
    expect(compares.count).toBeLessThanOrEqual(PER_IP);
  });

  it('a lock caused from one source does not stop the client from another source that has the right secret', async () => {
    const client = await credential();
    const attacker = newAddress();
    const owner = newAddress();
    for (let attempt = 0; attempt < PER_CLIENT; attempt++) {
      expect((await token(server, client.clientId, `wrong-${attempt}`, attacker)).status).toBe(401);
    }
    // The source that failed is refused, even with the right secret.
    expect((await token(server, client.clientId, client.secret!, attacker)).status).toBe(429);
    // The integration itself, elsewhere, keeps working.
    expect((await token(server, client.clientId, client.secret!, owner)).status).toBe(200);
    await eventually(async () => {
      const rows = await lockoutEvents(server, orgId);
      expect(rows.filter((row) => row.target_id === client.id)).toHaveLength(1);
    }, 5_000);
  });

  it('an Origin header changes nothing: a live client id with a wrong secret gets the 401 of an unknown one, counted, without CORS', async () => {
    const client = await credential();
    const ip = newAddress();
    const origin = { origin: 'https://attacker.example' };
    const live = await token(server, client.clientId, 'wrong', ip, origin);
    const unknown = await token(server, 'svcc_0000000000000000000000', 'wrong', newAddress(), origin);
    expect(live.status).toBe(401);
    expect(live.json).toEqual(unknown.json);
    expect(live.json?.error).toBe('invalid_client');
    for (const answer of [live, unknown]) {
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    }
    expect(live.text).not.toContain(client.clientId);
    // Counted like any failure: the source is locked out after the limit.
    for (let attempt = 1; attempt < PER_CLIENT; attempt++) {
      expect((await token(server, client.clientId, 'wrong', ip, origin)).status).toBe(401);
    }
    expect((await token(server, client.clientId, client.secret!, ip, origin)).status).toBe(429);
  });

  it('an unknown client id costs a bcrypt comparison, as a wrong secret for a live one does, warm or cold', async () => {
    const client = await credential();
    // Warm: the right secret once, so the server remembers it.
    expect((await token(server, client.clientId, client.secret!, newAddress())).status).toBe(200);

    const compares = countCompares();
    const unknown = await token(server, 'svcc_1111111111111111111111', 'wrong', newAddress());
    expect(unknown.status).toBe(401);
    expect(compares.count).toBe(1);

    const warmWrong = await token(server, client.clientId, 'wrong', newAddress());
    expect(warmWrong.status).toBe(401);
    expect(compares.count).toBe(2);
    expect(warmWrong.json).toEqual(unknown.json);

    // The warm success itself stays free of bcrypt.
    expect((await token(server, client.clientId, client.secret!, newAddress())).status).toBe(200);
    expect(compares.count).toBe(2);
  });

  it('/revoke: an unknown client id and a wrong secret answered from memory cost a bcrypt comparison, as at /token', async () => {
    const client = await credential();
    const revoke = (clientId: string, secret: string) =>
      fetch(`${server.issuer}/revoke`, {
        method: 'POST',
        headers: {
          authorization: basicAuthorization(clientId, secret),
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': newAddress(),
        },
        body: new URLSearchParams({ token: 'anything' }).toString(),
      });
    // Warm: the right secret once.
    expect((await revoke(client.clientId, client.secret!)).status).toBe(200);
    const compares = countCompares();
    const unknown = await revoke('svcc_2222222222222222222222', 'wrong');
    expect(unknown.status).toBe(401);
    expect(compares.count).toBe(1);
    const warmWrong = await revoke(client.clientId, 'wrong');
    expect(warmWrong.status).toBe(401);
    expect(compares.count).toBe(2);
    expect(await warmWrong.json()).toEqual(await unknown.json());
  });

  it('a secret sent as a client id never reaches a lockout key, the lockout index or a log line', async () => {
    const secrets = [generateClientSecret(), generateApiKey().key];
    for (const secret of secrets) {
      const ip = newAddress();
      for (let attempt = 0; attempt < PER_CLIENT + 1; attempt++) {
        const answer = await token(server, secret, 'anything', ip);
        expect([401, 429]).toContain(answer.status);
      }
    }
    // The lock decisions are written after the answers.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const index = await server.state.indexRange('lockouts', 0);
    const stored = [JSON.stringify(index)];
    if (process.env.REDIS_URL) {
      const redis = new Redis(process.env.REDIS_URL);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(
            cursor,
            'MATCH',
            `${server.config.redisKeyPrefix}*`,
            'COUNT',
            500,
          );
          cursor = next;
          stored.push(...keys);
        } while (cursor !== '0');
      } finally {
        await redis.quit();
      }
    }
    for (const secret of secrets) {
      for (const text of [...stored, ...server.logLines]) expect(text).not.toContain(secret);
      // Not even the secret part of an API key, without its prefix.
      for (const text of [...stored, ...server.logLines]) expect(text).not.toContain(secret.slice(6, 30));
    }
  });

  it('API-key guesses through /introspect are counted per key id and resource server, locked out and audited', async () => {
    const key = await credential('api_key');
    const [orders, billing] = RESOURCE_SERVERS as [
      (typeof RESOURCE_SERVERS)[number],
      (typeof RESOURCE_SERVERS)[number],
    ];
    expect(await introspect(server, orders, key.secret!)).toMatchObject({ active: true });
    for (let attempt = 0; attempt < PER_CLIENT; attempt++) {
      // The same key id with another secret and a valid checksum: worth a lookup and a comparison.
      const guess = generateApiKey(key.clientId).key;
      expect(await introspect(server, orders, guess)).toEqual({ active: false });
    }
    const compares = countCompares();
    expect(await introspect(server, orders, generateApiKey(key.clientId).key)).toEqual({ active: false });
    // Locked out: the guess was not evaluated.
    expect(compares.count).toBe(0);
    // Through another resource server the key still works.
    expect(await introspect(server, billing, key.secret!)).toMatchObject({ active: true });
    await eventually(async () => {
      const rows = await lockoutEvents(server, orgId);
      const forKey = rows.filter((row) => row.target_id === key.id);
      expect(forKey).toHaveLength(1);
      expect(forKey[0]!.diff).toMatchObject({ endpoint: 'introspect', resource_server: 'orders-api' });
    }, 5_000);
  });

  it('N concurrent API-key guesses through one resource server: at most the limit are evaluated', async () => {
    const key = await credential('api_key');
    const [, billing] = RESOURCE_SERVERS as [unknown, (typeof RESOURCE_SERVERS)[number]];
    const compares = countCompares();
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => introspect(server, billing, generateApiKey(key.clientId).key)),
    );
    expect(answers.every((answer) => answer['active'] === false)).toBe(true);
    expect(compares.count).toBeLessThanOrEqual(PER_CLIENT);
  });
});

describe('lockout while Redis is down', () => {
  let redis: PrivateService;
  let server: TestServer;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    server = await startTestServer({ ...LIMITS, REDIS_URL: redis.url });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await redis?.destroy();
  }, 60_000);

  it('/token keeps counting in the instance and locks out, with the audit event', async () => {
    const fixtures = new Fixtures(server.database.db);
    const orgId = (await fixtures.organization()).id;
    const role = await fixtures.role(orgId, ['items:read']);
    const account = await fixtures.account(orgId, { allLocations: true, roles: [{ roleId: role.id }] });
    const client = await fixtures.credential(orgId, account.id, 'oauth_client');
    const ip = newAddress();
    await redis.stop();
    try {
      for (let attempt = 0; attempt < PER_CLIENT; attempt++) {
        expect((await token(server, client.clientId, `wrong-${attempt}`, ip)).status).toBe(401);
      }
      const refused = await token(server, client.clientId, client.secret!, ip);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      // Fail-open: another source with the right secret is served while Redis is down.
      expect((await token(server, client.clientId, client.secret!, newAddress())).status).toBe(200);
      await eventually(async () => {
        expect(await lockoutEvents(server, orgId)).toHaveLength(1);
      }, 5_000);
    } finally {
      await redis.start();
    }
  });
});
