/**
 * The processes a chaos run owns: a private redis-server, a private Postgres cluster and svcauth
 * instances, each on a free 127.0.0.1 port, each with the fault operations the run injects. Every
 * process and temporary directory is registered with `cleanup`, which the run calls on success, on
 * failure, on a signal and from its hard timeout, so nothing outlives the run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, ROOT } from '../../lib/processes.ts';

const NODE = process.execPath;

// ---------------------------------------------------------------------------------------------------
// Cleanup registry: synchronous, so that it also works from process.on('exit').

const cleanups: Array<{ what: string; run: () => void }> = [];

export function onCleanup(what: string, run: () => void): void {
  cleanups.push({ what, run });
}

/** Runs every registered cleanup once, newest first (processes before the directories they use). */
export function cleanupAll(): void {
  while (cleanups.length > 0) {
    const { what, run } = cleanups.pop()!;
    try {
      run();
    } catch (error) {
      process.stderr.write(`[chaos] cleanup of ${what} failed: ${String(error)}\n`);
    }
  }
}

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  onCleanup(dir, () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until check() answers something other than false; returns that answer. */
async function until<T>(
  check: () => Promise<T | false> | T | false,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const answer = await check();
    if (answer !== false) return answer;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function killQuietly(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (child && child.exitCode === null && child.signalCode === null) {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

// ---------------------------------------------------------------------------------------------------
// Redis

export interface ChaosRedis {
  url: string;
  port: number;
  /** SIGKILL; the server comes back empty (no persistence) on start(). */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): void;
  resume(): void;
}

export async function startRedis(): Promise<ChaosRedis> {
  const port = await freePort();
  const dir = tempDir('svcauth-chaos-redis-');
  let child: ChildProcess | undefined;
  const ping = () => {
    try {
      execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'pipe', timeout: 2000 });
      return true;
    } catch {
      return false;
    }
  };
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    await until(ping, `redis-server on ${port}`, 20_000);
  };
  onCleanup('redis-server', () => {
    // A paused server ignores SIGTERM but not SIGKILL.
    killQuietly(child, 'SIGKILL');
  });
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    kill: async () => {
      if (!child) return;
      const current = child;
      killQuietly(current, 'SIGKILL');
      await exited(current);
    },
    pause: () => killQuietly(child, 'SIGSTOP'),
    resume: () => killQuietly(child, 'SIGCONT'),
  };
}

// ---------------------------------------------------------------------------------------------------
// Postgres

export interface ChaosPostgres {
  url: string;
  /** `pg_ctl stop -m immediate`: every connection drops, no shutdown checkpoint. */
  stopImmediate(): void;
  start(): void;
}

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(a) - Number(b)) : [];
  for (const version of versions.reverse()) {
    const dir = path.join(root, version, 'bin');
    if (fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'pg_ctl'))) return dir;
  }
  throw new Error('no Postgres server binaries under /usr/lib/postgresql/*/bin (initdb, pg_ctl)');
}

export async function startPostgres(): Promise<ChaosPostgres> {
  const bin = postgresBin();
  const port = await freePort();
  const dir = tempDir('svcauth-chaos-pg-');
  const data = path.join(dir, 'data');
  // Postgres refuses to run as root; as root its tools run as the `postgres` system user.
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[], timeout = 60_000) => {
    const full = path.join(bin, command);
    return asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', full, ...args], { stdio: 'pipe', timeout })
      : execFileSync(full, args, { stdio: 'pipe', timeout });
  };
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const start = () => {
    run('pg_ctl', [
      '-D',
      data,
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`,
      '-l',
      path.join(dir, 'log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
  };
  const stopImmediate = () => {
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], 30_000);
    } catch {
      // not running
    }
  };
  // Registered before start: a start that fails half-way still leaves a postmaster to stop.
  onCleanup('postgres', stopImmediate);
  start();
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stopImmediate, start };
}

// ---------------------------------------------------------------------------------------------------
// svcauth instances

export interface ChaosInstance {
  name: string;
  url: string;
  /** Whether a process is running now (between start and its exit). */
  running(): boolean;
  /** Starts the process (again, up to 3 times if it exits while starting); returns those exits. */
  start(): Promise<string[]>;
  /** Sends the signal; resolves when the process has exited. */
  signal(signal: 'SIGKILL' | 'SIGTERM'): Promise<{ exitMs: number; code: number | null }>;
}

/** Runs the svcauth CLI (`node src/cli/main.ts ...`) to completion; returns its stdout. */
export function cli(args: string[], env: Record<string, string>): string {
  return execFileSync(NODE, ['src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
}

export async function createInstance(
  name: string,
  env: Record<string, string>,
  logFile: string,
): Promise<ChaosInstance> {
  // One port for the instance's whole life: a restarted instance is the same backend to the clients.
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  onCleanup(`instance ${name}`, () => killQuietly(child, 'SIGKILL'));
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  return {
    name,
    url,
    running,
    start: async () => {
      // Like a supervisor (Kubernetes, systemd): a process that exits while starting is started
      // again, a few times; each such exit is returned (the last line it wrote) for the report.
      const failures: string[] = [];
      for (let attempt = 1; ; attempt++) {
        const log = fs.openSync(logFile, 'a');
        fs.writeSync(log, `\n--- ${new Date().toISOString()} start ${name}\n`);
        child = spawn(NODE, ['src/main.ts'], {
          cwd: ROOT,
          env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port) },
          stdio: ['ignore', log, log],
        });
        fs.closeSync(log);
        const current = child;
        const started = await until(
          async () => {
            if (current.exitCode !== null) return 'exited';
            try {
              const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
              await response.arrayBuffer();
              return response.status === 200;
            } catch {
              return false;
            }
          },
          `instance ${name} on ${url}/healthz`,
          60_000,
        );
        if (started !== 'exited') return failures;
        const lastLine = fs.readFileSync(logFile, 'utf8').trim().split('\n').at(-1) ?? '';
        failures.push(`exited ${current.exitCode} while starting: ${lastLine.slice(0, 160)}`);
        if (attempt === 3) throw new Error(`instance ${name}: ${failures.join('; ')}`);
        await sleep(1000);
      }
    },
    signal: async (signal) => {
      const current = child;
      if (!current || !running()) return { exitMs: 0, code: null };
      const sent = performance.now();
      current.kill(signal);
      await exited(current);
      return { exitMs: performance.now() - sent, code: current.exitCode };
    },
  };
}
