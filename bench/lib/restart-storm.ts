/**
 * Row (j), the restart storm of issue 19: two instances on one Postgres and Redis, every credential
 * used once (so its shared verified-secret record is in Redis), both instances restarted, then every
 * credential asks for a token at once. Without the shared records each of those requests costs a
 * bcrypt compare (60 ms of CPU at cost 10: 2,000 of them keep two cores busy for a minute); with them,
 * a Redis read and an HMAC. The baseline is the same burst once the restarted instances are warm.
 */
import http from 'node:http';
import { percentile } from './load.ts';
import { waitForQuietMachine } from './machine.ts';
import { type ServerProcess, startSvcauth } from './processes.ts';
import { type BenchRow, fmt, request, type ScaleContext, tokenRequestOptions } from './scale-context.ts';

const CREDENTIALS = 2000;
const BURST_CONNECTIONS = 100;
/** Restart, storm, warm burst: each round costs two process starts, so fewer than the load rows' slices. */
const MAX_ROUNDS = 3;

interface Burst {
  elapsedMs: number;
  latencies: number[];
  failures: number;
  /** What the first failures were (status and body, or the socket error). */
  failureSamples: string[];
}

/**
 * Every credential asks for one token, all at once over `connections` keep-alive connections spread
 * evenly over the instances (fresh connections each burst); credential k goes to instance `route(k)`.
 */
async function burst(
  servers: ServerProcess[],
  clientIds: string[],
  secret: string,
  route: (k: number) => number,
  connections: number,
): Promise<Burst> {
  const perServer = Math.ceil(connections / servers.length);
  const agents = servers.map(() => new http.Agent({ keepAlive: true, maxSockets: perServer }));
  const queues = servers.map(() => [] as string[]);
  clientIds.forEach((clientId, k) => queues[route(k) % servers.length]!.push(clientId));
  const latencies: number[] = [];
  const failureSamples: string[] = [];
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: perServer * servers.length }, async (_, worker) => {
      const index = worker % servers.length;
      const queue = queues[index]!;
      for (let clientId = queue.pop(); clientId !== undefined; clientId = queue.pop()) {
        const sent = performance.now();
        try {
          const answer = await request(`${servers[index]!.url}/token`, {
            ...tokenRequestOptions(clientId, secret),
            agent: agents[index],
          });
          if (answer.status !== 200) {
            failures += 1;
            if (failureSamples.length < 3)
              failureSamples.push(`${answer.status} ${answer.body.slice(0, 200)}`);
          }
        } catch (error) {
          failures += 1;
          if (failureSamples.length < 3) failureSamples.push(String(error));
        }
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  for (const agent of agents) agent.destroy();
  return { elapsedMs, latencies: latencies.sort((a, b) => a - b), failures, failureSamples };
}

/** A gauge's value in an instance's /metrics (summed over its label sets), or null if not exposed. */
async function metric(server: ServerProcess, name: string, label?: string): Promise<number | null> {
  try {
    const answer = await request(`${server.url}/metrics`, { method: 'GET' });
    if (answer.status !== 200) return null;
    let sum: number | null = null;
    for (const line of answer.body.split('\n')) {
      if (!line.startsWith(name) || (label && !line.includes(label))) continue;
      if (line[name.length] !== ' ' && line[name.length] !== '{') continue;
      sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  } catch {
    return null;
  }
}

export async function restartStormRow(context: ScaleContext): Promise<BenchRow> {
  const started = performance.now();
  const { env, seeded } = await context.preparePostgres(CREDENTIALS, 1);
  const clientIds = seeded.clientIds.slice(0, CREDENTIALS);
  let servers = await Promise.all([startSvcauth(env), startSvcauth(env)]);
  context.cleanups.push(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });

  // Each credential used once, on instance k % 2: one bcrypt each, and its record written to Redis.
  context.log(`(j) first use of ${clientIds.length} credentials (one bcrypt each)`);
  const firstUse = await burst(servers, clientIds, seeded.secret, (k) => k, 8);
  if (firstUse.failures > 0) {
    throw new Error(
      `(j): first use failed ${firstUse.failures} times: ${firstUse.failureSamples.join('; ')}`,
    );
  }

  const rounds = Math.max(1, Math.min(context.rounds, MAX_ROUNDS));
  const storms: Burst[] = [];
  const warmBursts: Burst[] = [];
  const restartMs: number[] = [];
  let bcryptCompares = 0;
  let recordHits = 0;
  for (let round = 0; round < rounds; round++) {
    const restartStarted = performance.now();
    await Promise.all(servers.map((server) => server.stop()));
    servers = await Promise.all([startSvcauth(env), startSvcauth(env)]);
    restartMs.push(performance.now() - restartStarted);
    await waitForQuietMachine();
    // Each credential now asks the instance that did not see it first.
    storms.push(await burst(servers, clientIds, seeded.secret, (k) => k + 1, BURST_CONNECTIONS));
    for (const server of servers) {
      bcryptCompares += (await metric(server, 'svcauth_bcrypt_compares')) ?? Number.NaN;
      recordHits +=
        (await metric(server, 'svcauth_shared_secret_record_lookups', 'result="hit"')) ?? Number.NaN;
    }
    await waitForQuietMachine();
    warmBursts.push(await burst(servers, clientIds, seeded.secret, (k) => k + 1, BURST_CONNECTIONS));
  }
  await Promise.all(servers.map((server) => server.stop()));

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const stormMs = median(storms.map((b) => b.elapsedMs));
  const warmMs = median(warmBursts.map((b) => b.elapsedMs));
  const stormLatencies = storms.flatMap((b) => b.latencies).sort((a, b) => a - b);
  const warmLatencies = warmBursts.flatMap((b) => b.latencies).sort((a, b) => a - b);
  const failures =
    storms.reduce((n, b) => n + b.failures, 0) + warmBursts.reduce((n, b) => n + b.failures, 0);
  const samples = [...storms, ...warmBursts].flatMap((b) => b.failureSamples).slice(0, 2);
  const ratio = stormMs / warmMs;
  const tookSeconds = (performance.now() - started) / 1000;
  context.log(`(j) took ${fmt(tookSeconds, 0)} s (first use ${fmt(firstUse.elapsedMs / 1000, 0)} s)`);
  return {
    id: 'j',
    name: `restart storm: ${clientIds.length} credentials used once, both of two instances (Postgres + Redis) restarted, then all ask for a token at once (${BURST_CONNECTIONS} connections)`,
    throughput: clientIds.length / (stormMs / 1000),
    unit: 'req/s',
    p50: percentile(stormLatencies, 50),
    p99: percentile(stormLatencies, 99),
    baseline: 'warm',
    ratio,
    target: 'all served within 3x warm, no client error',
    met: ratio <= 3 && failures === 0,
    notes: [
      `all served in ${fmt(stormMs, 0)} ms after the restart, ${fmt(warmMs, 0)} ms warm (warm p99 ${fmt(percentile(warmLatencies, 99))} ms); median of ${rounds} rounds (restart: ${storms.map((b) => fmt(b.elapsedMs, 0)).join(', ')} ms)`,
      `${failures} client errors${samples.length ? ` (${samples.join('; ')})` : ''}`,
      `after the restarts: ${bcryptCompares} bcrypt compares, ${recordHits} shared-record hits`,
      `first use of every credential took ${fmt(firstUse.elapsedMs / 1000)} s`,
    ].join('; '),
  };
}
