import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = process.execPath;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Resident memory of the server process in MiB, from /proc. */
  rssMiB(): number;
  /** CPU seconds used so far: the whole process (every thread) and its main (JavaScript) thread. */
  cpuSeconds(): CpuSeconds;
  stop(): Promise<void>;
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

export interface CpuSeconds {
  process: number;
  mainThread: number;
}

/** Linux reports CPU time in clock ticks of 1/100 s (USER_HZ). */
const TICKS_PER_SECOND = 100;

/** utime + stime from a /proc stat file, in seconds. */
function statCpuSeconds(file: string): number {
  const stat = fs.readFileSync(file, 'utf8');
  // Fields after the parenthesised command name (which may itself contain spaces).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function track(child: ChildProcess, url: string): ServerProcess {
  return {
    url,
    child,
    rssMiB: () => {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      return Math.round((kb / 1024) * 10) / 10;
    },
    cpuSeconds: () => ({
      process: statCpuSeconds(`/proc/${child.pid}/stat`),
      mainThread: statCpuSeconds(`/proc/${child.pid}/task/${child.pid}/stat`),
    }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** BENCH_CPU_PROFILE_DIR: each server process writes a V8 CPU profile there (read with Chrome DevTools). */
function cpuProfileFlags(): string[] {
  const dir = process.env.BENCH_CPU_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** Starts `node src/main.ts` with the given environment; output is discarded (logs cost what they cost). */
export async function startSvcauth(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(NODE, [...cpuProfileFlags(), 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), ISSUER: url, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForHttp(`${url}/healthz`, child);
  return track(child, url);
}

export async function startBareProvider(extraClaims: Record<string, unknown>): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(NODE, [...cpuProfileFlags(), 'bench/baseline/bare-provider.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), ISSUER: url, EXTRA_CLAIMS: JSON.stringify(extraClaims) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForHttp(`${url}/.well-known/oauth-authorization-server`, child);
  return track(child, url);
}
