import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServices } from './composition.ts';
import { type Config, insecureIssuerWarning } from './config/index.ts';
import { createHttpApp } from './http/app.ts';
import { ConnectionDrain } from './http/connection-drain.ts';
import { createRequestListener } from './http/oauth-routes.ts';
import { KeyRing } from './keys/key-ring.ts';
import type { Logger } from './logging/logger.ts';
import { Metrics } from './observability/metrics.ts';
import { type DatabaseHandle, migrateToLatest, openDatabase } from './persistence/database.ts';
import type { ChangeNotifier } from './state/change-notifier.ts';
import { createStateStore } from './state/index.ts';
import type { StateStore } from './state/state-store.ts';

export interface RunningServer {
  url: string;
  database: DatabaseHandle;
  state: StateStore;
  /** Announces changes to every instance's caches (what the management services do after a write). */
  notifier: ChangeNotifier;
  /** Stops accepting connections, lets in-flight requests finish, then closes every resource. */
  close(): Promise<void>;
}

/** Wires every part together and listens. The order matters: nothing is served before it can answer. */
export interface StartOptions {
  /** This process is one of WORKERS cluster workers: /metrics reports all of them together. */
  clusterWorker?: boolean;
}

export async function startServer(
  config: Config,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningServer> {
  const issuerWarning = insecureIssuerWarning(config.issuer);
  if (issuerWarning) logger.warn(issuerWarning);
  const database = await openDatabase(config.database);
  const closers: Array<() => Promise<void> | void> = [() => database.close()];
  try {
    if (config.migrateOnStart) {
      const applied = await migrateToLatest(database.db);
      if (applied.length > 0) logger.info({ migrations: applied }, 'applied database migrations');
    }
    const metrics = new Metrics();
    if (options.clusterWorker) metrics.aggregateAcrossWorkers();
    const state = createStateStore({
      redisUrl: config.redisUrl,
      prefix: config.redisKeyPrefix,
      ...(config.redisSentinels ? { redisOptions: config.redisSentinels } : {}),
      ...(config.redisClusterNodes ? { redisClusterNodes: config.redisClusterNodes } : {}),
      onError: (error) => {
        metrics.dependencyErrors.inc({ dependency: 'state_store' });
        logger.warn({ err: error }, 'state store error');
      },
    });
    closers.push(() => state.close());
    const keyRing = await KeyRing.open(config.keysDir, {
      // Only the embedded default makes its own key: instances sharing Postgres must share keys too.
      generateIfMissing: config.database.kind === 'pglite',
      alg: config.signingAlg,
      logger,
    });
    keyRing.watch();
    closers.push(() => keyRing.close());

    const services = await createServices(config, { db: database.db, state, keyRing, logger, metrics });
    closers.push(() => services.close());
    const { notifier, feed } = services;
    const app = createHttpApp({
      config,
      logger,
      keyRing,
      metrics,
      ...services.http,
      probes: [
        { name: 'database', check: () => database.ping() },
        // Without the state store tokens are still right (caches bypassed): degraded, not unready.
        { name: 'state_store', check: () => state.ping(), optional: true },
      ],
    });
    const server = http.createServer();
    const drain = new ConnectionDrain(server);
    server.on('request', drain.track(createRequestListener(app, services.providers)));
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Cluster workers each bind their own socket (SO_REUSEPORT) and the kernel spreads connections over
      // them, instead of the primary handing each connection over: a connection is never handed to a
      // worker that has just died, and the primary does no per-connection work.
      const ownSocket = options.clusterWorker === true;
      server.listen(
        { port: config.port, host: config.host, exclusive: ownSocket, reusePort: ownSocket },
        () => resolve(),
      );
    });
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
    logger.info(
      { url, issuer: config.issuer, database: database.kind, state_store: state.kind },
      'svcauth listening',
    );

    let closing: Promise<void> | undefined;
    return {
      url,
      database,
      state,
      notifier,
      close: () => {
        closing ??= (async () => {
          const drained = drain.drain(config.shutdownGraceMs);
          // Event streams never end on their own: end them, subscribers reconnect to another instance.
          void feed.close();
          await drained;
          for (const close of closers.reverse()) await close();
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close();
    throw error;
  }
}
