import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Provider } from 'oidc-provider';
import { createAdminServices, createPlatformServices } from './composition.ts';
import type { Config } from './config/index.ts';
import { createHttpApp } from './http/app.ts';
import { isApiKeyRequest } from './http/api-key-basic-auth.ts';
import { ConnectionDrain } from './http/connection-drain.ts';
import {
  createRequestListener,
  installTokenEndpointMiddleware,
  type ProviderHolder,
} from './http/oauth-routes.ts';
import { KeyRing } from './keys/key-ring.ts';
import type { Logger } from './logging/logger.ts';
import { AccessTokenVerifier } from './oauth/access-token-verifier.ts';
import { ClientAuthenticator, SingleUseJwtIds } from './oauth/client-authentication.ts';
import { IntrospectionService } from './oauth/introspection.ts';
import { createProvider } from './oauth/provider.ts';
import { ResourceServerAuthenticator } from './oauth/resource-server-auth.ts';
import { SecretVerifier } from './oauth/secret-verification.ts';
import { observeTokenOutcomes } from './oauth/token-events.ts';
import { TokenRevocationService } from './oauth/token-revocation.ts';
import { Metrics } from './observability/metrics.ts';
import { observeTokenMetrics } from './observability/token-metrics.ts';
import { type DatabaseHandle, migrateToLatest, openDatabase } from './persistence/database.ts';
import { isDatabaseUnavailable } from './persistence/errors.ts';
import { AuditRepository } from './persistence/repositories/audit-repository.ts';
import { RevocationRepository } from './persistence/repositories/revocation-repository.ts';
import { RevocationFeedHub } from './revocation/feed-hub.ts';
import { RevocationLedger } from './revocation/ledger.ts';
import { CachedSubjectResolver } from './services/cached-subject-resolver.ts';
import { ChangeNotifier } from './services/change-notifier.ts';
import { CredentialLifecycleService } from './services/credential-lifecycle-service.ts';
import { isPlausibleClientId } from './domain/credential-format.ts';
import { CredentialRepository } from './persistence/repositories/credential-repository.ts';
import { LockoutService } from './services/lockout-service.ts';
import { SecretHasher } from './services/secret-hasher.ts';
import { LegacyKeyLookup } from './services/legacy-key-lookup.ts';
import { loadLegacyKeyIdSecrets } from './keys/legacy-key-id-secret.ts';
import { TokenSubjectService } from './services/token-subject-service.ts';
import { UsageRecorder } from './services/usage-recorder.ts';
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

    const notifier = new ChangeNotifier(state, logger);
    await notifier.start();
    closers.push(() => notifier.close());
    const hasher = new SecretHasher(config.bcryptCost);
    const secrets = new SecretVerifier(hasher);
    notifier.onChange((event) => {
      if (event.type === 'credential') secrets.forget(event.credentialId);
    });
    const legacyKeys = new LegacyKeyLookup(database.db, loadLegacyKeyIdSecrets(config));
    const subjects = new CachedSubjectResolver(new TokenSubjectService(database.db), notifier);
    metrics.observeCaches({ token_subjects: () => subjects.stats, verified_secrets: () => secrets.stats });
    const audit = new AuditRepository(database.db);
    // Revocations recorded for the feed once for all instances, and relayed to subscribers of each.
    const ledger = new RevocationLedger({ state, db: database.db, logger });
    ledger.start(notifier);
    closers.push(() => ledger.close());
    const feed = new RevocationFeedHub({ ledger, state, logger });
    metrics.observeFeedSubscribers(() => feed.subscriberCount);
    await feed.start();
    closers.push(() => feed.close());
    const lockout = new LockoutService({
      state,
      policy: config.lockout,
      audit,
      logger,
      onLockout: (kind) => metrics.lockouts.inc({ kind }),
      ownerOf: async (clientId) => {
        if (!isPlausibleClientId(clientId)) return null;
        const found = await new CredentialRepository(database.db).findWithOwnerByClientId(clientId);
        return found
          ? { orgId: found.organization.id, accountId: found.account.id, credentialId: found.credential.id }
          : null;
      },
    });
    await lockout.start(notifier);
    closers.push(() => lockout.close());
    const replay = new SingleUseJwtIds(state);
    const oauthDependencies = { config, keyRing, subjects, secrets, state, replay, logger, lockout };
    const usage = new UsageRecorder(database.db, logger);
    closers.push(() => usage.close());
    const build = (provider: Provider) => {
      observeTokenOutcomes(provider, { usage, audit, logger, lockout });
      observeTokenMetrics(provider, metrics, isApiKeyRequest);
      installTokenEndpointMiddleware(provider, { config, logger, metrics, legacyKeys });
      return { provider, handle: provider.callback() };
    };
    let current = build(createProvider(oauthDependencies));
    // oidc-provider fixes its key set at construction; a rotation publishes keys by swapping providers.
    keyRing.onPublishedChange(() => {
      current = build(createProvider(oauthDependencies));
    });
    const providerHolder: ProviderHolder = { current: () => current };

    const accessTokens = new AccessTokenVerifier(keyRing, config);
    const revocation = {
      resourceServers: new ResourceServerAuthenticator(config.resourceServers),
      introspection: new IntrospectionService({
        config,
        tokens: accessTokens,
        subjects,
        secrets,
        revocations: new RevocationRepository(database.db),
        legacyKeys,
        usage,
        lockout,
      }),
      clients: new ClientAuthenticator({ subjects, secrets, replay, issuer: config.issuer }),
      revocation: new TokenRevocationService({
        tokens: accessTokens,
        ledger,
        // The kill switch revokes through the management API's own service path (change event, outbox, audit).
        credentials: new CredentialLifecycleService(database.db, hasher, notifier),
        secrets,
        legacyKeys,
        audit,
      }),
      lockout,
      secrets,
      feed,
      legacyKeys,
    };
    const app = createHttpApp({
      config,
      logger,
      keyRing,
      metrics,
      admin: createAdminServices({
        config,
        keyRing,
        db: database.db,
        hasher,
        legacyKeys,
        changes: notifier,
        subjects,
        proofReplay: state,
      }),
      platform: createPlatformServices({ config, db: database.db, hasher, changes: notifier }),
      isDatabaseUnavailable,
      revocation,
      probes: [
        { name: 'database', check: () => database.ping() },
        // Without the state store tokens are still right (caches bypassed): degraded, not unready.
        { name: 'state_store', check: () => state.ping(), optional: true },
      ],
    });
    const server = http.createServer();
    const drain = new ConnectionDrain(server);
    server.on('request', drain.track(createRequestListener(app, providerHolder)));
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
