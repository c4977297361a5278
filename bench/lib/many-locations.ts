/**
 * Row (k) of issue 19: accounts on 1,000 explicit locations, five permissions each, whose tokens carry
 * `permissions_packed` (README, "The access token"). Two measurements, each in alternating slices with
 * its baseline on the same machine: `/token` for those accounts against (a)'s warm credentials on the
 * same server, and the kit's `verify()` + `can()` of such a token against (e)'s `verify()` of (a)'s
 * token. The token's size is reported against the 8 KB target.
 */
import { sql } from 'kysely';
import { decodeJwt } from 'jose';
import { PRODUCT_PERMISSIONS } from '../../config/permissions.ts';
import { writePermissionsClaim } from '../../src/domain/permissions-claim.ts';
import { generateClientSecret } from '../../src/domain/credential-format.ts';
import { SecretHasher } from '../../src/keys/secret-hasher.ts';
import { openDatabase } from '../../src/persistence/database.ts';
import { createVerifier } from '../../src/resource-server/index.ts';
import { provisionOrganization } from '../../src/services/bootstrap-service.ts';
import { basic, type LoadTarget, percentile, runInterleaved } from './load.ts';
import { waitForQuietMachine } from './machine.ts';
import type { ServerProcess } from './processes.ts';
import { type BenchRow, fmt, obtainToken, type ScaleContext } from './scale-context.ts';

const LOCATIONS = 1000;
/** Accounts on all 1,000 locations, and credentials of each: (a) also spreads over many credentials. */
const ACCOUNTS = 10;
const CREDENTIALS_PER_ACCOUNT = 5;
const TOKEN_SIZE_TARGET = 8192;
const ALL = [...PRODUCT_PERMISSIONS].sort();

/**
 * Location i's permissions (the same matrix as test/integration/token/many-locations.test.ts): all
 * five at most locations, four at every 7th (four sets), a pair of its own at every 97th.
 */
function permissionsAt(i: number): string[] {
  if (i % 97 === 0) return [ALL[i % 5]!, ALL[(i + 1 + (i % 3)) % 5]!].sort();
  if (i % 7 === 0) return ALL.filter((_, j) => j !== i % 4);
  return [...ALL];
}

/** What (k) needs from run.ts: (a)'s server and credentials, and the baselines' rows. */
export interface ManyLocationsContext extends ScaleContext {
  server: ServerProcess;
  databaseUrl: string;
  /** (a)'s load: warm credentials on the same server. */
  aTarget: LoadTarget;
  rowA: BenchRow;
  /** A token of one of (a)'s credentials: what (e) verifies. */
  smallToken: () => Promise<string>;
}

interface Seeded {
  secret: string;
  clientIds: string[];
  /** Product location ids, as tokens key them. */
  locationKeys: string[];
}

/** One organization, 1,000 locations with product ids, one role per permission ticked per location. */
async function seed(databaseUrl: string, bcryptCost: number): Promise<Seeded> {
  const handle = await openDatabase({ kind: 'postgres', url: databaseUrl, poolMax: 2 });
  try {
    const db = handle.db;
    const { organization } = await provisionOrganization(db, 'bench-many-locations', 'bench-many-locations');
    const orgId = organization.id;
    const secret = generateClientSecret();
    const hash = await new SecretHasher(bcryptCost).hash(secret);
    const locations = await db
      .insertInto('locations')
      .values(
        Array.from({ length: LOCATIONS }, (_, n) => ({
          org_id: orgId,
          name: `store ${n + 1}`,
          external_id: `store-${n + 1}`,
        })),
      )
      .returning(['id', 'external_id'])
      .execute();
    const roleIds: string[] = [];
    for (const permission of ALL) {
      const role = await db
        .insertInto('roles')
        .values({ org_id: orgId, name: `only ${permission}`, permissions: [permission] })
        .returning('id')
        .executeTakeFirstOrThrow();
      roleIds.push(role.id);
    }
    const accounts = await db
      .insertInto('service_accounts')
      .values(
        Array.from({ length: ACCOUNTS }, (_, n) => ({ org_id: orgId, name: `many locations ${n + 1}` })),
      )
      .returning('id')
      .execute();
    const byNumber = locations.map((l) => ({ id: l.id, i: Number(l.external_id!.slice('store-'.length)) }));
    for (const { id: accountId } of accounts) {
      await db
        .insertInto('service_account_locations')
        .values(byNumber.map((l) => ({ org_id: orgId, service_account_id: accountId, location_id: l.id })))
        .execute();
      await db
        .insertInto('service_account_roles')
        .values(roleIds.map((roleId) => ({ org_id: orgId, service_account_id: accountId, role_id: roleId })))
        .execute();
      await db
        .insertInto('service_account_role_locations')
        .values(
          roleIds.flatMap((roleId, r) =>
            byNumber
              .filter((l) => permissionsAt(l.i).includes(ALL[r]!))
              .map((l) => ({
                org_id: orgId,
                service_account_id: accountId,
                role_id: roleId,
                location_id: l.id,
              })),
          ),
        )
        .execute();
    }
    await sql`
      insert into credentials (id, org_id, service_account_id, type, name, client_id, secret_hash, lineage_id)
      select id, org_id, account_id, 'oauth_client', 'bench credential', client_id, ${hash}, id
      from (
        select gen_random_uuid() as id, a.org_id, a.id as account_id,
               'svcc_' || substr(md5(random()::text || a.id::text || g::text), 1, 22) as client_id
        from service_accounts a cross join generate_series(1, ${CREDENTIALS_PER_ACCOUNT}::int) as g
        where a.org_id = ${orgId}::uuid and not a.is_protected
      ) as c`.execute(db);
    for (const table of [
      'locations',
      'service_account_locations',
      'service_account_role_locations',
      'credentials',
    ]) {
      await sql`vacuum analyze ${sql.table(table)}`.execute(db);
    }
    const credentials = await db
      .selectFrom('credentials')
      .select('client_id')
      .where('org_id', '=', orgId)
      .orderBy('client_id')
      .execute();
    return {
      secret,
      clientIds: credentials.map((c) => c.client_id),
      locationKeys: Array.from({ length: LOCATIONS }, (_, n) => `store-${n + 1}`),
    };
  } finally {
    await handle.close();
  }
}

/** The claims' size had the token carried the plain `permissions` form (what was refused before). */
function plainClaimsBytes(token: string, locationKeys: string[]): number {
  const { permissions_packed: _packed, ...claims } = decodeJwt(token);
  const plain = Object.fromEntries(locationKeys.map((key, n) => [key, permissionsAt(n + 1)]));
  return writePermissionsClaim(claims, plain, Number.MAX_SAFE_INTEGER).bytes;
}

export async function manyLocationsRows(ctx: ManyLocationsContext): Promise<BenchRow[]> {
  ctx.log(`(k) seeding ${ACCOUNTS} accounts on ${LOCATIONS} locations`);
  const seeded = await seed(ctx.databaseUrl, ctx.bcryptCost);
  // Warm every credential: its first token costs bcrypt, the subject's load and the packing.
  for (const clientId of seeded.clientIds) await obtainToken(ctx.server.url, clientId, seeded.secret);
  const sample = await obtainToken(ctx.server.url, seeded.clientIds[0]!, seeded.secret);
  const tokenBytes = Buffer.byteLength(sample);
  const claimsBytes = Buffer.byteLength(JSON.stringify(decodeJwt(sample)));
  if (typeof decodeJwt(sample).permissions_packed !== 'string') {
    throw new Error('(k): the token of an account on 1,000 locations carries no permissions_packed');
  }
  const plainBytes = plainClaimsBytes(sample, seeded.locationKeys);

  // /token: (a)'s warm credentials and these, in alternating slices on the same server.
  let next = 0;
  const kTarget: LoadTarget = {
    url: ctx.server.url,
    server: ctx.server,
    request: () => ({
      path: '/token',
      headers: {
        authorization: basic(seeded.clientIds[next++ % seeded.clientIds.length]!, seeded.secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    }),
  };
  await waitForQuietMachine();
  const [aAlongside, kResult] = await runInterleaved([ctx.aTarget, kTarget], {
    connections: ctx.connections,
    durationSeconds: ctx.durationSeconds,
    rounds: ctx.rounds,
  });
  const tokenRatio = kResult!.throughput / aAlongside!.throughput;
  const cpu = kResult!.cpuMsPerRequest;
  const aCpu = aAlongside!.cpuMsPerRequest;
  const issuance: BenchRow = {
    id: 'k',
    name:
      `/token for an account on ${LOCATIONS} explicit locations (5 permissions each, 12 distinct sets; ` +
      `${ACCOUNTS * CREDENTIALS_PER_ACCOUNT} warm credentials), vs (a) alongside`,
    throughput: kResult!.throughput,
    unit: 'req/s',
    p50: kResult!.p50,
    p99: kResult!.p99,
    baseline: 'a',
    ratio: tokenRatio,
    target: `>= 0.8x (a), token < ${TOKEN_SIZE_TARGET} B`,
    met:
      tokenRatio >= 0.8 && tokenBytes < TOKEN_SIZE_TARGET && kResult!.non2xx === 0 && kResult!.errors === 0,
    notes: [
      `token ${tokenBytes} B (claims ${claimsBytes} B packed; ${plainBytes} B with plain permissions)`,
      `(a) alongside: ${fmt(aAlongside!.throughput, 0)} req/s`,
      cpu && aCpu ? `server CPU ${fmt(cpu.process, 2)} ms/req vs (a) ${fmt(aCpu.process, 2)}` : null,
      kResult!.non2xx || kResult!.errors ? `${kResult!.non2xx} non-2xx, ${kResult!.errors} errors` : null,
    ]
      .filter(Boolean)
      .join('; '),
  };

  // The kit: verify() of (a)'s token (what (e) measures) and verify() + can() of this one, alternating.
  const large = await obtainToken(ctx.server.url, seeded.clientIds[0]!, seeded.secret);
  const small = await ctx.smallToken();
  const verifier = createVerifier({
    issuer: ctx.server.url,
    audience: `${ctx.server.url}/api`,
    credentials: ctx.resourceServer,
  });
  await verifier.ready();
  const e: number[] = [];
  const k: number[] = [];
  let probe = 0;
  let wrong = 0;
  const timeLoop = async (step: () => Promise<void>, seconds: number, into: number[]) => {
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until) {
      const t = performance.now();
      await step();
      into.push(performance.now() - t);
    }
  };
  try {
    for (let round = 0; round < ctx.rounds; round++) {
      await timeLoop(
        async () => {
          await verifier.verify(small);
        },
        ctx.durationSeconds / ctx.rounds,
        e,
      );
      await timeLoop(
        async () => {
          const principal = await verifier.verify(large);
          // A different (permission, location) pair each time, answered against the matrix.
          const n = probe++ % LOCATIONS;
          const permission = ALL[probe % ALL.length]!;
          if (
            principal.can(permission, seeded.locationKeys[n]!) !== permissionsAt(n + 1).includes(permission)
          ) {
            wrong += 1;
          }
        },
        ctx.durationSeconds / ctx.rounds,
        k,
      );
    }
  } finally {
    await verifier.close();
  }
  if (wrong > 0)
    throw new Error(`(k): the kit's can() answered ${wrong} (permission, location) pairs wrongly`);
  e.sort((x, y) => x - y);
  k.sort((x, y) => x - y);
  const eThroughput = e.length / ctx.durationSeconds;
  const kThroughput = k.length / ctx.durationSeconds;
  const kit: BenchRow = {
    id: 'k1',
    name: `resource-server kit verify() + can() of that token (${tokenBytes} B), vs (e) alongside`,
    throughput: kThroughput,
    unit: 'verif/s',
    p50: percentile(k, 50),
    p99: percentile(k, 99),
    baseline: 'e',
    ratio: kThroughput / eThroughput,
    target: '>= 0.8x (e)',
    met: kThroughput >= 0.8 * eThroughput,
    notes: `(e) alongside: ${fmt(eThroughput, 0)} verif/s, p50 ${fmt(percentile(e, 50), 2)} ms`,
  };
  return [issuance, kit];
}
