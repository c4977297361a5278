import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './test-server.ts';

/**
 * Redis and Postgres servers of a test's own, on private ports and data directories (never the
 * machine's shared ones), that the test can stop and start again to play a dependency outage.
 */
export interface PrivateService {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

function which(binary: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return null;
  const version = fs.readdirSync(root).sort().at(-1);
  const dir = version ? path.join(root, version, 'bin') : null;
  return dir && fs.existsSync(path.join(dir, 'initdb')) ? dir : null;
}

/** Postgres refuses to run as root; as root the servers run as the `postgres` system user. */
const runAs = process.getuid?.() === 0 ? (which('runuser') ? 'postgres' : null) : undefined;

export const privateRedisAvailable = Boolean(which('redis-server'));
export const privatePostgresAvailable = Boolean(postgresBin()) && runAs !== null;

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function startPrivateRedis(): Promise<PrivateService> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-redis-'));
  let child: ChildProcess | undefined;
  const ping = async () => {
    try {
      execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'pipe' });
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
    await until(ping, `private redis on ${port}`);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    destroy: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startPrivatePostgres(): Promise<PrivateService> {
  const bin = postgresBin();
  if (!bin || runAs === null) throw new Error('no Postgres server binaries to run a private instance');
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-pg-'));
  const data = path.join(dir, 'data');
  const run = (command: string, args: string[]) => {
    const full = path.join(bin, command);
    return runAs
      ? execFileSync('runuser', ['-u', runAs, '--', full, ...args], { stdio: 'pipe' })
      : execFileSync(full, args, { stdio: 'pipe' });
  };
  if (runAs) execFileSync('chown', ['-R', `${runAs}:${runAs}`, dir]);
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const start = async () => {
    run('pg_ctl', [
      '-D',
      data,
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      '-l',
      path.join(dir, 'log'),
      '-w',
      'start',
    ]);
  };
  const stop = async () => {
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    destroy: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
