import cluster from 'node:cluster';
import { ConfigError, loadConfig } from './config/index.ts';
import { createLogger } from './logging/logger.ts';

/**
 * `npm start`: validate configuration, start (one server, or with WORKERS > 1 a primary supervising
 * that many workers), and stop gracefully on SIGTERM / SIGINT.
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`svcauth: configuration error: ${error.message}`);
      process.exit(78);
    }
    throw error;
  }
  // Modules are loaded once the configuration is known to be good: a bad variable is reported at once,
  // without first loading the whole server (oidc-provider, database drivers).
  const rootLogger = createLogger({ level: config.logLevel });
  if (config.workers > 1 && cluster.isPrimary) {
    // The primary serves nothing: it never loads the server, only what runs the migrations and forks.
    const { superviseWorkers } = await import('./workers/supervisor.ts');
    try {
      await superviseWorkers(config, rootLogger);
    } catch (error) {
      console.error(`svcauth: cannot start: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    }
    return;
  }
  const [{ startServer }, { WORKER_LISTENING }] = await Promise.all([
    import('./server.ts'),
    import('./workers/supervisor.ts'),
  ]);
  const worker = cluster.isWorker ? cluster.worker : undefined;
  const logger = worker ? rootLogger.child({ worker: worker.id, pid: process.pid }) : rootLogger;
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    // Workers leave migrations to the primary, which ran them before forking.
    server = worker
      ? await startServer({ ...config, migrateOnStart: false }, logger, { clusterWorker: true })
      : await startServer(config, logger);
  } catch (error) {
    // DataDirectoryInUseError, KeyFileError and connection failures all explain themselves in one line.
    console.error(`svcauth: cannot start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  if (worker) process.send?.({ type: WORKER_LISTENING });
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

await main();
