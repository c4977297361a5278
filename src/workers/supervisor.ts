import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/index.ts';
import { KeyRing } from '../keys/key-ring.ts';
import type { Logger } from '../logging/logger.ts';
import { serveClusterMetrics } from '../observability/cluster-metrics.ts';
import { migrateToLatest, openDatabase } from '../persistence/database.ts';

/** A worker that dies sooner than this after it started counts as a crash loop: restarts back off. */
const STABLE_AFTER_MS = 10_000;
const FIRST_RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;
/** Workers that die in a row before they ever listened: the configuration or a dependency is broken. */
const MAX_FAILED_STARTS = 3;
/** What a worker tells the primary once it is listening. */
export const WORKER_LISTENING = 'svcauth:worker-listening';

/**
 * WORKERS > 1: this (primary) process serves nothing itself. It does the one-off work first (migrations,
 * a check that the signing keys can be read) so workers never race each other over it, then forks the
 * workers, which share the listening port through node:cluster; Postgres and Redis make them one server
 * (caches, revocations and lockouts travel through Redis exactly as between separate instances). A worker
 * that dies is replaced; SIGTERM stops every worker gracefully, then the primary.
 */
export async function superviseWorkers(config: Config, logger: Logger): Promise<void> {
  await prepareSharedState(config, logger);
  serveClusterMetrics();

  let stopping = false;
  let restartDelayMs = FIRST_RESTART_DELAY_MS;
  let failedStarts = 0;
  const startedAt = new Map<Worker, number>();
  const listening = new WeakSet<Worker>();
  cluster.on('message', (worker, message: { type?: string }) => {
    if (message?.type !== WORKER_LISTENING) return;
    listening.add(worker);
    failedStarts = 0;
  });

  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker, Date.now());
  };
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? Date.now());
    startedAt.delete(worker);
    if (stopping) return;
    if (!listening.has(worker) && ++failedStarts >= MAX_FAILED_STARTS) {
      // Restarting would fail the same way; exiting lets the orchestrator report it (CrashLoopBackOff).
      logger.fatal(
        { worker: worker.id, code, signal, failed_starts: failedStarts },
        'workers keep failing before they listen; stopping (their errors are on stderr above)',
      );
      stop('startup failure', 1);
      return;
    }
    restartDelayMs = lived >= STABLE_AFTER_MS ? FIRST_RESTART_DELAY_MS : restartDelayMs;
    logger.error(
      { worker: worker.id, code, signal, lived_ms: lived, restart_in_ms: restartDelayMs },
      'worker exited; starting a replacement',
    );
    // Not unref'd: with every worker gone, this timer is what keeps the primary alive.
    setTimeout(() => {
      if (!stopping) fork();
    }, restartDelayMs);
    restartDelayMs = Math.min(restartDelayMs * 2, MAX_RESTART_DELAY_MS);
  });

  for (let i = 0; i < config.workers; i++) fork();
  logger.info({ workers: config.workers, port: config.port }, 'svcauth primary started its workers');

  const stop = (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => Boolean(w));
    // Each worker closes gracefully on SIGTERM (in-flight requests finish, connections drain).
    for (const worker of workers) worker.process.kill('SIGTERM');
    const deadline = setTimeout(() => {
      logger.warn('workers did not stop in time; killing them');
      for (const worker of workers) worker.process.kill('SIGKILL');
    }, config.shutdownGraceMs + 5000);
    deadline.unref();
    const waitForExit = () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        clearTimeout(deadline);
        process.exit(exitCode);
      }
    };
    cluster.on('exit', waitForExit);
    waitForExit();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/** Migrations and the key file check, once, before any worker starts. */
async function prepareSharedState(config: Config, logger: Logger): Promise<void> {
  if (config.migrateOnStart) {
    const database = await openDatabase(config.database);
    try {
      const applied = await migrateToLatest(database.db);
      if (applied.length > 0) logger.info({ migrations: applied }, 'applied database migrations');
    } finally {
      await database.close();
    }
  }
  // Workers read the same KEYS_DIR; a missing or broken key file is reported once, here.
  const keyRing = await KeyRing.open(config.keysDir, {
    generateIfMissing: false,
    alg: config.signingAlg,
    logger,
  });
  keyRing.close();
}
