import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis, ReplyError } from 'ioredis';
import { until } from './eventually.ts';
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

/** A private Redis can also freeze: SIGSTOP keeps its sockets open and its data, and answers nothing. */
export interface PrivateRedis extends PrivateService {
  /** SIGSTOP: a hung server or a stalled network path, where no connection closes. */
  pause(): void;
  /** SIGCONT: it answers again, including what it was sent while paused. */
  resume(): void;
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

/**
 * The tools that start and stop the private servers (redis-cli, initdb, pg_ctl) run without blocking:
 * the test's own server runs in the same process and must go on serving meanwhile (a blocking call
 * stopped a worker's event loop for 9 s of a Redis Cluster test's polling).
 */
const run = promisify(execFile);

/**
 * One Redis command on a connection of its own: its reply, an error reply as a ReplyError, or null
 * when nothing answers. Polling goes through it rather than redis-cli: starting a process from a test
 * worker (hundreds of megabytes) took milliseconds each, 5.7 s of a worker's time in one profile.
 */
async function redisCommand(
  port: number,
  password: string | undefined,
  command: string,
  ...args: string[]
): Promise<string | Error | null> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    ...(password ? { password } : {}),
    lazyConnect: true,
    // Its check (INFO) would fail on a server that wants a password, before the command is sent.
    enableReadyCheck: false,
    connectTimeout: 2000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return String(await client.call(command, ...args));
  } catch (error) {
    return error instanceof ReplyError ? (error as Error) : null;
  } finally {
    client.disconnect();
  }
}

/** Postgres refuses to run as root; as root the servers run as the `postgres` system user. */
const runAs = process.getuid?.() === 0 ? (which('runuser') ? 'postgres' : null) : undefined;

/**
 * Tests that need a private server fail when its binaries are missing, never skip: a skipped outage
 * test would hide a regression. .ci/run installs redis-server when it is absent.
 */
function requireRedisServer(): void {
  if (!which('redis-server') || !which('redis-cli')) {
    throw new Error(
      'redis-server and redis-cli are not installed: this test runs a private Redis of its own ' +
        '(install the redis-server package, e.g. apt-get install -y redis-server)',
    );
  }
}

/**
 * A redis-server without persistence, in a temporary directory of its own (its working directory:
 * where a cluster node keeps its state file). serverArguments are appended to the command line.
 */
export async function startPrivateRedis(serverArguments: string[] = []): Promise<PrivateRedis> {
  requireRedisServer();
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-redis-'));
  let child: ChildProcess | undefined;
  // Up once it answers, if only to say that it wants a password.
  const ping = async () => (await redisCommand(port, undefined, 'ping')) !== null;
  const start = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...serverArguments,
      ],
      { stdio: 'ignore' },
    );
    await until(ping, `private redis on ${port}`, 20_000);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  const signal = (name: 'SIGSTOP' | 'SIGCONT') => {
    if (!child || child.exitCode !== null) throw new Error(`private redis on ${port} is not running`);
    child.kill(name);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    destroy: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis Cluster of a test's own: masters only, each a private redis-server (startPrivateRedis). */
export interface PrivateRedisCluster {
  /** Every master, e.g. the seed nodes of a cluster client. */
  nodes: Array<{ host: string; port: number }>;
  /** Each master's own server, to stop one and start it again (then waitUntilServing). */
  servers: PrivateService[];
  /** Resolves once every node reports `cluster_state:ok`: all 16384 slots are served. */
  waitUntilServing(): Promise<void>;
  /** Kills every node. */
  stop(): Promise<void>;
  /** Starts every node again (each rejoins from its state file), then waits until the cluster serves. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * Starts `masters` cluster-mode redis-servers on free ports and joins them into one cluster, the
 * slots spread evenly, with `redis-cli --cluster create`. nodeTimeoutMs is how long a master may be
 * unreachable before the cluster declares it failed (and, with no replica to promote, stops serving).
 * With a password, every node requires it (AUTH, as REDIS_URL would give it).
 */
export async function startPrivateRedisCluster(
  options: { masters?: number; nodeTimeoutMs?: number; password?: string } = {},
): Promise<PrivateRedisCluster> {
  const { masters = 3, nodeTimeoutMs = 3000, password } = options;
  const servers: PrivateService[] = [];
  const destroy = async () => {
    await Promise.all(servers.map((server) => server.destroy()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      // The cluster bus port is a free port of its own: the default, port + 10000, may be taken.
      const busPort = await freePort();
      const server = await startPrivateRedis([
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-port',
        String(busPort),
        '--cluster-node-timeout',
        String(nodeTimeoutMs),
        ...(password ? ['--requirepass', password, '--masterauth', password] : []),
      ]);
      servers.push(server);
    }
    const nodes = servers.map((server) => ({ host: '127.0.0.1', port: Number(new URL(server.url).port) }));
    const addresses = nodes.map(({ host, port }) => `${host}:${port}`);
    try {
      await run(
        'redis-cli',
        ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
        {
          timeout: 60_000,
          // redis-cli takes the password from its environment without the warning that -a prints.
          env: password ? { ...process.env, REDISCLI_AUTH: password } : process.env,
        },
      );
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      // redis-cli colours its messages and prints its errors on stdout.
      // eslint-disable-next-line no-control-regex
      const output = `${stdout ?? ''}${stderr ?? ''}`.replace(/\x1b\[[0-9;]*m/g, '').trim();
      throw new Error(`redis-cli --cluster create ${addresses.join(' ')} failed: ${output || error}`);
    }
    const clusterState = async (port: number): Promise<string> => {
      const info = await redisCommand(port, password, 'cluster', 'info');
      if (info === null) return 'unreachable';
      return typeof info === 'string' ? (/^cluster_state:(\w+)/m.exec(info)?.[1] ?? 'unknown') : 'refused';
    };
    const waitUntilServing = async (): Promise<void> => {
      await until(
        async () =>
          (await Promise.all(nodes.map(({ port }) => clusterState(port)))).every((state) => state === 'ok'),
        `cluster_state:ok on every node of the Redis Cluster ${addresses.join(',')}`,
        20_000,
      );
    };
    await waitUntilServing();
    return {
      nodes,
      servers,
      waitUntilServing,
      stop: async () => {
        await Promise.all(servers.map((server) => server.stop()));
      },
      start: async () => {
        for (const server of servers) await server.start();
        await waitUntilServing();
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}

export async function startPrivatePostgres(): Promise<PrivateService> {
  const bin = postgresBin();
  if (!bin || runAs === null) {
    throw new Error(
      'no Postgres server binaries to run a private instance (initdb and pg_ctl under ' +
        '/usr/lib/postgresql/<version>/bin, and runuser when running as root): install the postgresql package',
    );
  }
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-pg-'));
  const data = path.join(dir, 'data');
  const postgres = (command: string, args: string[]) => {
    const full = path.join(bin, command);
    return runAs ? run('runuser', ['-u', runAs, '--', full, ...args]) : run(full, args);
  };
  if (runAs) await run('chown', ['-R', `${runAs}:${runAs}`, dir]);
  await postgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const start = async () => {
    await postgres('pg_ctl', [
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
      await postgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
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

/**
 * The Redis a test about Redis itself runs against: the machine's (REDIS_URL) on the Postgres + Redis
 * run, else a private redis-server, so the embedded run checks it too instead of skipping it.
 * `release` stops the private server (the machine's is left running).
 */
export async function redisForTests(): Promise<{ url: string; release(): Promise<void> }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, release: async () => {} };
  const redis = await startPrivateRedis();
  return { url: redis.url, release: () => redis.destroy() };
}
