/**
 * `npm run chaos`: revocation under faults, as an operator would see it. Starts a private Redis, a
 * private Postgres cluster and two svcauth instances (all on free 127.0.0.1 ports), keeps /token load
 * on warm and cold credentials, revokes credentials through both instances, injects faults one after
 * the other (Redis killed and restarted empty, 0.3 s Redis restarts, Postgres stopped, instances killed
 * and terminated), and checks that no revocation is ever outrun:
 *
 * - no /token answer 200 for a credential whose request started after its revocation was acknowledged;
 * - no /introspect `active: true`, asked after the acknowledgement, for a token of a revoked credential;
 * - the resource-server kit (feed mode, fail-closed, maxStalenessMs) refuses such a token within
 *   maxStalenessMs (+ CHAOS_KIT_TOLERANCE_MS) of the acknowledgement, Redis outage or not, and still
 *   refuses it at the end;
 * - at the end every acknowledged revocation is in every instance's /revocations snapshot.
 *
 * Prints a table, writes it to bench/chaos/results/latest.md, exits 1 on any violation, any 5xx other
 * than 503 + Retry-After, or a fault the service did not recover from. Bounded by CHAOS_TIMEOUT_S
 * (default 420 s): past it, everything it started is killed. Tunables: CHAOS_RATE (token requests per
 * second, default 150), CHAOS_CONCURRENCY (requests in flight, default 20), CHAOS_MAX_STALENESS_MS
 * (default 3000), CHAOS_KIT_TOLERANCE_MS (default 1000).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { createVerifier, type Verifier } from '../../src/resource-server/index.ts';
import { ROOT } from '../lib/processes.ts';
import { type Answer, Balancer, basic, is5xxFailure, isUnavailable } from './lib/http.ts';
import {
  type ChaosInstance,
  type ChaosPostgres,
  type ChaosRedis,
  cleanupAll,
  cli,
  createInstance,
  sleep,
  startPostgres,
  startRedis,
  tempDir,
} from './lib/services.ts';

const RATE = Number(process.env.CHAOS_RATE ?? 150);
const CONCURRENCY = Number(process.env.CHAOS_CONCURRENCY ?? 20);
const MAX_STALENESS_MS = Number(process.env.CHAOS_MAX_STALENESS_MS ?? 3000);
const KIT_TOLERANCE_MS = Number(process.env.CHAOS_KIT_TOLERANCE_MS ?? 1000);
const HARD_TIMEOUT_MS = Number(process.env.CHAOS_TIMEOUT_S ?? 420) * 1000;
/** How long after its revocation a credential stays in the load (its cache entries live up to 60 s). */
const WATCH_REVOKED_MS = 20_000;
/** Steady revocations, alternating between the instances. */
const REVOKE_EVERY_MS = 2000;
/** Warm credentials kept for the revocations each fault places (16 in all), whatever the run's pace. */
const FAULT_RESERVE = 20;
/** A fault counts as recovered when every probe passes; past this it is reported as not recovered. */
const RECOVERY_LIMIT_MS = 30_000;
const WARM_ACCOUNTS = 28;
const COLD_ACCOUNTS = 8;
const CREDENTIALS_PER_ACCOUNT = 3;
const RESULTS_DIR = path.join(ROOT, 'bench/chaos/results');

const log = (message: string) =>
  process.stderr.write(`[chaos ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${message}\n`);
const t0 = performance.now();

// ---------------------------------------------------------------------------------------------------
// What the run records

interface Credential {
  id: string;
  accountId: string;
  clientId: string;
  secret: string;
  kind: 'warm' | 'cold' | 'canary';
  state: 'unused' | 'live' | 'revoking' | 'revoked' | 'unknown';
  /** performance.now() of the revoke acknowledgement (its response's arrival). */
  ackAt?: number;
  /** The latest token issued whose answer arrived before the revoke request started. */
  lastToken?: { token: string; endedAt: number };
}

interface TokenAttempt {
  clientId: string;
  answer: Answer;
  jti?: string;
  iat?: number;
  phase: number;
}

interface Revocation {
  credential: Credential;
  kind: 'steady' | 'cold' | 'fault';
  via: string;
  answer: Answer;
  phase: number;
  acked: boolean;
  probe?: string;
  /** ms from the ack to the kit's first refusal of the probe token (null: not refused in time). */
  kitRefusalMs?: number | null;
}

interface Violation {
  what: string;
  /** The fault during which the revocation concerned was made (or the check failed). */
  phase: number;
  detail: string;
  /** For tokens issued after an ack: grouped per credential in the report. */
  token?: { clientId: string; revocation: Revocation; instance: string; delayMs: number };
}

interface Phase {
  name: string;
  startedAt: number;
  injectedAt?: number;
  repairedAt?: number;
  recoveryMs?: number | null;
  notes: string[];
}

const credentials: Credential[] = [];
const attempts: TokenAttempt[] = [];
const revocations: Revocation[] = [];
const violations: Violation[] = [];
const otherAnswers: Array<{ what: string; phase: number; answer: Answer }> = [];
const phases: Phase[] = [{ name: 'baseline', startedAt: performance.now(), notes: [] }];
const currentPhase = () => phases.length - 1;
/** /readyz of each running instance, sampled every 500 ms (issue 12, defect 8: degraded, not out). */
const readiness: Array<{ instance: string; phase: number; status: Answer['status'] }> = [];
let kitErrors = 0;
let stopping = false;

function violation(what: string, detail: string, phase = currentPhase()) {
  violations.push({ what, phase, detail });
  log(`VIOLATION ${what}: ${detail}`);
}

// ---------------------------------------------------------------------------------------------------
// Setup

interface World {
  redis: ChaosRedis;
  postgres: ChaosPostgres;
  a: ChaosInstance;
  b: ChaosInstance;
  balancer: Balancer;
  issuer: string;
  adminToken: string;
  resourceServer: { name: string; secret: string };
  kit: Verifier;
}

async function setup(): Promise<World> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const work = tempDir('svcauth-chaos-');
  const keysDir = path.join(work, 'keys');
  log('starting a private Redis and a private Postgres cluster');
  const redis = await startRedis();
  const postgres = await startPostgres();
  const resourceServer = { name: 'chaos', secret: randomBytes(24).toString('base64url') };
  // The public URL of the "load balancer": the Balancer routes it to the instances; nothing listens on it.
  const issuer = 'http://127.0.0.1:9';
  const env = {
    DATABASE_URL: postgres.url,
    REDIS_URL: redis.url,
    KEYS_DIR: keysDir,
    ISSUER: issuer,
    LOG_LEVEL: 'warn',
    BCRYPT_COST: '10',
    DB_POOL_MAX: '5',
    MIGRATE_ON_START: 'false',
    SHUTDOWN_GRACE_MS: '5000',
    RESOURCE_SERVERS: `${resourceServer.name}:${createHash('sha256').update(resourceServer.secret).digest('hex')}`,
    // Revoked credentials are asked for on purpose: lockouts would hide what the instances would issue.
    LOCKOUT_MAX_FAILURES: '10000',
    LOCKOUT_MAX_FAILURES_PER_IP: '1000000',
  };
  log('migrations, signing keys, bootstrap (svcauth CLI)');
  cli(['migrate'], env);
  cli(['keys', 'generate'], env);
  const bootstrap = JSON.parse(cli(['bootstrap', '--org', 'chaos', '--json'], env)) as {
    client_id: string;
    client_secret: string;
  };
  const a = await createInstance('A', env, path.join(RESULTS_DIR, 'instance-a.log'));
  const b = await createInstance('B', env, path.join(RESULTS_DIR, 'instance-b.log'));
  await Promise.all([a.start(), b.start()]);
  const balancer = new Balancer([a, b]);
  log(`instances A ${a.url} and B ${b.url} (ISSUER ${issuer})`);

  const token = await balancer.send(0, '/token', {
    method: 'POST',
    headers: {
      authorization: basic(bootstrap.client_id, bootstrap.client_secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${issuer}/admin` }).toString(),
  });
  if (token.status !== 200) throw new Error(`admin token: ${token.status} ${JSON.stringify(token.body)}`);
  const adminToken = (token.body as { access_token: string }).access_token;
  const world: World = {
    redis,
    postgres,
    a,
    b,
    balancer,
    issuer,
    adminToken,
    resourceServer,
    kit: null as unknown as Verifier,
  };
  // Tokens (the admin's, and the probes of revoked credentials) outlive the run.
  await admin(world, 0, 'PATCH', '/settings', { access_token_ttl_seconds: 3600 });
  await seedCredentials(world);

  world.kit = createVerifier({
    issuer,
    audience: `${issuer}/api`,
    credentials: resourceServer,
    revocation: { mode: 'feed', maxStalenessMs: MAX_STALENESS_MS, onFeedUnavailable: 'fail-closed' },
    fetch: balancer.kitFetch(issuer),
    onError: () => {
      kitErrors++;
    },
  });
  await world.kit.ready();
  return world;
}

async function admin(world: World, preferred: number, method: string, route: string, body?: unknown) {
  const answer = await world.balancer.send(preferred, `/admin/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${world.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (typeof answer.status !== 'number' || answer.status >= 300) {
    throw new Error(`${method} ${route}: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer.body as Record<string, unknown>;
}

/** Service accounts and oauth_client credentials through the management API (one bcrypt hash each). */
async function seedCredentials(world: World) {
  const plan: Array<Credential['kind']> = [
    'canary',
    ...Array<Credential['kind']>(WARM_ACCOUNTS).fill('warm'),
    ...Array<Credential['kind']>(COLD_ACCOUNTS).fill('cold'),
  ];
  log(`creating ${plan.length} service accounts x ${CREDENTIALS_PER_ACCOUNT} credentials`);
  const role = await admin(world, 0, 'POST', '/roles', {
    name: 'chaos reader',
    permissions: ['items:read', 'people:read'],
  });
  let next = 0;
  await Promise.all(
    [0, 1, 0, 1].map(async (preferred) => {
      while (next < plan.length) {
        const index = next++;
        const kind = plan[index]!;
        const account = await admin(world, preferred, 'POST', '/service-accounts', {
          name: `chaos ${kind} ${index}`,
          all_locations: true,
          roles: [{ role_id: role.id }],
        });
        for (let k = 0; k < (kind === 'canary' ? 1 : CREDENTIALS_PER_ACCOUNT); k++) {
          const issued = await admin(
            world,
            preferred,
            'POST',
            `/service-accounts/${account.id}/credentials`,
            {
              name: `chaos ${kind} ${index}.${k}`,
              type: 'oauth_client',
            },
          );
          credentials.push({
            id: issued.id as string,
            accountId: account.id as string,
            clientId: issued.client_id as string,
            secret: issued.client_secret as string,
            kind,
            state: kind === 'cold' ? 'unused' : 'live',
          });
        }
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// Traffic

async function requestToken(world: World, credential: Credential, preferred: number, fallback = true) {
  const answer = await world.balancer.send(
    preferred,
    '/token',
    {
      method: 'POST',
      headers: {
        authorization: basic(credential.clientId, credential.secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    },
    { fallback },
  );
  const attempt: TokenAttempt = { clientId: credential.clientId, answer, phase: currentPhase() };
  attempts.push(attempt);
  if (answer.status === 200) {
    const token = (answer.body as { access_token: string }).access_token;
    const claims = decodeJwt(token);
    attempt.jti = claims.jti;
    attempt.iat = claims.iat;
    if (credential.state === 'live' || credential.state === 'unused') {
      credential.lastToken = { token, endedAt: answer.endedAt };
    }
  }
  return answer;
}

function pickForLoad(): Credential | undefined {
  const now = performance.now();
  const watched = credentials.filter(
    (c) =>
      c.state === 'revoking' ||
      c.state === 'unknown' ||
      (c.state === 'revoked' && now - c.ackAt! < WATCH_REVOKED_MS),
  );
  const live = credentials.filter((c) => c.state === 'live' && c.kind !== 'canary');
  const pool = watched.length > 0 && Math.random() < 0.35 ? watched : live;
  return pool[Math.floor(Math.random() * pool.length)];
}

/** CONCURRENCY workers sharing a budget of RATE requests per second. */
async function tokenLoad(world: World) {
  let nextSlot = performance.now();
  const interval = 1000 / RATE;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (!stopping) {
        const now = performance.now();
        const slot = Math.max(now, nextSlot);
        nextSlot = slot + interval;
        if (slot > now) await sleep(slot - now);
        const credential = pickForLoad();
        if (credential) await requestToken(world, credential, world.balancer.pick());
      }
    }),
  );
}

/** Warm: every warm credential gets a token from each instance (bcrypt once per instance). */
async function warmUp(world: World) {
  const warm = credentials.filter((c) => c.kind !== 'cold');
  log(`warming ${warm.length} credentials on both instances`);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < warm.length) {
        const credential = warm[next++]!;
        for (const preferred of [0, 1]) {
          const answer = await requestToken(world, credential, preferred, false);
          if (answer.status !== 200)
            throw new Error(`warm-up token: ${answer.status} ${JSON.stringify(answer.body)}`);
        }
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// Revocations and their checks

async function revoke(
  world: World,
  credential: Credential,
  preferred: number,
  kind: Revocation['kind'],
  timeoutMs = 10_000,
): Promise<Revocation> {
  credential.state = 'revoking';
  const probe = credential.lastToken?.token;
  const answer = await world.balancer.send(
    preferred,
    `/admin/v1/service-accounts/${credential.accountId}/credentials/${credential.id}:revoke`,
    { method: 'POST', headers: { authorization: `Bearer ${world.adminToken}` } },
    { timeoutMs },
  );
  const acked = answer.status === 200;
  const revocation: Revocation = {
    credential,
    kind,
    via: world.balancer.instances[preferred]!.name,
    answer,
    phase: currentPhase(),
    acked,
    ...(probe ? { probe } : {}),
  };
  revocations.push(revocation);
  if (acked) {
    credential.state = 'revoked';
    credential.ackAt = answer.endedAt;
    void checkRevocation(world, revocation);
  } else {
    // Not acknowledged (the database was down, the instance died...): it may or may not have happened.
    credential.state = 'unknown';
    otherAnswers.push({ what: 'revoke', phase: currentPhase(), answer });
  }
  return revocation;
}

async function introspect(world: World, token: string, preferred: number): Promise<Answer> {
  return world.balancer.send(preferred, '/introspect', {
    method: 'POST',
    headers: {
      authorization: basic(world.resourceServer.name, world.resourceServer.secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }).toString(),
  });
}

function checkIntrospection(revocation: Revocation, answer: Answer, when: string) {
  if (answer.status === 200) {
    if ((answer.body as { active?: boolean }).active === true) {
      violation(
        'introspect active after revoke ack',
        `${revocation.credential.clientId} (revoked via ${revocation.via}, ${revocation.kind}): instance ${answer.instance} said active:true ${(answer.startedAt - revocation.credential.ackAt!).toFixed(0)} ms after the ack (${when})`,
        revocation.phase,
      );
    }
  } else {
    otherAnswers.push({ what: 'introspect', phase: currentPhase(), answer });
  }
}

/** After an ack: /introspect on both instances at intervals, and the kit until it refuses. */
async function checkRevocation(world: World, revocation: Revocation) {
  const probe = revocation.probe;
  if (!probe) return;
  const ackAt = revocation.credential.ackAt!;
  const kitCheck = (async () => {
    const deadline = ackAt + MAX_STALENESS_MS + KIT_TOLERANCE_MS + 3000;
    for (;;) {
      const at = performance.now();
      try {
        await world.kit.verify(probe);
      } catch {
        revocation.kitRefusalMs = at - ackAt;
        if (revocation.kitRefusalMs > MAX_STALENESS_MS + KIT_TOLERANCE_MS) {
          violation(
            'kit refused late',
            `${revocation.credential.clientId} (revoked via ${revocation.via}, ${revocation.kind}): the kit refused its token ${revocation.kitRefusalMs.toFixed(0)} ms after the ack (bound ${MAX_STALENESS_MS} + ${KIT_TOLERANCE_MS} ms)`,
            revocation.phase,
          );
        }
        return;
      }
      if (at > deadline) {
        revocation.kitRefusalMs = null;
        violation(
          'kit accepted',
          `${revocation.credential.clientId} (revoked via ${revocation.via}, ${revocation.kind}): the kit still accepted its token ${(at - ackAt).toFixed(0)} ms after the ack`,
          revocation.phase,
        );
        return;
      }
      await sleep(50);
    }
  })();
  for (const [k, delay] of [0, 300, 1500, 5000].entries()) {
    const wait = ackAt + delay - performance.now();
    if (wait > 0) await sleep(wait);
    if (stopping) break;
    checkIntrospection(revocation, await introspect(world, probe, k % 2), `+${delay} ms check`);
  }
  await kitCheck;
}

// ---------------------------------------------------------------------------------------------------
// Fault phases

function take(kind: Credential['kind'], state: Credential['state']): Credential | undefined {
  const pool = credentials.filter(
    (c) => c.kind === kind && c.state === state && (state !== 'live' || c.lastToken),
  );
  return pool[Math.floor(Math.random() * pool.length)];
}

/**
 * Race 1's trigger: the first requests of a never-used credential (lookups in flight on both
 * instances) with its revocation sent at the same time.
 */
async function coldRevocation(world: World, preferred: number) {
  const credential = take('cold', 'unused');
  if (!credential) return;
  credential.state = 'live';
  const first = Array.from({ length: 6 }, (_, k) => requestToken(world, credential, k % 2));
  await sleep(5);
  await revoke(world, credential, preferred, 'cold');
  await Promise.all(first);
}

/** A cold credential whose first use falls in the fault: it stays in the load afterwards. */
function coldFirstUse() {
  const credential = take('cold', 'unused');
  if (credential) credential.state = 'live';
}

async function steadyRevocations(world: World) {
  let k = 0;
  while (!stopping) {
    await sleep(REVOKE_EVERY_MS);
    if (stopping) break;
    // The faults' own revocations come out of the last FAULT_RESERVE warm credentials.
    const live = credentials.filter((c) => c.kind === 'warm' && c.state === 'live').length;
    const credential = live > FAULT_RESERVE ? take('warm', 'live') : undefined;
    if (credential) void revoke(world, credential, k++ % 2, 'steady');
  }
}

async function sampleReadiness(world: World) {
  while (!stopping) {
    for (const [index, instance] of world.balancer.instances.entries()) {
      if (!instance.running()) continue;
      const answer = await world.balancer.send(index, '/readyz', {}, { fallback: false, timeoutMs: 2000 });
      // Not listening (starting, or draining after SIGTERM): no load balancer would send it anything.
      if (answer.status === 'refused') continue;
      readiness.push({ instance: instance.name, phase: currentPhase(), status: answer.status });
    }
    await sleep(500);
  }
}

function readinessNote(phase: number): string | null {
  const parts: string[] = [];
  for (const name of ['A', 'B']) {
    const samples = readiness.filter((r) => r.phase === phase && r.instance === name);
    const notReady = samples.filter((r) => r.status !== 200);
    if (notReady.length === 0) continue;
    const byStatus = new Map<string, number>();
    for (const r of notReady) byStatus.set(String(r.status), (byStatus.get(String(r.status)) ?? 0) + 1);
    const statuses = [...byStatus].map(([status, n]) => `${status}: ${n}`).join(', ');
    parts.push(`${name} ${notReady.length} of ${samples.length} (${statuses})`);
  }
  return parts.length > 0 ? `/readyz not 200: ${parts.join(', ')}` : null;
}

function beginPhase(name: string): Phase {
  const phase: Phase = { name, startedAt: performance.now(), notes: [] };
  phases.push(phase);
  log(`fault ${phases.length - 1}: ${name}`);
  return phase;
}

/** Until every probe passes: a canary token from each instance, a database read, a kit verification. */
async function measureRecovery(world: World, phase: Phase) {
  const canary = credentials.find((c) => c.kind === 'canary')!;
  const from = phase.repairedAt ?? performance.now();
  const deadline = from + RECOVERY_LIMIT_MS;
  while (performance.now() < deadline) {
    const tokens = await Promise.all([0, 1].map((i) => requestToken(world, canary, i, false)));
    const read = await world.balancer.send(0, '/admin/v1/service-accounts?limit=1', {
      headers: { authorization: `Bearer ${world.adminToken}` },
    });
    let kitOk = false;
    if (tokens[0]!.status === 200) {
      try {
        await world.kit.verify((tokens[0]!.body as { access_token: string }).access_token);
        kitOk = true;
      } catch {
        // the feed is not fresh yet
      }
    }
    if (tokens.every((t) => t.status === 200) && read.status === 200 && kitOk) {
      phase.recoveryMs = performance.now() - from;
      log(`  recovered ${phase.recoveryMs.toFixed(0)} ms after the repair`);
      return;
    }
    await sleep(100);
  }
  phase.recoveryMs = null;
  log(`  NOT recovered within ${RECOVERY_LIMIT_MS} ms`);
}

async function settle(ms: number) {
  await sleep(ms);
}

async function runFaults(world: World) {
  const { redis, postgres, a, b } = world;

  // 1. Redis SIGKILL, down 6 s (longer than maxStalenessMs), back empty.
  let phase = beginPhase('Redis SIGKILL, 6 s down, empty restart');
  await redis.kill();
  phase.injectedAt = performance.now();
  coldFirstUse();
  await sleep(500);
  const f1 = take('warm', 'live');
  if (f1) void revoke(world, f1, 0, 'fault');
  await coldRevocation(world, 1);
  await sleep(1000);
  const f1b = take('warm', 'live');
  if (f1b) void revoke(world, f1b, 1, 'fault');
  await sleep(4500);
  await redis.start();
  phase.repairedAt = performance.now();
  await measureRecovery(world, phase);
  await settle(4000);

  // 2. Three 0.3 s Redis restarts, with revocations during and right after each.
  for (let round = 1; round <= 3; round++) {
    phase = beginPhase(`Redis restart in 0.3 s (${round}/3)`);
    await redis.kill();
    phase.injectedAt = performance.now();
    const during = take('warm', 'live');
    if (during) void revoke(world, during, round % 2, 'fault');
    await sleep(300 - (performance.now() - phase.injectedAt));
    await redis.start();
    phase.repairedAt = performance.now();
    phase.notes.push(`down ${(phase.repairedAt - phase.injectedAt).toFixed(0)} ms`);
    // Before the instances have resubscribed: one revocation through each.
    for (const preferred of [0, 1]) {
      const after = take('warm', 'live');
      if (after) void revoke(world, after, preferred, 'fault');
    }
    void coldRevocation(world, round % 2);
    await measureRecovery(world, phase);
    await settle(3000);
  }

  // 3. Postgres immediate stop, 4 s down, restart.
  phase = beginPhase('Postgres immediate stop, 4 s down, restart');
  postgres.stopImmediate();
  phase.injectedAt = performance.now();
  coldFirstUse();
  const f3 = take('warm', 'live');
  if (f3) void revoke(world, f3, 0, 'fault');
  await sleep(4000);
  postgres.start();
  phase.repairedAt = performance.now();
  void coldRevocation(world, 1);
  await measureRecovery(world, phase);
  await settle(4000);

  // 4. SIGKILL of instance B right after it acknowledged a revocation; restart.
  phase = beginPhase('SIGKILL instance B (after a revoke it acked), restart');
  const f4 = take('warm', 'live');
  if (f4) await revoke(world, f4, 1, 'fault');
  await b.signal('SIGKILL');
  phase.injectedAt = performance.now();
  coldFirstUse();
  await sleep(1500);
  phase.notes.push(...(await b.start()));
  phase.repairedAt = performance.now();
  await measureRecovery(world, phase);
  await settle(4000);

  // 5. Redis paused (SIGSTOP); revocations through A; A killed; Redis resumed; A restarted.
  phase = beginPhase('Redis paused, revokes via A, SIGKILL A, Redis resumed, restart A');
  redis.pause();
  phase.injectedAt = performance.now();
  const f5 = [take('warm', 'live'), take('warm', 'live')].filter((c): c is Credential => Boolean(c));
  const paused = await Promise.all(f5.map((c) => revoke(world, c, 0, 'fault', 4000)));
  phase.notes.push(
    `revokes via A while Redis paused: ${paused.map((r) => `${r.answer.status} in ${(r.answer.endedAt - r.answer.startedAt).toFixed(0)} ms`).join(', ')}`,
  );
  await a.signal('SIGKILL');
  await sleep(1000);
  redis.resume();
  phase.notes.push(...(await a.start()));
  phase.repairedAt = performance.now();
  await measureRecovery(world, phase);
  await settle(4000);

  // 6. SIGTERM of instance A under load; restart.
  phase = beginPhase('SIGTERM instance A under load, restart');
  const f6 = take('warm', 'live');
  if (f6) void revoke(world, f6, 0, 'fault');
  const terminated = a.signal('SIGTERM');
  phase.injectedAt = performance.now();
  coldFirstUse();
  const { exitMs, code } = await terminated;
  const termAt = phase.injectedAt;
  const servedAfterTerm = attempts.filter(
    (t) => t.answer.instance === 'A' && typeof t.answer.status === 'number' && t.answer.startedAt > termAt,
  ).length;
  const resetAfterTerm = attempts.filter(
    (t) => t.answer.instance === 'A' && t.answer.status === 'reset' && t.answer.endedAt > termAt,
  ).length;
  phase.notes.push(
    `exit ${code} after ${exitMs.toFixed(0)} ms; A answered ${servedAfterTerm} token requests sent after SIGTERM and reset ${resetAfterTerm}`,
  );
  phase.notes.push(...(await a.start()));
  phase.repairedAt = performance.now();
  await measureRecovery(world, phase);
  await settle(6000);
}

// ---------------------------------------------------------------------------------------------------
// End checks and the report

/**
 * A token answered 200 to a request that started after its credential's revocation was acknowledged.
 * Checked on the whole record at the end: an answer and an ack that arrive together are ordered by
 * their timestamps, not by which callback ran first.
 */
function checkTokensAfterAck() {
  const revoked = new Map(revocations.filter((r) => r.acked).map((r) => [r.credential.clientId, r]));
  for (const attempt of attempts) {
    const revocation = revoked.get(attempt.clientId);
    const ackAt = revocation?.credential.ackAt;
    if (attempt.answer.status !== 200 || ackAt === undefined || attempt.answer.startedAt <= ackAt) continue;
    const delayMs = attempt.answer.startedAt - ackAt;
    violations.push({
      what: 'token after revoke ack',
      phase: revocation!.phase,
      detail: `${attempt.clientId}: instance ${attempt.answer.instance} issued jti ${attempt.jti} (iat ${attempt.iat}) to a request sent ${delayMs.toFixed(0)} ms after the revoke ack`,
      token: {
        clientId: attempt.clientId,
        revocation: revocation!,
        instance: attempt.answer.instance,
        delayMs,
      },
    });
  }
}

/** Findings for the report: tokens after an ack grouped per credential, everything else one by one. */
function findings(): string[] {
  const lines: string[] = [];
  const label = (phase: number) => `fault ${phase} (${phases[phase]!.name})`;
  const groups = new Map<string, Violation[]>();
  for (const v of violations) {
    if (!v.token) {
      if (lines.length < 40) lines.push(`- ${label(v.phase)}: ${v.what}: ${v.detail}`);
      continue;
    }
    groups.set(v.token.clientId, [...(groups.get(v.token.clientId) ?? []), v]);
  }
  for (const [clientId, group] of groups) {
    const { revocation } = group[0]!.token!;
    const perInstance = ['A', 'B']
      .map((name) => [name, group.filter((v) => v.token!.instance === name).length] as const)
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `${n} from ${name}`)
      .join(', ');
    const delays = group.map((v) => v.token!.delayMs);
    lines.push(
      `- ${label(revocation.phase)}: token after revoke ack: ${clientId} (revoked via ${revocation.via}, ${revocation.kind}): ${group.length} tokens (${perInstance}) to requests sent ${Math.min(...delays).toFixed(0)}-${Math.max(...delays).toFixed(0)} ms after the ack`,
    );
  }
  return lines;
}

async function finalChecks(world: World) {
  phases.push({ name: 'final checks', startedAt: performance.now(), notes: [] });
  const acked = revocations.filter((r) => r.acked);
  // Every acknowledged revocation is in every instance's feed snapshot.
  for (const [index, instance] of world.balancer.instances.entries()) {
    const snapshot = await world.balancer.send(
      index,
      '/revocations',
      {
        headers: {
          authorization: basic(world.resourceServer.name, world.resourceServer.secret),
          accept: 'application/json',
        },
      },
      { fallback: false },
    );
    if (snapshot.status !== 200) {
      violation('feed unreadable at the end', `instance ${instance.name} answered ${snapshot.status}`);
      continue;
    }
    const listed = new Set(
      ((snapshot.body as { entries: Array<{ type: string; client_id?: string }> }).entries ?? [])
        .filter((e) => e.type === 'credential')
        .map((e) => e.client_id),
    );
    const missing = acked.filter((r) => !listed.has(r.credential.clientId));
    phases
      .at(-1)!
      .notes.push(
        `${instance.name}'s feed lists ${listed.size} revoked credentials; ${acked.length - missing.length} of ${acked.length} acked`,
      );
    for (const r of missing) {
      violation(
        'acked revocation missing from the feed',
        `${r.credential.clientId} (revoked via ${r.via}, ${r.kind}) is not in instance ${instance.name}'s /revocations snapshot`,
        r.phase,
      );
    }
  }
  // The kit (its feed fresh again: a live token passes) refuses every probe; /introspect on both says inactive.
  const canary = credentials.find((c) => c.kind === 'canary')!;
  const live = await requestToken(world, canary, 0);
  let kitFresh = false;
  for (let k = 0; k < 50 && !kitFresh && live.status === 200; k++) {
    try {
      await world.kit.verify((live.body as { access_token: string }).access_token);
      kitFresh = true;
    } catch {
      await sleep(100);
    }
  }
  if (!kitFresh) violation('kit not fresh at the end', 'the kit refused a live token for 5 s');
  for (const r of acked) {
    if (!r.probe) continue;
    try {
      await world.kit.verify(r.probe);
      violation(
        'kit accepted at the end',
        `${r.credential.clientId} (revoked via ${r.via}, ${r.kind}): the kit accepts its token`,
        r.phase,
      );
    } catch {
      // refused, as it must be
    }
    for (const preferred of [0, 1]) {
      checkIntrospection(r, await introspect(world, r.probe, preferred), 'final sweep');
    }
  }
}

/** ' (503: 3, timeout: 1)' */
function countBy(values: string[]): string {
  if (values.length === 0) return '';
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return ` (${[...counts].map(([v, n]) => `${v}: ${n}`).join(', ')})`;
}

function fmtMs(ms: number | null | undefined): string {
  if (ms === undefined) return '-';
  if (ms === null) return 'never';
  return `${ms.toFixed(0)} ms`;
}

function report(totalMs: number, error?: unknown): { text: string; failed: boolean } {
  const tokens = attempts.filter((t) => t.answer.status === 200);
  const acked = revocations.filter((r) => r.acked);
  const fivexx = [
    ...attempts.map((t) => ({ what: 'token', phase: t.phase, answer: t.answer })),
    ...otherAnswers,
  ].filter((x) => is5xxFailure(x.answer));
  const unavailable = [...attempts.map((t) => t.answer), ...otherAnswers.map((o) => o.answer)].filter(
    isUnavailable,
  );
  const connection = attempts.filter((t) => typeof t.answer.status === 'string');
  const kitTimes = revocations.filter((r) => typeof r.kitRefusalMs === 'number').map((r) => r.kitRefusalMs!);
  kitTimes.sort((x, y) => x - y);
  const faults = phases.slice(1).filter((p) => p.name !== 'final checks');
  const notRecovered = faults.filter((p) => p.recoveryMs === null);
  const byKind = (what: string) => violations.filter((v) => v.what === what).length;
  const statusCounts = new Map<string, number>();
  for (const t of attempts) {
    const key = String(t.answer.status);
    statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
  }
  const lines: string[] = [];
  lines.push('| measure | value |', '| --- | --- |');
  lines.push(`| faults injected | ${faults.length} |`);
  lines.push(
    `| revocations acknowledged | ${acked.length} (via A ${acked.filter((r) => r.answer.instance === 'A').length}, via B ${acked.filter((r) => r.answer.instance === 'B').length}); not acknowledged: ${revocations.length - acked.length}${countBy(revocations.filter((r) => !r.acked).map((r) => String(r.answer.status)))} |`,
  );
  lines.push(
    `| tokens issued | ${tokens.length} (A ${tokens.filter((t) => t.answer.instance === 'A').length}, B ${tokens.filter((t) => t.answer.instance === 'B').length}) of ${attempts.length} requests; answers: ${[...statusCounts].map(([s, n]) => `${s}: ${n}`).join(', ')} |`,
  );
  const latencies = attempts
    .filter((t) => typeof t.answer.status === 'number')
    .map((t) => t.answer.endedAt - t.answer.startedAt)
    .sort((x, y) => x - y);
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  lines.push(
    `| /token response time | p50 ${fmtMs(at(50))}, p99 ${fmtMs(at(99))}, max ${fmtMs(latencies.at(-1))} |`,
  );
  lines.push(`| **violations (must be 0)** | **${violations.length}** |`);
  for (const what of [
    'token after revoke ack',
    'introspect active after revoke ack',
    'kit refused late',
    'kit accepted',
    'kit accepted at the end',
    'acked revocation missing from the feed',
    'feed unreadable at the end',
    'kit not fresh at the end',
  ]) {
    lines.push(`| &nbsp;&nbsp;${what} | ${byKind(what)} |`);
  }
  lines.push(`| **5xx answers other than 503 + Retry-After (must be 0)** | **${fivexx.length}** |`);
  lines.push(`| 503 + Retry-After (a dependency down) | ${unavailable.length} |`);
  lines.push(`| token requests reset or timed out | ${connection.length} |`);
  lines.push(
    `| revocation to kit refusal (maxStalenessMs ${MAX_STALENESS_MS}) | slowest ${fmtMs(kitTimes.at(-1))}, median ${fmtMs(kitTimes[Math.floor(kitTimes.length / 2)])} over ${kitTimes.length} |`,
  );
  lines.push(`| kit background errors (feed disconnects, refused subscriptions) | ${kitErrors} |`);
  lines.push(`| faults not recovered within ${RECOVERY_LIMIT_MS / 1000} s | ${notRecovered.length} |`);
  lines.push('');
  lines.push(
    '| # | fault | recovery after repair | revocations acked (not acked) | tokens issued | 5xx (other than 503 + Retry-After) | 503 + Retry-After | resets/timeouts | violations | notes |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const [index, phase] of phases.entries()) {
    const inPhase = <T extends { phase: number }>(xs: T[]) => xs.filter((x) => x.phase === index);
    const phaseRevocations = inPhase(revocations);
    const phaseAttempts = inPhase(attempts);
    const notes = [...phase.notes, readinessNote(index)].filter(Boolean);
    lines.push(
      `| ${index === 0 ? '-' : index === phases.length - 1 ? '-' : index} | ${phase.name} | ${index === 0 || index === phases.length - 1 ? '-' : fmtMs(phase.recoveryMs)} | ${phaseRevocations.filter((r) => r.acked).length} (${phaseRevocations.filter((r) => !r.acked).length}) | ${phaseAttempts.filter((t) => t.answer.status === 200).length} | ${inPhase(fivexx).length} | ${phaseAttempts.filter((t) => isUnavailable(t.answer)).length + inPhase(otherAnswers).filter((o) => isUnavailable(o.answer)).length} | ${phaseAttempts.filter((t) => typeof t.answer.status === 'string').length} | ${inPhase(violations).length} | ${notes.join('; ')} |`,
    );
  }
  lines.push('');
  lines.push(
    `node ${process.version}, ${os.cpus().length} cores, ${CONCURRENCY} in flight at most ${RATE} token requests/s, run took ${(totalMs / 1000).toFixed(0)} s`,
  );
  if (error) lines.push('', `The run stopped early: ${String((error as Error).stack ?? error)}`);
  if (violations.length > 0 || fivexx.length > 0) {
    lines.push('', 'Findings:', '');
    lines.push(...findings());
    for (const x of fivexx.slice(0, 10)) {
      lines.push(
        `- fault ${x.phase} (${phases[x.phase]!.name}): ${x.what} answered ${x.answer.status} on ${x.answer.instance}${x.answer.retryAfter ? ' with Retry-After' : ''}: ${JSON.stringify(x.answer.body).slice(0, 200)}`,
      );
    }
  }
  const failed = Boolean(error) || violations.length > 0 || fivexx.length > 0 || notRecovered.length > 0;
  return { text: lines.join('\n'), failed };
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = performance.now();
  let world: World | undefined;
  let error: unknown;
  try {
    world = await setup();
    await warmUp(world);
    log(
      `load: ${CONCURRENCY} in flight, at most ${RATE} token requests/s; revocations every ${REVOKE_EVERY_MS} ms`,
    );
    phases[0]!.startedAt = performance.now();
    const load = tokenLoad(world);
    const steady = steadyRevocations(world);
    const ready = sampleReadiness(world);
    for (let k = 0; k < 4; k++) {
      await sleep(2000);
      await coldRevocation(world, k % 2);
    }
    await runFaults(world);
    stopping = true;
    await Promise.all([load, steady, ready]);
    // Let pending revocation checks end (each is bounded).
    await sleep(MAX_STALENESS_MS + KIT_TOLERANCE_MS + 3500);
    await finalChecks(world);
  } catch (caught) {
    error = caught;
    stopping = true;
    log(`the run failed: ${String((caught as Error).stack ?? caught)}`);
  }
  if (!world) {
    cleanupAll();
    return 1;
  }
  checkTokensAfterAck();
  const { text, failed } = report(performance.now() - started, error);
  await world.kit?.close().catch(() => {});
  process.stdout.write(`\n${text}\n\n${failed ? 'chaos check FAILED' : 'chaos check passed'}\n`);
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.md'), `${text}\n`);
  log(
    `table written to ${path.relative(ROOT, path.join(RESULTS_DIR, 'latest.md'))}; instance logs beside it`,
  );
  cleanupAll();
  return failed ? 1 : 0;
}

// Whatever happens, nothing the run started outlives it.
process.on('exit', cleanupAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`[chaos] ${signal}: stopping everything the run started\n`);
    cleanupAll();
    process.exit(130);
  });
}
const hardTimeout = setTimeout(() => {
  process.stderr.write(`[chaos] hard timeout (${HARD_TIMEOUT_MS / 1000} s): stopping everything\n`);
  cleanupAll();
  process.exit(2);
}, HARD_TIMEOUT_MS);

main().then(
  (code) => {
    clearTimeout(hardTimeout);
    process.exit(code);
  },
  (caught: unknown) => {
    process.stderr.write(`[chaos] ${String(caught)}\n`);
    cleanupAll();
    process.exit(1);
  },
);
