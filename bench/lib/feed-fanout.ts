/**
 * Row (l), feed fan-out (issue 19): 1,000 `GET /revocations` streams spread over two instances, the way
 * a large product's resource-server replicas each hold one, and revocations made one by one through
 * instance A's management API: how long after the revoke response the last of the 1,000 subscribers
 * has the event. Every stream is a plain HTTP request from this process (one socket each, well within
 * the default file-descriptor limit of the bench and server processes).
 */
import http from 'node:http';
import { generateClientId } from '../../src/domain/credential-format.ts';
import { SecretHasher } from '../../src/keys/secret-hasher.ts';
import { openDatabase } from '../../src/persistence/database.ts';
import { SseParser } from '../../src/resource-server/sse.ts';
import { bootstrapOrganization } from '../../src/services/bootstrap-service.ts';
import { insertCredential, prepareSecret } from '../../src/services/credential-service.ts';
import { basic, percentile } from './load.ts';
import { type ServerProcess, startSvcauth } from './processes.ts';
import { type BenchRow, fmt, obtainToken, request, type ScaleContext, since } from './scale-context.ts';

const SUBSCRIBERS = 1000;
const REVOCATIONS = 50;
/** Streams opened at once while connecting (each start reads a snapshot of the revocation state). */
const CONNECT_CONCURRENCY = 50;

/** For each revoked client id: how many subscribers have it, and when the last one got it. */
interface Arrival {
  count: number;
  last: number;
}

interface Stream {
  close(): void;
}

/** One `GET /revocations` stream; resolves once its snapshot arrived. */
function subscribe(
  url: string,
  authorization: string,
  arrivals: Map<string, Arrival>,
  ended: { count: number },
): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${url}/revocations`,
      { headers: { authorization, accept: 'text/event-stream' }, agent: false },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`GET ${url}/revocations answered ${res.statusCode}`));
          return;
        }
        const parser = new SseParser();
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = performance.now();
          for (const event of parser.push(chunk)) {
            if (event.event === 'snapshot') resolve({ close: () => req.destroy() });
            if (event.event !== 'revocation') continue;
            const entry = JSON.parse(event.data) as { type: string; client_id?: string };
            if (entry.type !== 'credential' || !entry.client_id) continue;
            const arrival = arrivals.get(entry.client_id);
            if (arrival) {
              arrival.count += 1;
              arrival.last = Math.max(arrival.last, at);
            } else {
              arrivals.set(entry.client_id, { count: 1, last: at });
            }
          }
        });
        res.on('error', () => {});
        // A stream the server ends (shutdown, or `unavailable` when it could not read the revocation
        // state in time) is counted: its subscriber would reconnect, this one reports it instead.
        res.on('close', () => {
          ended.count += 1;
          reject(new Error(`GET ${url}/revocations ended before its snapshot`));
        });
      },
    );
    req.on('error', reject);
  });
}

export async function feedFanoutRow(context: ScaleContext): Promise<BenchRow> {
  const started = performance.now();
  const { env } = await context.preparePostgres(1, 1);
  const handle = await openDatabase({ kind: 'postgres', url: env.DATABASE_URL!, poolMax: 5 });
  const targets: Array<{ id: string; service_account_id: string; client_id: string }> = [];
  let admin: Awaited<ReturnType<typeof bootstrapOrganization>>;
  try {
    admin = await bootstrapOrganization(handle.db, new SecretHasher(context.bcryptCost), {
      slug: 'bench-fanout',
    });
    // One bcrypt hash shared by every target (their secrets are never used), distinct client ids.
    const prepared = await prepareSecret(new SecretHasher(context.bcryptCost), 'oauth_client');
    const account = await handle.db
      .insertInto('service_accounts')
      .values({ org_id: admin.org_id, name: 'bench fan-out targets' })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (let i = 0; i < REVOCATIONS; i++) {
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

  const servers: ServerProcess[] = await Promise.all([startSvcauth(env), startSvcauth(env)]);
  context.cleanups.push(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });
  const [a] = servers as [ServerProcess, ServerProcess];
  const adminToken = await obtainToken(a.url, admin.client_id, admin.client_secret, `${a.url}/admin`);

  const authorization = basic(context.resourceServer.name, context.resourceServer.secret);
  const arrivals = new Map<string, Arrival>();
  const streams: Stream[] = [];
  const ended = { count: 0 };
  const connectStarted = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECT_CONCURRENCY }, async () => {
      while (next < SUBSCRIBERS) {
        const server = servers[next++ % servers.length]!;
        streams.push(await subscribe(server.url, authorization, arrivals, ended));
      }
    }),
  );
  const connectMs = performance.now() - connectStarted;

  const fromResponse: number[] = [];
  const fromRequest: number[] = [];
  try {
    for (const target of targets) {
      const sent = performance.now();
      const answer = await request(
        `${a.url}/admin/v1/service-accounts/${target.service_account_id}/credentials/${target.id}:revoke`,
        { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } },
      );
      const answered = performance.now();
      if (answer.status !== 200) throw new Error(`(l): revoke answered ${answer.status}: ${answer.body}`);
      const deadline = answered + 10_000;
      while ((arrivals.get(target.client_id)?.count ?? 0) < SUBSCRIBERS) {
        if (performance.now() > deadline) {
          throw new Error(
            `(l): a revocation reached ${arrivals.get(target.client_id)?.count ?? 0} of ${SUBSCRIBERS} subscribers within 10 s (${ended.count} streams were ended by the server)`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const last = arrivals.get(target.client_id)!.last;
      fromResponse.push(since(answered, last));
      fromRequest.push(last - sent);
    }
  } finally {
    for (const stream of streams) stream.close();
    await Promise.all(servers.map((server) => server.stop()));
  }
  fromResponse.sort((x, y) => x - y);
  fromRequest.sort((x, y) => x - y);
  const p99 = percentile(fromResponse, 99);
  context.log(`(l) took ${fmt((performance.now() - started) / 1000, 0)} s`);
  return {
    id: 'l',
    name: `feed fan-out: ${SUBSCRIBERS} /revocations subscribers over two instances, revoked on instance A (management API), until the last subscriber has it`,
    throughput: null,
    unit: 'events',
    p50: percentile(fromResponse, 50),
    p99,
    baseline: null,
    ratio: null,
    target: 'p99 < 250 ms',
    met: p99 < 250,
    notes: `${fromResponse.length} revocations one by one, from the revoke response; from the request: p50 ${fmt(percentile(fromRequest, 50))} ms, p99 ${fmt(percentile(fromRequest, 99))} ms; ${SUBSCRIBERS} streams opened in ${fmt(connectMs / 1000)} s`,
  };
}
