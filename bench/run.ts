/**
 * `npm run bench`: svcauth's performance targets, measured in one run against baselines started in the
 * same process tree. Prints one table and writes it to bench/results/ (JSON and Markdown).
 *
 * Needs the machine's Postgres and Redis (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres;
 * BENCH_REDIS_URL, default redis://127.0.0.1:6379). BENCH_DURATION (seconds per load row, default 10),
 * BENCH_CONNECTIONS (default 50), BENCH_SOAK_SECONDS (memory soak, default 300; 0 skips it),
 * BENCH_ROUNDS (alternating slices of a row and its baseline, default 5), BENCH_LOG_LEVEL (the servers'
 * LOG_LEVEL, default info), BENCH_ROWS and BENCH_CPU_PROFILE_DIR (see the README).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import {
  createLocalJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  jwtVerify,
  SignJWT,
} from 'jose';
import pg from 'pg';
import { generateSigningKeys } from '../src/keys/signing-keys.ts';
import { migrateToLatest, openDatabase } from '../src/persistence/database.ts';
import { basic, type LoadResult, type LoadTarget, percentile, runInterleaved, runLoad } from './lib/load.ts';
import { createVerifier } from '../src/resource-server/index.ts';
import { ROOT, type ServerProcess, startBareProvider, startSvcauth } from './lib/processes.ts';
import { measureRevocationLatency, seedApiKeys } from './lib/revocation.ts';
import { type SeededCredentials, seedOrganization } from './lib/seed.ts';
import { restartStormRow } from './lib/restart-storm.ts';
import { feedFanoutRow } from './lib/feed-fanout.ts';
import { adminAtSizeRows } from './lib/admin-at-size.ts';
import { manyLocationsRows } from './lib/many-locations.ts';
import type { ScaleContext } from './lib/scale-context.ts';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 300);
/** Rows compared with a baseline alternate with it in this many slices (BENCH_ROUNDS). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** BENCH_ROWS=a,c limits a run to some rows (their baselines always run); default: all. */
const ONLY = process.env.BENCH_ROWS ? new Set(process.env.BENCH_ROWS.split(',')) : null;
const wanted = (id: string) => !ONLY || ONLY.has(id);
const WARM_CREDENTIALS = 500;
/** The benchmark's resource server credential, for /introspect and /revocations. */
const RESOURCE_SERVER = { name: 'bench', secret: randomBytes(24).toString('base64url') };
const BCRYPT_COST = 10;
/** (f) rotates over this many API keys (one bcrypt hash each to seed). */
const INTROSPECTED_API_KEYS = 100;
/** (g) revokes this many credentials, one by one. */
const REVOCATIONS = 50;

interface Row {
  id: string;
  name: string;
  throughput: number | null;
  unit: string;
  p50: number | null;
  p99: number | null;
  baseline: string | null;
  /** Throughput ratio to the baseline row (or latency ratio where the row is latency-only). */
  ratio: number | null;
  target: string;
  met: boolean | null;
  notes?: string;
}

const rows: Row[] = [];
const cleanups: Array<() => Promise<void>> = [];
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

function row(r: Row): Row {
  rows.push(r);
  log(`${r.id} ${r.name}: ${fmt(r.throughput)} ${r.unit}, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms`);
  return r;
}

function fmt(n: number | null, digits = 1): string {
  return n === null || Number.isNaN(n) ? '-' : n.toFixed(digits);
}

async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `svcauth_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

/** A prepared backend: database seeded, keys made, ready for `startSvcauth(env)`. */
async function prepareBackend(kind: 'postgres' | 'pglite', accounts: number, credentialsPerAccount: number) {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-bench-'));
  cleanups.push(async () => fs.rmSync(workDir, { recursive: true, force: true }));
  const keysDir = path.join(workDir, 'keys');
  await generateSigningKeys(keysDir, 'ES256');
  let env: Record<string, string>;
  let databaseConfig: Parameters<typeof openDatabase>[0];
  if (kind === 'postgres') {
    const database = await createDatabase();
    cleanups.push(database.drop);
    env = {
      DATABASE_URL: database.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: `svcauth-bench-${randomBytes(4).toString('hex')}:`,
      DB_POOL_MAX: '20',
      RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
    };
    databaseConfig = { kind: 'postgres', url: database.url, poolMax: 5 };
  } else {
    const dataDir = path.join(workDir, 'data');
    env = { DATA_DIR: dataDir };
    databaseConfig = { kind: 'pglite', dataDir };
  }
  const handle = await openDatabase(databaseConfig);
  await migrateToLatest(handle.db);
  log(`seeding ${kind}: ${accounts} accounts x ${credentialsPerAccount} credentials`);
  const seeded = await seedOrganization(handle.db, {
    slug: `bench-${kind}`,
    accounts,
    credentialsPerAccount,
    bcryptCost: BCRYPT_COST,
  });
  await handle.close();
  return {
    env: {
      ...env,
      KEYS_DIR: keysDir,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      BCRYPT_COST: String(BCRYPT_COST),
    },
    seeded,
  };
}

function tokenRequest(clientId: string, secret: string) {
  return {
    path: '/token',
    headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  };
}

async function fetchToken(url: string, clientId: string, secret: string): Promise<string> {
  const request = tokenRequest(clientId, secret);
  const response = await fetch(`${url}/token`, {
    method: 'POST',
    headers: request.headers,
    body: request.body,
  });
  if (response.status !== 200)
    throw new Error(`token request failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** First request for each credential: bcrypt and database, nothing cached. Returns per-request ms. */
async function warm(
  url: string,
  seeded: SeededCredentials,
  clientIds: string[],
  concurrency = 4,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < clientIds.length) {
        const clientId = clientIds[next++]!;
        const started = performance.now();
        await fetchToken(url, clientId, seeded.secret);
        latencies.push(performance.now() - started);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

function tokenTarget(server: ServerProcess, seeded: SeededCredentials, clientIds: string[]): LoadTarget {
  let i = 0;
  return {
    url: server.url,
    server,
    request: () => tokenRequest(clientIds[i++ % clientIds.length]!, seeded.secret),
  };
}

async function tokenLoad(
  server: ServerProcess,
  seeded: SeededCredentials,
  clientIds: string[],
): Promise<LoadResult> {
  return runLoad({
    ...tokenTarget(server, seeded, clientIds),
    connections: CONNECTIONS,
    durationSeconds: DURATION,
  });
}

function loadNotes(result: LoadResult): string | undefined {
  const notes: string[] = [];
  if (result.cpuMsPerRequest) {
    const { process, mainThread } = result.cpuMsPerRequest;
    notes.push(`server CPU ${fmt(process, 2)} ms/req (main thread ${fmt(mainThread, 2)})`);
  }
  if (result.non2xx || result.errors) notes.push(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return notes.length > 0 ? notes.join('; ') : undefined;
}

function loadRow(
  id: string,
  name: string,
  result: LoadResult,
  baseline: Row | null,
  target: string,
  check: (r: LoadResult) => boolean | null,
) {
  const ratio = baseline?.throughput ? result.throughput / baseline.throughput : null;
  return row({
    id,
    name,
    throughput: result.throughput,
    unit: 'req/s',
    p50: result.p50,
    p99: result.p99,
    baseline: baseline?.id ?? null,
    ratio,
    target,
    met: check(result),
    notes: loadNotes(result),
  });
}

/** What the scale rows (j, l, m; bench/lib) need from this run. */
const scaleContext: ScaleContext = {
  preparePostgres: (accounts, credentialsPerAccount) =>
    prepareBackend('postgres', accounts, credentialsPerAccount),
  cleanups,
  log,
  resourceServer: RESOURCE_SERVER,
  bcryptCost: BCRYPT_COST,
  durationSeconds: DURATION,
  connections: CONNECTIONS,
  rounds: ROUNDS,
};

async function main() {
  const started = Date.now();
  // (d) the signing limit: a plain jose loop over the same claims.
  const postgres = await prepareBackend('postgres', 1000, 1);
  const serverA = await startSvcauth(postgres.env);
  cleanups.push(() => serverA.stop());
  const warmIds = postgres.seeded.clientIds.slice(0, WARM_CREDENTIALS);
  const sampleToken = await fetchToken(serverA.url, warmIds[0]!, postgres.seeded.secret);
  const claims = decodeJwt(sampleToken);
  const { iss: _iss, aud: _aud, exp: _exp, iat: _iat, jti: _jti, client_id: _cid, ...extraClaims } = claims;

  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  await exportJWK(privateKey);
  const signLatencies: number[] = [];
  const signUntil = performance.now() + DURATION * 1000;
  while (performance.now() < signUntil) {
    const t = performance.now();
    await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench' })
      .sign(privateKey);
    signLatencies.push(performance.now() - t);
  }
  signLatencies.sort((a, b) => a - b);
  const rowD = row({
    id: 'd',
    name: 'signing limit: plain jose ES256 loop (one core)',
    throughput: signLatencies.length / DURATION,
    unit: 'sig/s',
    p50: percentile(signLatencies, 50),
    p99: percentile(signLatencies, 99),
    baseline: null,
    ratio: null,
    target: 'reference',
    met: null,
  });

  // (c) the engine's ceiling, bare oidc-provider with a static client and the same claims, and (a)
  // /token on Postgres + Redis with warm credentials spread over many accounts: measured in alternating
  // slices, so that both see the same machine.
  const bare = await startBareProvider(extraClaims);
  cleanups.push(() => bare.stop());
  await fetchToken(bare.url, 'bench-client', 'bench-secret-bench-secret-bench-secret');
  await warm(serverA.url, postgres.seeded, warmIds);
  const [cResult, aResult] = await runInterleaved(
    [
      {
        url: bare.url,
        server: bare,
        request: () => tokenRequest('bench-client', 'bench-secret-bench-secret-bench-secret'),
      },
      tokenTarget(serverA, postgres.seeded, warmIds),
    ],
    { connections: CONNECTIONS, durationSeconds: DURATION, rounds: ROUNDS },
  );
  await bare.stop();
  const rowC = loadRow(
    'c',
    'bare oidc-provider, static client (engine ceiling)',
    cResult!,
    rowD,
    'reference',
    () => null,
  );
  const rowA = loadRow(
    'a',
    `/token, Postgres + Redis, ${warmIds.length} warm credentials on ${warmIds.length} accounts`,
    aResult!,
    rowC,
    '>= 0.9x (c), p99 <= 1.2x (c)',
    (r) => r.throughput >= 0.9 * rowC.throughput! && r.p99 <= 1.2 * rowC.p99!,
  );

  if (wanted('i')) {
    // (i) cold path: first token of never-seen credentials, bcrypt included.
    const coldIds = postgres.seeded.clientIds.slice(WARM_CREDENTIALS, WARM_CREDENTIALS + 100);
    const cold = await warm(serverA.url, postgres.seeded, coldIds, 1);
    const bcryptTimes: number[] = [];
    const hash = await bcrypt.hash('x', BCRYPT_COST);
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await bcrypt.compare('x', hash);
      bcryptTimes.push(performance.now() - t);
    }
    bcryptTimes.sort((a, b) => a - b);
    row({
      id: 'i',
      name: 'cold path: first token of a never-seen credential (sequential)',
      throughput: cold.length / (cold.reduce((a, b) => a + b, 0) / 1000),
      unit: 'req/s',
      p50: percentile(cold, 50),
      p99: percentile(cold, 99),
      baseline: 'bcrypt',
      ratio: percentile(cold, 50) / percentile(bcryptTimes, 50),
      target: 'p50 within 2x one bcrypt compare',
      met: percentile(cold, 50) <= 2 * percentile(bcryptTimes, 50),
      notes: `bcrypt cost ${BCRYPT_COST} compare alone: p50 ${fmt(percentile(bcryptTimes, 50))} ms (ratio is p50 / that)`,
    });
  }

  // Memory: the same load for BENCH_SOAK_SECONDS; resident memory sampled every second.
  if (SOAK_SECONDS > 0 && wanted('mem')) {
    const samples: number[] = [serverA.rssMiB()];
    const sampler = setInterval(() => samples.push(serverA.rssMiB()), 1000);
    let i = 0;
    const soak = await runLoad({
      url: serverA.url,
      connections: CONNECTIONS,
      durationSeconds: SOAK_SECONDS,
      request: () => tokenRequest(postgres.seeded.clientIds[i++ % WARM_CREDENTIALS]!, postgres.seeded.secret),
    });
    clearInterval(sampler);
    const tenth = Math.max(1, Math.floor(samples.length / 10));
    const early = Math.max(...samples.slice(0, tenth));
    const late = Math.max(...samples.slice(-tenth));
    row({
      id: 'mem',
      name: `memory over a ${SOAK_SECONDS} s soak of (a): RSS first tenth max -> last tenth max`,
      throughput: soak.throughput,
      unit: 'req/s',
      p50: soak.p50,
      p99: soak.p99,
      baseline: 'a',
      ratio: late / early,
      target: 'flat: last-tenth RSS <= 1.1x first-tenth',
      met: late <= early * 1.1,
      notes: `RSS ${fmt(early)} MiB -> ${fmt(late)} MiB (max ${fmt(Math.max(...samples))} MiB)`,
    });
  }
  // A fresh token: the soak above may have outlived the sample's lifetime.
  if (wanted('e'))
    await verifierRow(serverA.url, await fetchToken(serverA.url, warmIds[0]!, postgres.seeded.secret));
  if (wanted('f')) {
    const databaseUrl = (postgres.env as Record<string, string>).DATABASE_URL!;
    await introspectionRow(serverA, postgres.seeded.orgId, databaseUrl, rowA);
  }
  if (wanted('g')) await revocationLatencyRow(serverA, postgres.env);

  if (wanted('h')) {
    // (h) the same with 100,000 accounts and 200,000 credentials in Postgres, in alternating slices
    // with (a) again, which is its baseline.
    const large = await prepareBackend('postgres', 100_000, 2);
    const serverH = await startSvcauth(large.env);
    cleanups.push(() => serverH.stop());
    const spread = Math.floor(large.seeded.clientIds.length / WARM_CREDENTIALS);
    const largeIds = Array.from({ length: WARM_CREDENTIALS }, (_, k) => large.seeded.clientIds[k * spread]!);
    await warm(serverH.url, large.seeded, largeIds);
    const [againA, hResult] = await runInterleaved(
      [tokenTarget(serverA, postgres.seeded, warmIds), tokenTarget(serverH, large.seeded, largeIds)],
      { connections: CONNECTIONS, durationSeconds: DURATION, rounds: ROUNDS },
    );
    await serverH.stop();
    // The baseline is (a) as measured in these same slices.
    const alongside = { ...rowA, throughput: againA!.throughput };
    const rowH = loadRow(
      'h',
      '/token, Postgres + Redis, 100,000 accounts / 200,000 credentials',
      hResult!,
      alongside,
      'within 10% of (a)',
      (r) => r.throughput >= 0.9 * alongside.throughput,
    );
    rowH.notes = [rowH.notes, `(a) measured alongside: ${fmt(alongside.throughput, 0)} req/s`]
      .filter(Boolean)
      .join('; ');
  }
  if (wanted('m')) {
    // (a) again, in alternating slices with (m)'s load: its baseline.
    for (const r of await adminAtSizeRows(scaleContext, tokenTarget(serverA, postgres.seeded, warmIds)))
      row(r);
  }
  if (wanted('k')) {
    const manyLocations = await manyLocationsRows({
      ...scaleContext,
      server: serverA,
      databaseUrl: (postgres.env as Record<string, string>).DATABASE_URL!,
      aTarget: tokenTarget(serverA, postgres.seeded, warmIds),
      rowA,
      smallToken: () => fetchToken(serverA.url, warmIds[0]!, postgres.seeded.secret),
    });
    for (const r of manyLocations) row(r);
  }
  await serverA.stop();
  if (wanted('j')) row(await restartStormRow(scaleContext));
  if (wanted('l')) row(await feedFanoutRow(scaleContext));

  if (wanted('b')) {
    // (b) the same on the embedded default (PGlite, in-process state).
    const embedded = await prepareBackend('pglite', 1000, 1);
    const serverB = await startSvcauth(embedded.env);
    cleanups.push(() => serverB.stop());
    const embeddedIds = embedded.seeded.clientIds.slice(0, WARM_CREDENTIALS);
    await warm(serverB.url, embedded.seeded, embeddedIds);
    const bResult = await tokenLoad(serverB, embedded.seeded, embeddedIds);
    await serverB.stop();
    loadRow(
      'b',
      '/token, embedded default (PGlite, in-process state)',
      bResult,
      rowC,
      'reported',
      () => null,
    );
  }

  report(Date.now() - started);
}

/**
 * (e): the resource-server kit's verifications per second against a plain jose jwtVerify loop, in
 * alternating slices (both loops run in this process, one after the other within each round).
 */
async function verifierRow(issuer: string, token: string) {
  const audience = `${issuer}/api`;
  const jwks = createLocalJWKSet((await (await fetch(`${issuer}/jwks`)).json()) as JSONWebKeySet);
  const timeLoop = async (verify: () => Promise<unknown>, seconds: number, into: number[]) => {
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until) {
      const t = performance.now();
      await verify();
      into.push(performance.now() - t);
    }
  };
  const verifier = createVerifier({
    issuer,
    audience,
    credentials: { name: RESOURCE_SERVER.name, secret: RESOURCE_SERVER.secret },
  });
  await verifier.ready();
  const plain: number[] = [];
  const kit: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await timeLoop(
        () => jwtVerify(token, jwks, { issuer, audience, typ: 'at+jwt' }),
        DURATION / ROUNDS,
        plain,
      );
      await timeLoop(() => verifier.verify(token), DURATION / ROUNDS, kit);
    }
  } finally {
    await verifier.close();
  }
  plain.sort((x, y) => x - y);
  kit.sort((x, y) => x - y);
  const baseline = row({
    id: 'e0',
    name: 'plain jose jwtVerify loop (local JWKS)',
    throughput: plain.length / DURATION,
    unit: 'verif/s',
    p50: percentile(plain, 50),
    p99: percentile(plain, 99),
    baseline: null,
    ratio: null,
    target: 'reference',
    met: null,
  });
  const throughput = kit.length / DURATION;
  row({
    id: 'e',
    name: 'resource-server kit verify() with the revocation feed',
    throughput,
    unit: 'verif/s',
    p50: percentile(kit, 50),
    p99: percentile(kit, 99),
    baseline: 'e0',
    ratio: throughput / baseline.throughput!,
    target: '>= 0.9x plain jose',
    met: throughput >= 0.9 * baseline.throughput!,
  });
}

/** (f): /introspect with warm API keys (subject and verified secret cached), against (a). */
async function introspectionRow(server: ServerProcess, orgId: string, databaseUrl: string, rowA: Row) {
  const keys = await seedApiKeys(databaseUrl, orgId, INTROSPECTED_API_KEYS, BCRYPT_COST);
  const request = (key: string) => ({
    path: '/introspect',
    headers: {
      authorization: basic(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token: key }).toString(),
  });
  // The first introspection of each key runs bcrypt; every key must be active, or the row measures refusals.
  for (const key of keys) {
    const { headers, body } = request(key);
    const answer = await fetch(`${server.url}/introspect`, { method: 'POST', headers, body });
    if (((await answer.json()) as { active?: boolean }).active !== true) {
      throw new Error('(f): a seeded API key is not active at /introspect');
    }
  }
  let i = 0;
  const result = await runLoad({
    url: server.url,
    server,
    connections: CONNECTIONS,
    durationSeconds: DURATION,
    request: () => request(keys[i++ % keys.length]!),
  });
  loadRow(
    'f',
    `/introspect with API keys, Postgres + Redis, ${keys.length} warm keys`,
    result,
    rowA,
    'reported against (a)',
    () => null,
  );
}

/** (g): a second instance on the same Postgres and Redis; revocations on A, a feed subscriber on B. */
async function revocationLatencyRow(serverA: ServerProcess, env: Record<string, string>) {
  const serverB = await startSvcauth(env);
  cleanups.push(() => serverB.stop());
  try {
    const { fromResponse, fromRequest } = await measureRevocationLatency({
      a: serverA.url,
      b: serverB.url,
      databaseUrl: env.DATABASE_URL!,
      resourceServer: RESOURCE_SERVER,
      count: REVOCATIONS,
    });
    const p99 = percentile(fromResponse, 99);
    row({
      id: 'g',
      name: 'revocation to feed subscriber: revoked on instance A (management API), heard on instance B',
      throughput: null,
      unit: 'events',
      p50: percentile(fromResponse, 50),
      p99,
      baseline: null,
      ratio: null,
      target: 'p99 < 1000 ms',
      met: p99 < 1000,
      notes: `${fromResponse.length} revocations one by one, from the revoke response; from the request: p50 ${fmt(percentile(fromRequest, 50))} ms, p99 ${fmt(percentile(fromRequest, 99))} ms`,
    });
  } finally {
    await serverB.stop();
  }
}

function report(elapsedMs: number) {
  const order = [
    'a',
    'b',
    'c',
    'd',
    'e',
    'e0',
    'f',
    'g',
    'h',
    'i',
    'j',
    'k',
    'k1',
    'l',
    'm',
    'm1',
    'm2',
    'm3',
    'mem',
  ];
  rows.sort((x, y) => order.indexOf(x.id) - order.indexOf(y.id));
  const header = '| row | what | throughput | p50 ms | p99 ms | baseline | ratio | target | met |';
  const lines = [
    header,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.id} | ${r.name}${r.notes ? ` (${r.notes})` : ''} | ${fmt(r.throughput, 0)} ${r.unit} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.baseline ?? '-'} | ${r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`} | ${r.target} | ${r.met === null ? '-' : r.met ? 'yes' : 'NO'} |`,
    ),
  ];
  const meta = `node ${process.version}, ${os.cpus().length} cores, ${CONNECTIONS} connections, ${DURATION} s per row, run took ${Math.round(elapsedMs / 1000)} s`;
  const markdown = `${lines.join('\n')}\n\n${meta}\n`;
  process.stdout.write(`\n${markdown}`);
  const dir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.writeFileSync(path.join(dir, 'latest.md'), markdown);
  fs.writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify({ meta, rows }, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, `${stamp}.json`), `${JSON.stringify({ meta, rows }, null, 2)}\n`);
}

try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
}
