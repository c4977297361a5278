import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { API_ADMIN_ROLE_NAME } from '../../config/permissions.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import type { Page, PageRequest } from '../domain/pagination.ts';
import { AuditRepository, type PlatformAuditFilter } from '../persistence/repositories/audit-repository.ts';
import { CredentialRepository } from '../persistence/repositories/credential-repository.ts';
import { OrganizationRepository } from '../persistence/repositories/organization-repository.ts';
import { RoleRepository } from '../persistence/repositories/role-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Database, Organization, OrganizationStatus } from '../persistence/schema.ts';
import { type AdminActor, recordAudit } from './admin-actor.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import { auditEventView } from './admin-views.ts';
import { issueAdminCredential, provisionOrganizationBasics } from './bootstrap-service.ts';
import { prepareSecret } from './credential-service.ts';
import { apiOpen } from './settings-service.ts';
import type { SecretHasher } from '../keys/secret-hasher.ts';

/** Who calls the platform API: an operator listed in OPERATORS, and where the request came from. */
export interface PlatformOperator {
  name: string;
  sourceIp: string | null;
  requestId: string | null;
}

export function organizationView(org: Organization) {
  return {
    id: org.id,
    external_id: org.external_id,
    slug: org.slug,
    name: org.name,
    status: org.status,
    api_enabled: org.api_enabled,
    api_entitled: org.api_entitled,
    status_changed_at: org.status_changed_at?.toISOString() ?? null,
    created_at: org.created_at.toISOString(),
    updated_at: org.updated_at.toISOString(),
  };
}
export type OrganizationView = ReturnType<typeof organizationView>;

export function platformAuditEventView(row: Parameters<typeof auditEventView>[0]) {
  return { organization_id: row.org_id, ...auditEventView(row) };
}

export const PLATFORM_ADMIN_ACCOUNT_NAME = 'Platform admin';

/**
 * The platform tier's organizations: made from the product's tenant id, renamed, suspended, resumed,
 * archived, and given or given back an admin. Every change is audited in the organization's own trail
 * with the operator's name (actor_operator), which the platform audit list reads across organizations.
 */
export class PlatformService {
  readonly #db: Kysely<Database>;
  readonly #hasher: SecretHasher;
  readonly #changes: ChangePublisher;
  constructor(db: Kysely<Database>, hasher: SecretHasher, changes: ChangePublisher) {
    this.#db = db;
    this.#hasher = hasher;
    this.#changes = changes;
  }

  /**
   * Idempotent on `external_id`: the organization of that tenant id if one exists (created: false),
   * else a new one with what `svcauth bootstrap` gives every organization (API Admin and full product
   * access roles, the protected built-in account).
   */
  async create(
    operator: PlatformOperator,
    input: { external_id: string; name: string },
  ): Promise<{ organization: OrganizationView; created: boolean }> {
    const existing = await new OrganizationRepository(this.#db).findByExternalId(input.external_id);
    if (existing) return { organization: organizationView(existing), created: false };
    return transactionWithChanges(this.#db, this.#changes, async (trx) => {
      const made = await new OrganizationRepository(trx).createForExternalId(
        input.external_id,
        input.name,
        slugsForExternalId(input.external_id),
      );
      // The last candidate is random: every one taken is as likely as guessing 64 random bits twice.
      if (!made) throw new Error('no free slug for a new organization');
      const { organization, created } = made;
      if (created) {
        await provisionOrganizationBasics(trx, organization);
        await recordAudit(trx, actorFor(operator, organization.id), {
          action: 'organization.created',
          targetType: 'organization',
          targetId: organization.id,
          diff: { after: { external_id: input.external_id, name: input.name } },
        });
      }
      return { organization: organizationView(organization), created };
    });
  }

  /** Reads are uses too: each is audited, in the organization's trail. */
  async get(operator: PlatformOperator, id: string): Promise<OrganizationView> {
    const organization = await this.#find(this.#db, id);
    await recordAudit(this.#db, actorFor(operator, id), {
      action: 'organization.read',
      targetType: 'organization',
      targetId: id,
    });
    return organizationView(organization);
  }

  /** Audited as a platform event (no organization): which filter the operator listed with. */
  async list(
    operator: PlatformOperator,
    filter: { status?: OrganizationStatus | undefined; external_id?: string | undefined },
    page: PageRequest,
  ): Promise<Page<OrganizationView>> {
    const result = await new OrganizationRepository(this.#db).listPage(
      { status: filter.status, externalId: filter.external_id },
      page,
    );
    await this.#recordPlatformUse(operator, 'organizations.listed', {
      status: filter.status ?? null,
      external_id: filter.external_id ?? null,
    });
    return { items: result.items.map(organizationView), next: result.next };
  }

  rename(operator: PlatformOperator, id: string, name: string): Promise<OrganizationView> {
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const before = await this.#findChangeable(trx, id);
      if (before.name === name) return organizationView(before);
      const after = (await new OrganizationRepository(trx).rename(id, name))!;
      await recordAudit(trx, actorFor(operator, id), {
        action: 'organization.renamed',
        targetType: 'organization',
        targetId: id,
        diff: { before: { name: before.name }, after: { name } },
      });
      changed({ type: 'organization', orgId: id });
      return organizationView(after);
    });
  }

  /** Suspended: every token of the organization is refused at once (caches drop, the feed is told). */
  suspend(operator: PlatformOperator, id: string): Promise<OrganizationView> {
    return this.#setStatus(operator, id, 'suspended');
  }

  resume(operator: PlatformOperator, id: string): Promise<OrganizationView> {
    return this.#setStatus(operator, id, 'active');
  }

  /**
   * Delete, as an archive: every credential revoked (the feed carries each), the organization's tokens
   * refused, the rows and the audit trail kept. Archiving an archived organization changes nothing.
   */
  archive(operator: PlatformOperator, id: string): Promise<OrganizationView> {
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const organizations = new OrganizationRepository(trx);
      const before = await organizations.lockById(id);
      if (!before) throw new NotFoundError('organization', id);
      if (before.status === 'archived') return organizationView(before);
      const now = new Date();
      const revoked = await new CredentialRepository(trx).revokeAllOfOrganization(
        id,
        now,
        'organization archived by the platform operator',
      );
      const after = (await organizations.setStatus(id, 'archived', now))!;
      await recordAudit(trx, actorFor(operator, id), {
        action: 'organization.archived',
        targetType: 'organization',
        targetId: id,
        diff: {
          before: { status: before.status },
          after: { status: 'archived', revoked_credentials: revoked.length },
        },
      });
      for (const credential of revoked) {
        changed({
          type: 'credential',
          orgId: id,
          accountId: credential.service_account_id,
          credentialId: credential.id,
          clientId: credential.client_id,
          revoked: true,
        });
      }
      changed({ type: 'organization', orgId: id, apiEnabled: false });
      return organizationView(after);
    });
  }

  /**
   * First admin, or recovery: a new service account holding the API Admin role (and full product
   * access, so it can delegate), with an oauth_client credential whose secret is returned once.
   */
  async provisionAdmin(
    operator: PlatformOperator,
    id: string,
    input: { name?: string | undefined },
  ): Promise<{
    service_account_id: string;
    credential_id: string;
    client_id: string;
    client_secret: string;
  }> {
    const accountName = input.name ?? PLATFORM_ADMIN_ACCOUNT_NAME;
    const prepared = await prepareSecret(this.#hasher, 'oauth_client');
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const organization = await this.#findChangeable(trx, id);
      if (await new ServiceAccountRepository(trx).findLiveByName(id, accountName)) {
        throw new DomainError(
          'name_taken',
          `a service account named "${accountName}" already exists; choose another name, or restore API Admin to it`,
          { field: 'name' },
        );
      }
      // Also puts back the API Admin and full access roles if they were somehow lost.
      const provisioned = { organization, ...(await provisionOrganizationBasics(trx, organization)) };
      const { admin, credential, secret } = await issueAdminCredential(trx, prepared, provisioned, {
        accountName,
        description: 'Provisioned by the platform operator to administer this organization.',
        credentialName: `platform ${new Date().toISOString()}`,
      });
      await recordAudit(trx, actorFor(operator, id), {
        action: 'organization.admin_provisioned',
        targetType: 'service_account',
        targetId: admin.id,
        diff: {
          after: {
            service_account_id: admin.id,
            name: accountName,
            credential_id: credential.id,
            client_id: credential.client_id,
            roles: [API_ADMIN_ROLE_NAME, provisioned.fullAccessRole.name],
          },
        },
      });
      changed({ type: 'account', orgId: id, accountId: admin.id });
      return {
        service_account_id: admin.id,
        credential_id: credential.id,
        client_id: credential.client_id,
        client_secret: secret,
      };
    });
  }

  /** Recovery: the account gets the API Admin role back (at all its locations), its other grants kept. */
  restoreAdmin(
    operator: PlatformOperator,
    id: string,
    accountId: string,
  ): Promise<{ service_account_id: string; role_id: string; changed: boolean }> {
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const organization = await this.#findChangeable(trx, id);
      const accounts = new ServiceAccountRepository(trx);
      const account = await accounts.findById(id, accountId);
      if (!account) throw new NotFoundError('service account', accountId);
      if (account.archived_at) {
        throw new DomainError(
          'account_archived',
          'the service account is archived; provision a new admin instead',
        );
      }
      if (account.is_protected) {
        throw new DomainError(
          'protected_account',
          'the built-in service account cannot be made an admin; name another account or provision one',
        );
      }
      let adminRole = await new RoleRepository(trx).findLiveByName(id, API_ADMIN_ROLE_NAME);
      adminRole ??= (await provisionOrganizationBasics(trx, organization)).adminRole;
      const added = await accounts.addRole(id, accountId, adminRole.id);
      if (added) {
        const permissionsVersion = await accounts.bumpPermissionsVersion(id, accountId);
        await recordAudit(trx, actorFor(operator, id), {
          action: 'organization.admin_restored',
          targetType: 'service_account',
          targetId: accountId,
          diff: { after: { role_id: adminRole.id, role: API_ADMIN_ROLE_NAME } },
        });
        changed({ type: 'account', orgId: id, accountId, permissionsVersion });
      }
      return { service_account_id: accountId, role_id: adminRole.id, changed: added };
    });
  }

  /** Recorded after the page is read, so the page never lists its own reading. */
  async audit(
    operator: PlatformOperator,
    filter: PlatformAuditFilter,
    page: { before?: string | undefined; limit: number },
  ): Promise<Page<ReturnType<typeof platformAuditEventView>>> {
    const result = await new AuditRepository(this.#db).listOperatorPage(filter, page);
    await this.#recordPlatformUse(operator, 'platform_audit.read', {
      operator: filter.operator ?? null,
      organization_id: filter.orgId ?? null,
      action: filter.action ?? null,
    });
    return { items: result.items.map(platformAuditEventView), next: result.next };
  }

  /** A use that concerns no one organization: in the platform list only (org_id null). */
  #recordPlatformUse(operator: PlatformOperator, action: string, query: Record<string, unknown>) {
    return recordPlatformEvent(this.#db, operator, action, { query });
  }

  #setStatus(
    operator: PlatformOperator,
    id: string,
    status: 'active' | 'suspended',
  ): Promise<OrganizationView> {
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const before = await this.#findChangeable(trx, id);
      if (before.status === status) return organizationView(before);
      const after = (await new OrganizationRepository(trx).setStatus(id, status, new Date()))!;
      await recordAudit(trx, actorFor(operator, id), {
        action: status === 'suspended' ? 'organization.suspended' : 'organization.resumed',
        targetType: 'organization',
        targetId: id,
        diff: { before: { status: before.status }, after: { status } },
      });
      // The feed's organization entry: refused while suspended, back to the API module's state after.
      changed({ type: 'organization', orgId: id, apiEnabled: apiOpen(after) });
      return organizationView(after);
    });
  }

  async #find(db: Kysely<Database>, id: string): Promise<Organization> {
    const organization = await new OrganizationRepository(db).findById(id);
    if (!organization) throw new NotFoundError('organization', id);
    return organization;
  }

  /** Locked for the change; an archived organization takes none. */
  #findChangeable(trx: Kysely<Database>, id: string): Promise<Organization> {
    return lockChangeableOrganization(trx, id);
  }
}

/** The organization, locked for a platform change; an archived organization takes none. */
export async function lockChangeableOrganization(trx: Kysely<Database>, id: string): Promise<Organization> {
  const organization = await new OrganizationRepository(trx).lockById(id);
  if (!organization) throw new NotFoundError('organization', id);
  if (organization.status === 'archived') {
    throw new DomainError(
      'organization_archived',
      'the organization is archived (deleted); its audit trail can still be read, nothing else changes',
    );
  }
  return organization;
}

/** An operator's use or change that concerns no one organization: in the platform audit list only. */
export function recordPlatformEvent(
  db: Kysely<Database>,
  operator: PlatformOperator,
  action: string,
  diff: Record<string, unknown>,
): Promise<void> {
  return new AuditRepository(db).record({
    orgId: null,
    action,
    actorOperator: operator.name,
    diff: { ...diff, via: 'platform_api' },
    sourceIp: operator.sourceIp,
    requestId: operator.requestId,
  });
}

/** An operator acting through the platform API on one organization: audited in its trail by name. */
export function actorFor(operator: PlatformOperator, orgId: string): AdminActor {
  return {
    kind: 'operator',
    orgId,
    operatorName: operator.name,
    sourceIp: operator.sourceIp,
    requestId: operator.requestId,
  };
}

/**
 * Organizations made by the platform get a slug from their tenant id: stable (a retried create names
 * the same slug) and always valid, whatever characters the product's ids use. Should another
 * organization hold it (`svcauth bootstrap` takes any slug), a longer digest, then a random suffix.
 */
function slugsForExternalId(externalId: string): string[] {
  const digest = createHash('sha256').update(externalId, 'utf8').digest('hex');
  return [
    `t-${digest.slice(0, 24)}`,
    `t-${digest.slice(0, 61)}`,
    `t-${digest.slice(0, 44)}-${randomBytes(8).toString('hex')}`,
  ];
}
