import type { Kysely } from 'kysely';
import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import type { Page, PageRequest } from '../domain/pagination.ts';
import { credentialStatus } from '../domain/status.ts';
import { CredentialRepository } from '../persistence/repositories/credential-repository.ts';
import { DelegationRepository } from '../persistence/repositories/delegation-repository.ts';
import { OrganizationRepository } from '../persistence/repositories/organization-repository.ts';
import type { Credential, Database, Delegation, Organization } from '../persistence/schema.ts';
import { type AdminActor, recordAudit } from './admin-actor.ts';
import type { TokenSubject } from './token-subject-service.ts';
import type { PlatformOperator } from './platform-service.ts';

export function delegationView(row: Delegation, clientId: string) {
  return {
    id: row.id,
    client_id: clientId,
    credential_id: row.credential_id,
    organization_id: row.org_id,
    lineage_id: row.lineage_id,
    max_permissions: MANAGEMENT_PERMISSIONS.filter((p) => row.max_permissions.includes(p)),
    created_by_operator: row.created_by_operator,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
export type DelegationView = ReturnType<typeof delegationView>;

/**
 * The platform side of token exchange: which clients the operator allows to act for the product's
 * people, and the most each may hand on. A delegation covers a credential's lineage, so rotating the
 * credential keeps it. Each change is audited in the trail of the credential's organization (and so
 * in the platform audit list) with the operator's name.
 */
export class DelegationService {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  allow(
    operator: PlatformOperator,
    input: { client_id: string; max_permissions: string[] },
  ): Promise<DelegationView> {
    return this.#db.transaction().execute(async (trx) => {
      const credential = await new CredentialRepository(trx).findByClientId(input.client_id);
      if (!credential || credentialStatus(toStatusFacts(credential), new Date()) !== 'active') {
        throw new DomainError(
          'unknown_reference',
          `no active credential has the client id "${input.client_id}"; name the client id of the product's credential`,
          { field: 'client_id' },
        );
      }
      const delegations = new DelegationRepository(trx);
      const existing = await delegations.findByLineage(credential.lineage_id);
      if (existing) {
        throw new DomainError(
          'delegation_exists',
          'this client (or another credential of its rotation lineage) may delegate already; change its max_permissions instead',
          { delegation_id: existing.id },
        );
      }
      const created = await delegations.create({
        orgId: credential.org_id,
        credentialId: credential.id,
        lineageId: credential.lineage_id,
        maxPermissions: sortedPermissions(input.max_permissions),
        operator: operator.name,
      });
      const view = delegationView(created, credential.client_id);
      await recordAudit(trx, actorFor(operator, credential.org_id), {
        action: 'delegation.allowed',
        targetType: 'credential',
        targetId: credential.id,
        diff: {
          after: { delegation_id: view.id, client_id: view.client_id, max_permissions: view.max_permissions },
        },
      });
      return view;
    });
  }

  async list(page: PageRequest): Promise<Page<DelegationView>> {
    const result = await new DelegationRepository(this.#db).listPage(page);
    const items = await Promise.all(result.items.map((row) => this.#view(this.#db, row)));
    return { items, next: result.next };
  }

  async get(id: string): Promise<DelegationView> {
    const row = await new DelegationRepository(this.#db).findById(id);
    if (!row) throw new NotFoundError('delegation', id);
    return this.#view(this.#db, row);
  }

  update(
    operator: PlatformOperator,
    id: string,
    input: { max_permissions: string[] },
  ): Promise<DelegationView> {
    return this.#db.transaction().execute(async (trx) => {
      const delegations = new DelegationRepository(trx);
      const before = await delegations.findById(id);
      if (!before) throw new NotFoundError('delegation', id);
      const after = (await delegations.setMaxPermissions(id, sortedPermissions(input.max_permissions)))!;
      const view = await this.#view(trx, after);
      await recordAudit(trx, actorFor(operator, after.org_id), {
        action: 'delegation.updated',
        targetType: 'credential',
        targetId: after.credential_id,
        diff: {
          before: { max_permissions: delegationView(before, view.client_id).max_permissions },
          after: { max_permissions: view.max_permissions },
        },
      });
      return view;
    });
  }

  /** Tokens already issued through the client are refused from the next request on. */
  withdraw(operator: PlatformOperator, id: string): Promise<void> {
    return this.#db.transaction().execute(async (trx) => {
      const delegations = new DelegationRepository(trx);
      const row = await delegations.findById(id);
      if (!row || !(await delegations.delete(id))) throw new NotFoundError('delegation', id);
      const view = await this.#view(trx, row);
      await recordAudit(trx, actorFor(operator, row.org_id), {
        action: 'delegation.withdrawn',
        targetType: 'credential',
        targetId: row.credential_id,
        diff: {
          before: { delegation_id: id, client_id: view.client_id, max_permissions: view.max_permissions },
        },
      });
    });
  }

  async #view(db: Kysely<Database>, row: Delegation): Promise<DelegationView> {
    const credential = await new CredentialRepository(db).findById(row.org_id, row.credential_id);
    return delegationView(row, credential?.client_id ?? '');
  }
}

/**
 * What token exchange and the management API read about delegation: whether a client may act for
 * people now, and the organization a person's tenant id names.
 */
export class DelegationLookup {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The delegation covering the credential (its lineage), or undefined. */
  forCredential(credential: Pick<Credential, 'lineage_id'>): Promise<Delegation | undefined> {
    return new DelegationRepository(this.#db).findByLineage(credential.lineage_id);
  }

  organizationOfTenant(tenantId: string): Promise<Organization | undefined> {
    return new OrganizationRepository(this.#db).findByExternalId(tenantId);
  }

  organization(id: string): Promise<Organization | undefined> {
    return new OrganizationRepository(this.#db).findById(id);
  }

  /**
   * Whether a person's token still stands (revocation of the token itself by jti is the caller's
   * second question): its delegating client can still obtain management tokens (the same cached,
   * change-invalidated subjects /token uses), the operator still allows it to delegate, and the
   * person's organization is active. When it stands: the token's management permissions within what
   * the client may hand on now (the operator may have narrowed it since).
   */
  async personTokenStanding(
    token: { clientId: string; orgId: string; management: ReadonlySet<string> },
    subjects: SubjectResolver,
  ): Promise<{ ok: true; management: ReadonlySet<string> } | { ok: false; reason: string }> {
    const client = await subjects.findByClientId(token.clientId);
    if (!client) {
      return {
        ok: false,
        reason:
          'the client that obtained this token for the person is no longer active; the product must exchange a new subject token',
      };
    }
    if (client.adminRefusal) {
      return { ok: false, reason: `the client that obtained this token: ${client.adminRefusal}` };
    }
    const delegation = await this.forCredential(client.credential);
    if (!delegation) {
      return {
        ok: false,
        reason: 'the client that obtained this token is no longer allowed to act for people',
      };
    }
    const organization = await this.organization(token.orgId);
    if (!organization || organization.status !== 'active') {
      return {
        ok: false,
        reason: `the organization is ${organization?.status ?? 'gone'}; the platform operator can resume it`,
      };
    }
    const delegable = new Set(delegation.max_permissions);
    return { ok: true, management: new Set([...token.management].filter((p) => delegable.has(p))) };
  }
}

/** Finds a client's current token subject (the cached resolver /token uses). */
export interface SubjectResolver {
  findByClientId(clientId: string): Promise<TokenSubject | null>;
}

function toStatusFacts(credential: Credential) {
  return { revokedAt: credential.revoked_at, expiresAt: credential.expires_at };
}

function sortedPermissions(permissions: readonly string[]): string[] {
  return MANAGEMENT_PERMISSIONS.filter((p) => permissions.includes(p));
}

function actorFor(operator: PlatformOperator, orgId: string): AdminActor {
  return {
    kind: 'operator',
    orgId,
    operatorName: operator.name,
    sourceIp: operator.sourceIp,
    requestId: operator.requestId,
  };
}
