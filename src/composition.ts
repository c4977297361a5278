import { availableParallelism } from 'node:os';
import type { Provider } from 'oidc-provider';
import type { HttpAppDependencies } from './http/app.ts';
import { isApiKeyRequest } from './http/api-key-basic-auth.ts';
import { installTokenEndpointMiddleware, type ProviderHolder } from './http/oauth-routes.ts';
import { loadLegacyKeyIdSecrets } from './keys/legacy-key-id-secret.ts';
import type { Logger } from './logging/logger.ts';
import { AccessTokenVerifier, type TokenAudiences } from './oauth/access-token-verifier.ts';
import { ClientAuthenticator, SingleUseJwtIds } from './oauth/client-authentication.ts';
import { IntrospectionService } from './oauth/introspection.ts';
import { createProvider } from './oauth/provider.ts';
import { ResourceServerAuthenticator } from './oauth/resource-server-auth.ts';
import { SecretVerifier } from './oauth/secret-verification.ts';
import { VerifiedSecretRecords, verifiedSecretRecordKey } from './oauth/verified-secret-records.ts';
import { observeTokenOutcomes } from './oauth/token-events.ts';
import { TokenRevocationService } from './oauth/token-revocation.ts';
import type { Metrics } from './observability/metrics.ts';
import { observeTokenMetrics } from './observability/token-metrics.ts';
import { isDatabaseUnavailable } from './persistence/errors.ts';
import { AuditRepository } from './persistence/repositories/audit-repository.ts';
import { CredentialRepository } from './persistence/repositories/credential-repository.ts';
import { RevocationRepository } from './persistence/repositories/revocation-repository.ts';
import { RevocationFeedHub } from './revocation/feed-hub.ts';
import { RevocationLedger } from './revocation/ledger.ts';
import { CachedSubjectResolver } from './cache/cached-subject-resolver.ts';
import { ChangeNotifier } from './state/change-notifier.ts';
import { isPlausibleClientId } from './domain/credential-format.ts';
import { LockoutService } from './services/lockout-service.ts';
import { LegacyKeyLookup } from './services/legacy-key-lookup.ts';
import { HashingPool } from './keys/hashing-pool.ts';
import { SecretHasher } from './keys/secret-hasher.ts';
import { TokenSubjectService } from './services/token-subject-service.ts';
import { UsageRecorder } from './persistence/usage-recorder.ts';
import type { StateStore } from './state/state-store.ts';
import type { Kysely } from 'kysely';
import type { Config } from './config/index.ts';
import type { AdminDependencies } from './http/admin/router.ts';
import type { PlatformDependencies } from './http/platform/router.ts';
import { OperatorAuthenticator } from './oauth/resource-server-auth.ts';
import {
  DeploymentCredentialDirectory,
  DeploymentCredentialService,
} from './services/deployment-credential-service.ts';
import { SigningKeyService } from './services/signing-key-service.ts';
import type { KeyRing } from './keys/key-ring.ts';
import type { Database } from './persistence/schema.ts';
import type { ChangePublisher } from './services/committed-changes.ts';
import {
  AdminAuthenticationService,
  type ProofReplayStore,
} from './services/admin-authentication-service.ts';
import { AuditQueryService } from './services/audit-query-service.ts';
import { CredentialLifecycleService } from './services/credential-lifecycle-service.ts';
import { LegacyKeyImportService } from './services/legacy-key-import-service.ts';
import { LocationService } from './services/location-service.ts';
import { PlatformLocationService } from './services/platform-location-service.ts';
import { PlatformService } from './services/platform-service.ts';
import { PlatformTenancyService } from './services/platform-tenancy-service.ts';
import { PlatformBuiltInAccountService } from './services/platform-built-in-service.ts';
import { PlatformTokenIssuer } from './oauth/platform-tokens.ts';
import { RoleService } from './services/role-service.ts';
import { ServiceAccountService } from './services/service-account-service.ts';
import { SettingsService } from './services/settings-service.ts';
import { RefusedAttemptAudit } from './services/refused-attempts.ts';
import { DelegationLookup, DelegationService } from './services/delegation-service.ts';
import { PermissionCatalog, PermissionCatalogService } from './services/permission-catalog.ts';
import { ConfigError } from './config/index.ts';
import { isDomainError } from './domain/errors.ts';
import { recordAudit } from './services/admin-actor.ts';
import { SubjectTokenVerifier } from './oauth/subject-token.ts';
import type { DelegatedGrant } from './oauth/token-exchange.ts';

/**
 * The one composition root: every service is built here, once, from the configuration and the
 * infrastructure startServer opened; routers are handed the services they call and never build one.
 */

/** What the services run on: opened, and closed after the services, by startServer. */
export interface Infrastructure {
  db: Kysely<Database>;
  state: StateStore;
  keyRing: KeyRing;
  logger: Logger;
  metrics: Metrics;
}

export interface Services {
  /** Announces changes to every instance's caches. */
  notifier: ChangeNotifier;
  /** The revocation feed's subscribers: their streams are ended first on shutdown. */
  feed: RevocationFeedHub;
  /** The current oidc-provider (rebuilt when the published signing keys change). */
  providers: ProviderHolder;
  /** What the HTTP app routes to. */
  http: Pick<HttpAppDependencies, 'admin' | 'platform' | 'revocation' | 'isDatabaseUnavailable' | 'catalog'>;
  /** Stops what the services run in the background, the last started first. */
  close(): Promise<void>;
}

export async function createServices(config: Config, infrastructure: Infrastructure): Promise<Services> {
  const { db, state, keyRing, logger, metrics } = infrastructure;
  const closers: Array<() => Promise<void> | void> = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  try {
    const notifier = new ChangeNotifier(state, logger);
    await notifier.start();
    closers.push(() => notifier.close());
    // New secrets are hashed on all cores but one, by threads of lower priority: creating credentials
    // in bulk waits for the cores /token leaves instead of taking them (issue 19, bench row m).
    const hashing = new HashingPool({
      size: Math.max(1, availableParallelism() - 1),
      nice: config.bcryptHashingNice,
      onPriorityUnchanged: (reason) =>
        logger.warn(
          { reason },
          'new secrets are hashed at normal priority: the hashing threads could not lower theirs',
        ),
    });
    closers.push(() => hashing.close());
    const hasher = new SecretHasher(config.bcryptCost, { hashing });
    const serverSecrets = loadLegacyKeyIdSecrets(config);
    // Verified secrets shared by every instance, bound by an HMAC whose key never leaves the servers.
    const records = new VerifiedSecretRecords(
      state,
      verifiedSecretRecordKey(serverSecrets[0]!),
      () => notifier.healthy,
    );
    const secrets = new SecretVerifier(hasher, { records });
    notifier.onChange((event) => {
      if (event.type === 'credential') void secrets.forget(event.credentialId);
    });
    const legacyKeys = new LegacyKeyLookup(db, serverSecrets);
    // The product permission catalog, shared by every instance through the database (and announced).
    const catalog = new PermissionCatalog(db);
    const catalogService = new PermissionCatalogService(db, notifier, catalog, {
      managedByFile: config.permissionsFile !== undefined,
    });
    if (config.permissionsFile) {
      const applied = await catalogService.applyFile(config.permissionsFile).catch((error: unknown) => {
        // A permission the file drops while roles hold it: the start stops, saying what to do.
        throw isDomainError(error) ? new ConfigError('PERMISSIONS_FILE', error.message) : error;
      });
      if (applied.length > 0)
        logger.info({ changes: applied }, 'permission catalog made as PERMISSIONS_FILE says');
    }
    await catalog.start(notifier, (error) =>
      logger.error({ err: error }, 'could not reload the permission catalog'),
    );
    const subjects = new CachedSubjectResolver(new TokenSubjectService(db, catalog), notifier);
    // Subjects resolved under the previous catalog may carry a removed permission or lack a new one.
    catalog.onChange(() => subjects.clear());
    metrics.observeCaches({ token_subjects: () => subjects.stats, verified_secrets: () => secrets.stats });
    metrics.observeSecretChecks(() => secrets.checks);
    const audit = new AuditRepository(db);
    // Revocations recorded for the feed once for all instances, and relayed to subscribers of each.
    const ledger = new RevocationLedger({ state, db, logger });
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
        const found = await new CredentialRepository(db).findWithOwnerByClientId(clientId);
        return found
          ? { orgId: found.organization.id, accountId: found.account.id, credentialId: found.credential.id }
          : null;
      },
    });
    await lockout.start(notifier);
    closers.push(() => lockout.close());
    const replay = new SingleUseJwtIds(state);
    const delegations = new DelegationLookup(db);
    const tokenExchange = config.tokenExchange
      ? {
          exchange: config.tokenExchange,
          verifier: new SubjectTokenVerifier(config.tokenExchange, state, (error) =>
            logger.warn({ err: error }, "could not refresh the product's subject-token keys"),
          ),
          lookup: delegations,
          // The organization hears of every management token issued for one of its people.
          onExchanged: (
            grant: DelegatedGrant,
            ctx: { ip: string; response: { get(name: string): string } },
          ) =>
            recordAudit(
              db,
              {
                kind: 'person',
                orgId: grant.organization.id,
                personId: grant.person.personId,
                displayName: grant.person.displayName,
                email: grant.person.email,
                clientId: grant.clientId,
                management: new Set(grant.permissions),
                groupsAdmin: grant.person.groupsAdmin,
                grantableRoles: grant.person.grantableRoles,
                sourceIp: ctx.ip || null,
                requestId: ctx.response.get('X-Request-Id') || null,
              },
              {
                action: 'token.exchanged',
                targetType: 'person',
                targetId: grant.person.personId,
                diff: {
                  after: {
                    permissions: grant.permissions,
                    groups_admin: grant.person.groupsAdmin,
                    grantable_roles: grant.person.grantableRoles,
                  },
                },
              },
            ),
        }
      : undefined;
    await tokenExchange?.verifier
      .warm()
      .catch((error: unknown) =>
        logger.warn(
          { err: error },
          "the product's subject-token keys could not be loaded yet; token exchange will retry",
        ),
      );
    const oauthDependencies = {
      config,
      keyRing,
      subjects,
      secrets,
      state,
      replay,
      logger,
      lockout,
      catalog,
      ...(tokenExchange ? { tokenExchange } : {}),
    };
    const usage = new UsageRecorder(db, logger);
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

    // One credential lifecycle for the management API and /revoke's kill switch (change event, outbox, audit).
    const credentials = new CredentialLifecycleService(db, hasher, notifier);
    const accessTokens = new AccessTokenVerifier(keyRing, config);
    // Resource servers and operators made through the platform API, as every instance sees them now.
    const deploymentCredentials = new DeploymentCredentialDirectory(db, notifier);
    // After the directory dropped its copy (listeners run in order): streams of a revoked resource
    // server end at once.
    notifier.onChange((event) => {
      if (event.type === 'deployment_credentials') void feed.endRevokedStreams();
    });
    const revocation = {
      resourceServers: new ResourceServerAuthenticator(config.resourceServers, deploymentCredentials),
      introspection: new IntrospectionService({
        catalog,
        config,
        tokens: accessTokens,
        subjects,
        secrets,
        revocations: new RevocationRepository(db),
        legacyKeys,
        usage,
        lockout,
        delegations,
      }),
      clients: new ClientAuthenticator({ subjects, secrets, replay, issuer: config.issuer }),
      revocation: new TokenRevocationService({
        tokens: accessTokens,
        ledger,
        credentials,
        secrets,
        legacyKeys,
        audit,
      }),
      lockout,
      secrets,
      feed,
      legacyKeys,
    };
    return {
      notifier,
      feed,
      providers: { current: () => current },
      http: {
        admin: createAdminServices({
          config,
          keyRing,
          db,
          hasher,
          legacyKeys,
          changes: notifier,
          subjects,
          proofReplay: state,
          credentials,
          delegations,
          state,
          logger,
          catalog,
        }),
        platform: createPlatformServices({
          config,
          db,
          hasher,
          changes: notifier,
          lockout,
          keyRing,
          deploymentCredentials,
          catalog,
          catalogService,
        }),
        catalog,
        isDatabaseUnavailable,
        revocation,
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The management API's use cases and its bearer authentication. */
function createAdminServices(deps: {
  config: TokenAudiences;
  keyRing: KeyRing;
  db: Kysely<Database>;
  hasher: SecretHasher;
  legacyKeys: LegacyKeyLookup;
  /** Announces committed changes so caches of every instance drop what they hold about them. */
  changes: ChangePublisher;
  /** Token subjects, as /token sees them: admin tokens are judged against the same cached state. */
  subjects: Pick<CachedSubjectResolver, 'findByClientId'>;
  /** The state store, where DPoP proof ids are remembered across instances (in-process without it). */
  proofReplay?: ProofReplayStore;
  credentials: CredentialLifecycleService;
  delegations: DelegationLookup;
  state: StateStore;
  logger: Logger;
  catalog: PermissionCatalog;
}): Omit<AdminDependencies, 'config'> {
  const { db, hasher, changes } = deps;
  return {
    services: {
      permissions: deps.catalog,
      locations: new LocationService(db, changes),
      roles: new RoleService(db, changes, deps.catalog),
      accounts: new ServiceAccountService(db, changes, hasher),
      credentials: deps.credentials,
      settings: new SettingsService(db, changes),
      audit: new AuditQueryService(db),
      legacyKeys: new LegacyKeyImportService(db, hasher, { lookup: deps.legacyKeys }),
      refusals: new RefusedAttemptAudit(db, deps.state, deps.logger),
    },
    authentication: new AdminAuthenticationService({
      db,
      subjects: deps.subjects,
      keyRing: deps.keyRing,
      config: deps.config,
      delegations: deps.delegations,
      ...(deps.proofReplay ? { proofReplay: deps.proofReplay } : {}),
    }),
  };
}

/** The platform API's use cases and its operators (OPERATORS), built once like the admin services. */
function createPlatformServices(deps: {
  config: Pick<
    Config,
    | 'operators'
    | 'resourceServers'
    | 'issuer'
    | 'defaultAudience'
    | 'adminAudience'
    | 'maxTokenClaimsBytes'
    | 'keysDir'
    | 'signingAlg'
  >;
  db: Kysely<Database>;
  hasher: SecretHasher;
  changes: ChangePublisher;
  lockout: LockoutService;
  /** Signs the built-in accounts' tokens, with the key /token signs with. */
  keyRing: KeyRing;
  deploymentCredentials: DeploymentCredentialDirectory;
  catalog: PermissionCatalog;
  catalogService: PermissionCatalogService;
}): PlatformDependencies {
  return {
    services: {
      platform: new PlatformService(deps.db, deps.hasher, deps.changes),
      locations: new PlatformLocationService(deps.db, deps.changes),
      tenancy: new PlatformTenancyService(deps.db, deps.changes),
      builtIn: new PlatformBuiltInAccountService(
        deps.db,
        deps.hasher,
        deps.changes,
        new PlatformTokenIssuer(deps.keyRing, deps.config, deps.catalog),
        deps.catalog,
      ),
      catalog: deps.catalogService,
      delegations: new DelegationService(deps.db),
      deployment: {
        credentials: new DeploymentCredentialService(deps.db, deps.changes, deps.config),
        signingKeys: new SigningKeyService(deps.db, deps.config.keysDir, deps.config.signingAlg),
      },
    },
    operators: new OperatorAuthenticator(deps.config.operators, deps.deploymentCredentials),
    lockout: deps.lockout,
  };
}
