/**
 * Rows (m), (m1), (m2), (m3), the management API at size (issue 19): an organization with 10,000
 * accounts and 30,000 credentials. (m1-m3) are the account list's first page, a name search and a role
 * filter, each asked one at a time (their latency is the server's); (m) is /token on warm credentials
 * of that organization while credentials are created through the management API at 20 a second (a
 * bcrypt hash each), in alternating slices with (a) on its own server, which is its baseline.
 */
import { sql } from 'kysely';
import { SecretHasher } from '../../src/keys/secret-hasher.ts';
import { openDatabase } from '../../src/persistence/database.ts';
import { bootstrapOrganization } from '../../src/services/bootstrap-service.ts';
import { basic, type LoadTarget, percentile, runInterleaved } from './load.ts';
import { waitForQuietMachine } from './machine.ts';
import { startSvcauth } from './processes.ts';
import { type BenchRow, fmt, obtainToken, request, type ScaleContext } from './scale-context.ts';

const ACCOUNTS = 10_000;
const CREDENTIALS_PER_ACCOUNT = 3;
/** Every this-many-th account holds the role the role filter asks for (100 of 10,000). */
const RARE_ROLE_EVERY = 100;
const QUERY_SAMPLES = 200;
const QUERY_WARMUP = 10;
const WARM_CREDENTIALS = 200;
const CREATIONS_PER_SECOND = 20;
/** Created credentials rotate over this many accounts (the organization's per-account limit holds). */
const CREATION_ACCOUNTS = 2000;

/** Latencies (ms, sorted) of `samples` requests one after the other; every answer must be 200. */
async function sequentialLatencies(
  url: string,
  token: string,
): Promise<{ latencies: number[]; body: string }> {
  const latencies: number[] = [];
  let body = '';
  for (let i = 0; i < QUERY_WARMUP + QUERY_SAMPLES; i++) {
    const started = performance.now();
    const answer = await request(url, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
    const elapsed = performance.now() - started;
    if (answer.status !== 200) throw new Error(`GET ${url} answered ${answer.status}: ${answer.body}`);
    if (i >= QUERY_WARMUP) latencies.push(elapsed);
    body = answer.body;
  }
  return { latencies: latencies.sort((a, b) => a - b), body };
}

/** Credential creations at a fixed rate (open loop: a slow answer does not slow the next request). */
function creator(url: string, token: string, accountIds: string[], counter: { next: number }) {
  const latencies: number[] = [];
  const failures: string[] = [];
  let created = 0;
  const inFlight = new Set<Promise<void>>();
  const startedAt = performance.now();
  const timer = setInterval(() => {
    const n = counter.next++;
    const accountId = accountIds[n % accountIds.length]!;
    const sent = performance.now();
    const done = request(`${url}/admin/v1/service-accounts/${accountId}/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `bench created ${n}`, type: 'oauth_client' }),
    })
      .then((answer) => {
        latencies.push(performance.now() - sent);
        if (answer.status === 201) created += 1;
        else failures.push(`${answer.status} ${answer.body.slice(0, 200)}`);
      })
      .catch((error: unknown) => {
        failures.push(String(error));
      })
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  }, 1000 / CREATIONS_PER_SECOND);
  return {
    stats: { latencies, failures, created: () => created },
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inFlight);
      return performance.now() - startedAt;
    },
  };
}

export async function adminAtSizeRows(
  context: ScaleContext,
  /** Row (a)'s load, measured again in alternating slices with this row's. */
  rowA: LoadTarget,
): Promise<BenchRow[]> {
  const started = performance.now();
  const { env, seeded } = await context.preparePostgres(ACCOUNTS, CREDENTIALS_PER_ACCOUNT);
  const handle = await openDatabase({ kind: 'postgres', url: env.DATABASE_URL!, poolMax: 5 });
  let admin: Awaited<ReturnType<typeof bootstrapOrganization>>;
  let rareRoleId: string;
  let creationAccounts: string[];
  try {
    const org = await handle.db
      .selectFrom('organizations')
      .select('slug')
      .where('id', '=', seeded.orgId)
      .executeTakeFirstOrThrow();
    const role = await handle.db
      .insertInto('roles')
      .values({ org_id: seeded.orgId, name: 'auditor', permissions: ['items:read'] })
      .returning('id')
      .executeTakeFirstOrThrow();
    rareRoleId = role.id;
    await sql`
      insert into service_account_roles (org_id, service_account_id, role_id)
      select org_id, id, ${rareRoleId}::uuid from (
        select org_id, id, row_number() over (order by id) as n from service_accounts
        where org_id = ${seeded.orgId}::uuid and not is_protected
      ) as a where n % ${RARE_ROLE_EVERY} = 0`.execute(handle.db);
    await sql`vacuum analyze service_account_roles`.execute(handle.db);
    admin = await bootstrapOrganization(handle.db, new SecretHasher(context.bcryptCost), { slug: org.slug });
    const accounts = await handle.db
      .selectFrom('service_accounts')
      .select('id')
      .where('org_id', '=', seeded.orgId)
      .where('is_protected', '=', false)
      .where('name', 'like', 'bench account %')
      .orderBy('id')
      .limit(CREATION_ACCOUNTS)
      .execute();
    creationAccounts = accounts.map((a) => a.id);
  } finally {
    await handle.close();
  }

  const server = await startSvcauth(env);
  context.cleanups.push(() => server.stop());
  const rows: BenchRow[] = [];
  try {
    const adminToken = await obtainToken(
      server.url,
      admin.client_id,
      admin.client_secret,
      `${server.url}/admin`,
    );
    const list = `${server.url}/admin/v1/service-accounts`;
    // One account matches: the search reads the whole organization before it can answer.
    const needle = `account ${Math.floor(ACCOUNTS * 0.9876)}`;
    const queries = [
      { id: 'm1', what: 'first page of the account list', url: list, expect: 50 },
      {
        id: 'm2',
        what: `name search matching one account (q=${needle})`,
        url: `${list}?q=${encodeURIComponent(needle)}`,
        expect: 1,
      },
      {
        id: 'm3',
        what: `role filter, a role held by ${ACCOUNTS / RARE_ROLE_EVERY} accounts`,
        url: `${list}?role_id=${rareRoleId}`,
        expect: 50,
      },
    ];
    for (const query of queries) {
      await waitForQuietMachine();
      const { latencies, body } = await sequentialLatencies(query.url, adminToken);
      const items = (JSON.parse(body) as { items?: unknown[] }).items?.length ?? 0;
      if (items !== query.expect)
        throw new Error(`(${query.id}): ${query.url} listed ${items}, not ${query.expect}`);
      const p99 = percentile(latencies, 99);
      rows.push({
        id: query.id,
        name: `admin API, ${ACCOUNTS.toLocaleString('en')} accounts / ${(ACCOUNTS * CREDENTIALS_PER_ACCOUNT).toLocaleString('en')} credentials: ${query.what}`,
        throughput: latencies.length / (latencies.reduce((a, b) => a + b, 0) / 1000),
        unit: 'req/s',
        p50: percentile(latencies, 50),
        p99,
        baseline: null,
        ratio: null,
        target: 'p99 < 50 ms',
        met: p99 < 50,
        notes: `${latencies.length} requests one at a time, ${items} listed`,
      });
    }

    // /token on warm credentials of the large organization while credentials are being created.
    const spread = Math.floor(seeded.clientIds.length / WARM_CREDENTIALS);
    const warmIds = Array.from({ length: WARM_CREDENTIALS }, (_, k) => seeded.clientIds[k * spread]!);
    let nextWarm = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (nextWarm < warmIds.length) await obtainToken(server.url, warmIds[nextWarm++]!, seeded.secret);
      }),
    );
    // A token of its own: on a busy machine (m1)-(m3) and their waits outlast the first one's 300 s.
    const creatorToken = await obtainToken(
      server.url,
      admin.client_id,
      admin.client_secret,
      `${server.url}/admin`,
    );
    const counter = { next: 0 };
    const creations: Array<ReturnType<typeof creator>> = [];
    let creatingMs = 0;
    let i = 0;
    const target: LoadTarget = {
      url: server.url,
      server,
      request: () => ({
        path: '/token',
        headers: {
          authorization: basic(warmIds[i++ % warmIds.length]!, seeded.secret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      }),
      alongside: () => {
        const creation = creator(server.url, creatorToken, creationAccounts, counter);
        creations.push(creation);
        return {
          stop: async () => {
            creatingMs += await creation.stop();
          },
        };
      },
    };
    const [againA, mResult] = await runInterleaved([rowA, target], {
      connections: context.connections,
      durationSeconds: context.durationSeconds,
      rounds: context.rounds,
    });
    const created = creations.reduce((n, c) => n + c.stats.created(), 0);
    const creationLatencies = creations.flatMap((c) => c.stats.latencies).sort((a, b) => a - b);
    const failures = creations.flatMap((c) => c.stats.failures);
    const alongside = againA!.throughput;
    const ratio = mResult!.throughput / alongside;
    const cpu = mResult!.cpuMsPerRequest;
    rows.push({
      id: 'm',
      name: `/token on ${WARM_CREDENTIALS} warm credentials of that organization while credentials are created through the admin API at ${CREATIONS_PER_SECOND}/s (bcrypt cost ${context.bcryptCost} each)`,
      throughput: mResult!.throughput,
      unit: 'req/s',
      p50: mResult!.p50,
      p99: mResult!.p99,
      baseline: 'a',
      ratio,
      target: '>= 0.8x (a)',
      met: ratio >= 0.8 && failures.length === 0,
      notes: [
        `(a) measured alongside: ${fmt(alongside, 0)} req/s`,
        `${created} credentials created (${fmt(created / (creatingMs / 1000))}/s), creation p50 ${fmt(percentile(creationLatencies, 50))} ms, p99 ${fmt(percentile(creationLatencies, 99))} ms, ${failures.length} refused${failures.length ? ` (${failures.slice(0, 2).join('; ')})` : ''}`,
        cpu
          ? `server CPU ${fmt(cpu.process, 2)} ms/req (main thread ${fmt(cpu.mainThread, 2)}), bcrypt included`
          : '',
        mResult!.non2xx || mResult!.errors ? `${mResult!.non2xx} non-2xx, ${mResult!.errors} errors` : '',
      ]
        .filter(Boolean)
        .join('; '),
    });
  } finally {
    await server.stop();
  }
  context.log(`(m) took ${fmt((performance.now() - started) / 1000, 0)} s`);
  return rows;
}
