import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ResourceServerEntry } from '../config/index.ts';
import {
  type DeploymentSecretPrefix,
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  RESOURCE_SERVER_SECRET_PREFIX,
} from '../domain/credential-format.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import {
  type DeploymentCredentialKind,
  DeploymentCredentialRepository,
} from '../persistence/repositories/deployment-credential-repository.ts';
import { isUniqueViolation } from '../persistence/errors.ts';
import type { Database, DeploymentCredential } from '../persistence/schema.ts';
import type { ChangeEvent } from '../state/change-notifier.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import { type PlatformOperator, recordPlatformEvent } from './platform-service.ts';

const PREFIX: Record<DeploymentCredentialKind, DeploymentSecretPrefix> = {
  resource_server: RESOURCE_SERVER_SECRET_PREFIX,
  operator: OPERATOR_SECRET_PREFIX,
};
const LABEL: Record<DeploymentCredentialKind, string> = {
  resource_server: 'resource server',
  operator: 'operator credential',
};
const CHANGED: ChangeEvent = { type: 'deployment_credentials' };

export function deploymentCredentialView(row: DeploymentCredential) {
  return {
    id: row.id,
    name: row.name,
    status: row.revoked_at ? ('revoked' as const) : ('active' as const),
    created_by_operator: row.created_by_operator,
    created_at: row.created_at.toISOString(),
    revoked_by_operator: row.revoked_by_operator,
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}
export type DeploymentCredentialView = ReturnType<typeof deploymentCredentialView>;

/**
 * The platform API's equivalent of `svcauth resource-server-credential` and `svcauth
 * operator-credential`: credentials for resource servers and operators, made and revoked over HTTP,
 * each secret shown once and stored as its SHA-256 like the configured ones. Names are unique among the
 * live credentials of a kind, configured ones included. Every change is in the platform audit list.
 */
export class DeploymentCredentialService {
  readonly #db: Kysely<Database>;
  readonly #changes: ChangePublisher;
  readonly #configured: Record<DeploymentCredentialKind, ReadonlySet<string>>;

  constructor(
    db: Kysely<Database>,
    changes: ChangePublisher,
    configured: {
      resourceServers: readonly ResourceServerEntry[];
      operators: readonly ResourceServerEntry[];
    },
  ) {
    this.#db = db;
    this.#changes = changes;
    this.#configured = {
      resource_server: new Set(configured.resourceServers.map((e) => e.name)),
      operator: new Set(configured.operators.map((e) => e.name)),
    };
  }

  async list(
    operator: PlatformOperator,
    kind: DeploymentCredentialKind,
  ): Promise<DeploymentCredentialView[]> {
    const rows = await new DeploymentCredentialRepository(this.#db).list(kind);
    // Reads are uses too, as for organizations and the audit list.
    await recordPlatformEvent(this.#db, operator, `${kind}_credentials.listed`, { query: {} });
    return rows.map(deploymentCredentialView);
  }

  /** A new credential; its secret is in this answer only. */
  async create(
    operator: PlatformOperator,
    kind: DeploymentCredentialKind,
    name: string,
  ): Promise<DeploymentCredentialView & { secret: string }> {
    if (this.#configured[kind].has(name)) throw nameTaken(kind, name);
    const secret = generateDeploymentSecret(PREFIX[kind]);
    try {
      const row = await transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
        const created = await new DeploymentCredentialRepository(trx).create({
          kind,
          name,
          secretSha256: createHash('sha256').update(secret, 'utf8').digest(),
          operator: operator.name,
        });
        await recordPlatformEvent(trx, operator, `${kind}_credential.created`, {
          after: { id: created.id, name },
        });
        changed(CHANGED);
        return created;
      });
      return { ...deploymentCredentialView(row), secret };
    } catch (error) {
      if (isUniqueViolation(error, 'deployment_credentials_live_name')) throw nameTaken(kind, name);
      throw error;
    }
  }

  /**
   * Revokes a credential: every instance refuses it from the answer on. An operator cannot revoke the
   * credential it is using (rotate by making the new one, switching to it, then revoking the old one),
   * so the platform API always keeps at least the caller's access.
   */
  async revoke(
    operator: PlatformOperator,
    kind: DeploymentCredentialKind,
    id: string,
  ): Promise<DeploymentCredentialView> {
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const credentials = new DeploymentCredentialRepository(trx);
      const existing = await credentials.findById(kind, id);
      if (!existing) throw new NotFoundError(LABEL[kind], id);
      if (kind === 'operator' && existing.name === operator.name && !existing.revoked_at) {
        throw new DomainError(
          'own_operator_credential',
          'this is the operator credential the request authenticated with; authenticate with another operator credential to revoke it',
        );
      }
      const revoked = (await credentials.revoke(kind, id, operator.name)) ?? existing;
      if (!existing.revoked_at) {
        await recordPlatformEvent(trx, operator, `${kind}_credential.revoked`, {
          before: { id, name: existing.name },
        });
        changed(CHANGED);
      }
      return deploymentCredentialView(revoked);
    });
  }
}

function nameTaken(kind: DeploymentCredentialKind, name: string): DomainError {
  return new DomainError(
    'name_taken',
    `a live ${LABEL[kind]} is already named "${name}" (in the configuration or made through the API); choose another name, or revoke that one first`,
    { field: 'name' },
  );
}

/** What DeploymentCredentialDirectory needs of the change notifier. */
export interface ChangeSource {
  readonly healthy: boolean;
  onChange(listener: (event: ChangeEvent) => void): () => void;
  onResync(listener: () => void): () => void;
}

/**
 * The live deployment credentials made through the API, by kind and name, as authentication reads
 * them: loaded from the database, kept while the change notifier is healthy and no instance has
 * announced a change since the load began. A load that raced a change is used for the request that
 * started it only, never kept (a cache fill never outlives the invalidation that raced it).
 */
export class DeploymentCredentialDirectory {
  readonly #db: Kysely<Database>;
  readonly #changes: ChangeSource;
  #generation = 0;
  #loaded: { generation: number; byKind: Map<DeploymentCredentialKind, Map<string, Buffer>> } | null = null;
  #loading: {
    generation: number;
    promise: Promise<Map<DeploymentCredentialKind, Map<string, Buffer>>>;
  } | null = null;

  constructor(db: Kysely<Database>, changes: ChangeSource) {
    this.#db = db;
    this.#changes = changes;
    const invalidate = () => {
      this.#generation += 1;
    };
    changes.onChange((event) => {
      if (event.type === 'deployment_credentials') invalidate();
    });
    changes.onResync(invalidate);
  }

  async digests(kind: DeploymentCredentialKind): Promise<ReadonlyMap<string, Buffer>> {
    const loaded = this.#loaded;
    if (loaded && loaded.generation === this.#generation && this.#changes.healthy) {
      return loaded.byKind.get(kind) ?? new Map();
    }
    return (await this.#load()).get(kind) ?? new Map();
  }

  #load(): Promise<Map<DeploymentCredentialKind, Map<string, Buffer>>> {
    const generation = this.#generation;
    if (this.#loading?.generation === generation) return this.#loading.promise;
    const promise = new DeploymentCredentialRepository(this.#db).listLive().then((rows) => {
      const byKind = new Map<DeploymentCredentialKind, Map<string, Buffer>>();
      for (const row of rows) {
        const names = byKind.get(row.kind) ?? new Map<string, Buffer>();
        names.set(row.name, row.secret_sha256);
        byKind.set(row.kind, names);
      }
      if (generation === this.#generation) this.#loaded = { generation, byKind };
      return byKind;
    });
    this.#loading = { generation, promise };
    void promise
      .finally(() => {
        if (this.#loading?.promise === promise) this.#loading = null;
      })
      .catch(() => undefined);
    return promise;
  }
}
