import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type PrivateService,
  startPrivatePostgres,
  startPrivateRedis,
} from '../../helpers/private-services.ts';
import { runCli } from '../../helpers/cli.ts';
import { until } from '../../helpers/eventually.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { freePort } from '../../helpers/test-server.ts';

/**
 * WORKERS=2 as an operator runs it: `node src/main.ts` forks two workers sharing one port, on Postgres
 * and Redis (the run's own when DATABASE_URL / REDIS_URL are set, private ones otherwise). Connections
 * spread over both workers; /metrics adds both up; a killed worker is replaced; SIGTERM stops them all.
 */

const ROOT = path.resolve(import.meta.dirname, '../../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');

let workDir: string;
let database: TestDatabase | undefined;
let privatePostgres: PrivateService | undefined;
let privateRedis: PrivateService | undefined;
let env: NodeJS.ProcessEnv;
let primary: ChildProcess | undefined;
const logLines: Array<Record<string, unknown>> = [];
let baseUrl: string;
let credentials: { client_id: string; client_secret: string };
/** The second test's primary, on a port already taken: started with the first one, run beside it. */
let portTaken: Promise<{ code: number | null; stdout: string; stderr: string }>;
let portTakenPrimary: ChildProcess | undefined;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-workers-'));
  if (process.env.DATABASE_URL) {
    database = await createTestDatabase(path.join(workDir, 'unused'));
  } else {
    privatePostgres = await startPrivatePostgres();
  }
  const databaseUrl = database?.config.kind === 'postgres' ? database.config.url : privatePostgres!.url;
  if (!process.env.REDIS_URL) privateRedis = await startPrivateRedis();
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? privateRedis!.url,
    // A prefix of this file's own: other test files share the run's Redis.
    REDIS_KEY_PREFIX: `svcauth-workers-${port}:`,
    KEYS_DIR: path.join(workDir, 'keys'),
    HOST: '127.0.0.1',
    PORT: String(port),
    ISSUER: baseUrl,
    LOG_LEVEL: 'info',
    WORKERS: '2',
  };
  delete env.DATA_DIR;
  // The CLI in this process (test/integration/cli runs the real binary).
  const cli = async (args: string[]) => {
    const result = await runCli(args, env);
    if (result.code !== 0) throw new Error(`svcauth ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  await cli(['keys', 'generate']);
  await cli(['migrate']);
  credentials = JSON.parse(await cli(['bootstrap', '--org', 'workers', '--json']));

  portTaken = startOnTakenPort();
  portTaken.catch(() => {});
  primary = spawn(NODE, ['src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let buffered = '';
  primary.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.trim()) logLines.push(JSON.parse(line));
  });
  primary.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  // Three Node processes loading the whole server: generous, for a busy machine.
  await waitFor(() => listeningWorkers().length === 2, 'two workers listening', 100_000);
}, 120_000);

afterAll(async () => {
  if (primary && primary.exitCode === null) {
    primary.kill('SIGKILL');
    for (const pid of listeningWorkers()) killQuietly(pid);
  }
  // Only if its test failed before it gave up.
  if (portTakenPrimary && portTakenPrimary.exitCode === null) portTakenPrimary.kill('SIGKILL');
  await portTaken?.catch(() => {});
  await privatePostgres?.destroy();
  await privateRedis?.destroy();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/** Pids of workers that announced they listen (replacements included). */
function listeningWorkers(): number[] {
  return logLines.filter((l) => l.msg === 'svcauth listening').map((l) => l.pid as number);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const waitFor = (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) =>
  until(check, what, timeoutMs);

/** One request on a connection of its own, so the cluster can hand it to either worker. */
function request(
  method: string,
  pathname: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}${pathname}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

function tokenRequest() {
  const basic = Buffer.from(
    `${encodeURIComponent(credentials.client_id)}:${encodeURIComponent(credentials.client_secret)}`,
  ).toString('base64');
  return request(
    'POST',
    '/token',
    { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    'grant_type=client_credentials',
  );
}

function issuedCount(metricsText: string): number {
  const line = metricsText
    .split('\n')
    .find((l) => l.startsWith('svcauth_token_requests_total{') && l.includes('outcome="issued"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

it('two workers share the port, /metrics adds them up, a killed worker is replaced, SIGTERM stops all', async () => {
  const workers = listeningWorkers();
  expect(new Set(workers).size).toBe(2);

  const TOKENS = 40;
  for (let i = 0; i < TOKENS; i++) expect((await tokenRequest()).status).toBe(200);
  // Both workers served token requests (their request lines carry their worker id).
  const served = new Set(
    logLines.filter((l) => l.msg === 'request' && l.path === '/token').map((l) => l.worker),
  );
  expect(served.size).toBe(2);

  // Whichever worker answers the scrape, the counter is the sum over both.
  for (let i = 0; i < 4; i++) {
    const metrics = await request('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(issuedCount(metrics.body)).toBe(TOKENS);
  }

  // A worker that dies is replaced; the port keeps answering meanwhile.
  const victim = workers[0]!;
  process.kill(victim, 'SIGKILL');
  await waitFor(
    () => logLines.some((l) => l.msg === 'worker exited; starting a replacement'),
    'the primary to notice',
  );
  expect((await tokenRequest()).status).toBe(200);
  await waitFor(() => listeningWorkers().length === 3, 'a replacement worker');
  const replacement = listeningWorkers()[2]!;
  expect(replacement).not.toBe(victim);
  for (let i = 0; i < 6; i++) expect((await tokenRequest()).status).toBe(200);

  const exited = new Promise<number | null>((resolve) => primary!.once('exit', (code) => resolve(code)));
  primary!.kill('SIGTERM');
  expect(await exited).toBe(0);
  for (const pid of [workers[1]!, replacement]) {
    await waitFor(() => !isAlive(pid), `worker ${pid} to stop`, 15_000);
  }
}, 120_000);

it('workers that cannot start (port taken) make the primary give up with exit code 1, not restart forever', async () => {
  const { code, stdout, stderr } = await portTaken;
  expect(code).toBe(1);
  expect(stderr).toContain('EADDRINUSE');
  expect(stdout).toContain('workers keep failing before they listen');
}, 60_000);

/**
 * `node src/main.ts` with WORKERS=2 on a port something else holds, until it exits. Its workers fail
 * and are restarted with a growing delay until the primary gives up: seconds, spent while the first
 * test runs (a Redis key prefix of its own keeps the two apart).
 */
async function startOnTakenPort(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as net.AddressInfo;
  try {
    const child = spawn(NODE, ['src/main.ts'], {
      cwd: ROOT,
      env: {
        ...env,
        PORT: String(port),
        ISSUER: `http://127.0.0.1:${port}`,
        REDIS_KEY_PREFIX: `svcauth-workers-${port}-taken:`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    portTakenPrimary = child;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, stdout, stderr };
  } finally {
    blocker.close();
  }
}
