import type { Kysely } from 'kysely';
import type { Config } from './config/index.ts';
import type { AdminDependencies } from './http/admin/router.ts';
import type { PlatformDependencies } from './http/platform/router.ts';
import { OperatorAuthenticator } from './oauth/resource-server-auth.ts';
import type { KeyRing } from './keys/key-ring.ts';
import type { Database } from './persistence/schema.ts';
import type { ChangePublisher } from './services/admin-actor.ts';
import {
  AdminAuthenticationService,
  type ProofReplayStore,
} from './services/admin-authentication-service.ts';
import { AuditQueryService } from './services/audit-query-service.ts';
import type { CachedSubjectResolver } from './services/cached-subject-resolver.ts';
import { CredentialLifecycleService } from './services/credential-lifecycle-service.ts';
import { LegacyKeyImportService } from './services/legacy-key-import-service.ts';
import type { LegacyKeyLookup } from './services/legacy-key-lookup.ts';
import { LocationService } from './services/location-service.ts';
import { PlatformService } from './services/platform-service.ts';
import { RoleService } from './services/role-service.ts';
import type { SecretHasher } from './services/secret-hasher.ts';
import { ServiceAccountService } from './services/service-account-service.ts';
import { SettingsService } from './services/settings-service.ts';

/**
 * The management API's use cases, built once here rather than by the HTTP layer, which only routes
 * requests to them (and never sees the database).
 */
export function createAdminServices(deps: {
  config: Config;
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
}): Omit<AdminDependencies, 'config'> {
  const { db, hasher, changes } = deps;
  return {
    services: {
      locations: new LocationService(db, changes),
      roles: new RoleService(db, changes),
      accounts: new ServiceAccountService(db, changes),
      credentials: new CredentialLifecycleService(db, hasher, changes),
      settings: new SettingsService(db, changes),
      audit: new AuditQueryService(db),
      legacyKeys: new LegacyKeyImportService(db, hasher, { lookup: deps.legacyKeys }),
    },
    authentication: new AdminAuthenticationService({
      db,
      subjects: deps.subjects,
      keyRing: deps.keyRing,
      config: deps.config,
      ...(deps.proofReplay ? { proofReplay: deps.proofReplay } : {}),
    }),
  };
}

/** The platform API's use cases and its operators (OPERATORS), built once like the admin services. */
export function createPlatformServices(deps: {
  config: Pick<Config, 'operators'>;
  db: Kysely<Database>;
  hasher: SecretHasher;
  changes: ChangePublisher;
}): PlatformDependencies {
  return {
    services: { platform: new PlatformService(deps.db, deps.hasher, deps.changes) },
    operators: new OperatorAuthenticator(deps.config.operators),
  };
}
