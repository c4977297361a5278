import type { Kysely } from 'kysely';
import { changedFields, hasChanges } from '../domain/audit-diff.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import { settingsBeyondLimits } from '../domain/organization-settings.ts';
import type { CredentialType } from '../domain/status.ts';
import { OrganizationDefaultsRepository } from '../persistence/repositories/organization-defaults-repository.ts';
import {
  OrganizationRepository,
  type OrganizationPlatformUpdate,
} from '../persistence/repositories/organization-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Database, OrganizationDefaults } from '../persistence/schema.ts';
import { recordAudit } from './admin-actor.ts';
import { settingsView, type SettingsView } from './admin-views.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import {
  actorFor,
  lockChangeableOrganization,
  type PlatformOperator,
  recordPlatformEvent,
} from './platform-service.ts';
import { apiOpen } from './settings-service.ts';

/** What the operator sets: the admins' settings, the API entitlement, and limits on the settings. */
export interface PlatformSettingsInput {
  api_entitled?: boolean | undefined;
  api_enabled?: boolean | undefined;
  allowed_credential_types?: CredentialType[] | undefined;
  access_token_ttl_seconds?: number | undefined;
  max_credentials_per_account?: number | undefined;
  max_credential_lifetime_seconds?: number | null | undefined;
  limits?:
    | {
        allowed_credential_types?: CredentialType[] | null | undefined;
        access_token_ttl_seconds?: number | null | undefined;
        max_credentials_per_account?: number | null | undefined;
        max_credential_lifetime_seconds?: number | null | undefined;
      }
    | undefined;
}

export function organizationDefaultsView(row: OrganizationDefaults) {
  return { ...settingsView(row), updated_at: row.updated_at.toISOString() };
}
export type OrganizationDefaultsView = ReturnType<typeof organizationDefaultsView>;

/**
 * The platform tier's tenancy controls: what new organizations start with (the deployment's defaults),
 * each organization's API entitlement, settings and the limits its admins choose within, and who is a
 * groups administrator. Changes in an organization are audited in its trail with the operator's name;
 * changes to the defaults in the platform list.
 */
export class PlatformTenancyService {
  readonly #db: Kysely<Database>;
  readonly #changes: ChangePublisher;
  constructor(db: Kysely<Database>, changes: ChangePublisher) {
    this.#db = db;
    this.#changes = changes;
  }

  async getDefaults(operator: PlatformOperator): Promise<OrganizationDefaultsView> {
    const defaults = await new OrganizationDefaultsRepository(this.#db).get();
    await recordPlatformEvent(this.#db, operator, 'organization_defaults.read', {});
    return organizationDefaultsView(defaults);
  }

  /** Applies to organizations made from now on; existing ones keep their settings. */
  updateDefaults(
    operator: PlatformOperator,
    input: PlatformSettingsInput,
  ): Promise<OrganizationDefaultsView> {
    return this.#db.transaction().execute(async (trx) => {
      const repository = new OrganizationDefaultsRepository(trx);
      const before = await repository.get({ forUpdate: true });
      const update = toColumns(input);
      assertConsistent({ ...before, ...update });
      const diff = changedFields(settingsView(before), settingsView({ ...before, ...update }));
      if (!hasChanges(diff)) return organizationDefaultsView(before);
      const after = await repository.update(update);
      await recordPlatformEvent(trx, operator, 'organization_defaults.updated', { ...diff });
      return organizationDefaultsView(after);
    });
  }

  /** Reads are uses too: audited in the organization's trail. */
  async getSettings(operator: PlatformOperator, orgId: string): Promise<SettingsView> {
    const organization = await new OrganizationRepository(this.#db).findById(orgId);
    if (!organization) throw new NotFoundError('organization', orgId);
    await recordAudit(this.#db, actorFor(operator, orgId), {
      action: 'settings.read',
      targetType: 'organization',
      targetId: orgId,
    });
    return settingsView(organization);
  }

  /**
   * The operator's override of an organization's settings, entitlement and limits. Un-entitling (like
   * suspending) refuses the organization's product tokens at once: caches drop, the feed is told.
   * The operator is not held to the limits it sets, but the result must respect them.
   */
  updateSettings(
    operator: PlatformOperator,
    orgId: string,
    input: PlatformSettingsInput,
  ): Promise<SettingsView> {
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const before = await lockChangeableOrganization(trx, orgId);
      const update = toColumns(input);
      assertConsistent({ ...before, ...update });
      const diff = changedFields(settingsView(before), settingsView({ ...before, ...update }));
      if (!hasChanges(diff)) return settingsView(before);
      const after = (await new OrganizationRepository(trx).updateSettings(orgId, update))!;
      await recordAudit(trx, actorFor(operator, orgId), {
        action: 'settings.updated',
        targetType: 'organization',
        targetId: orgId,
        diff,
      });
      changed({
        type: 'organization',
        orgId,
        ...(apiOpen(before) !== apiOpen(after) ? { apiEnabled: apiOpen(after) } : {}),
      });
      return settingsView(after);
    });
  }

  /**
   * Makes an account a groups administrator, or no longer one: nobody inside an organization can
   * grant it first (only a groups administrator may). Tokens issued before are stale.
   */
  setGroupsAdmin(
    operator: PlatformOperator,
    orgId: string,
    accountId: string,
    groupsAdmin: boolean,
  ): Promise<{ service_account_id: string; groups_admin: boolean; changed: boolean }> {
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      await lockChangeableOrganization(trx, orgId);
      const accounts = new ServiceAccountRepository(trx);
      const account = await accounts.lockById(orgId, accountId);
      if (!account) throw new NotFoundError('service account', accountId);
      if (account.archived_at) {
        throw new DomainError('account_archived', 'the service account is archived; it can no longer change');
      }
      if (account.groups_admin === groupsAdmin) {
        return { service_account_id: accountId, groups_admin: groupsAdmin, changed: false };
      }
      await accounts.update(orgId, accountId, { groups_admin: groupsAdmin });
      const permissionsVersion = await accounts.bumpPermissionsVersion(orgId, accountId);
      await recordAudit(trx, actorFor(operator, orgId), {
        action: groupsAdmin ? 'organization.groups_admin_granted' : 'organization.groups_admin_revoked',
        targetType: 'service_account',
        targetId: accountId,
        diff: { before: { groups_admin: !groupsAdmin }, after: { groups_admin: groupsAdmin } },
      });
      changed({ type: 'account', orgId, accountId, permissionsVersion });
      return { service_account_id: accountId, groups_admin: groupsAdmin, changed: true };
    });
  }
}

/** The columns an input sets: the limits flattened to their limit_ columns, credential types as a set. */
function toColumns(input: PlatformSettingsInput): OrganizationPlatformUpdate {
  const columns: OrganizationPlatformUpdate = {};
  const { limits, allowed_credential_types: types, ...settings } = input;
  for (const [key, value] of Object.entries(settings)) {
    if (value !== undefined) Object.assign(columns, { [key]: value });
  }
  if (types !== undefined) columns.allowed_credential_types = typeSet(types);
  if (limits) {
    const { allowed_credential_types: limitTypes, ...numbers } = limits;
    for (const [key, value] of Object.entries(numbers)) {
      if (value !== undefined) Object.assign(columns, { [`limit_${key}`]: value });
    }
    if (limitTypes !== undefined) {
      columns.limit_allowed_credential_types = limitTypes === null ? null : typeSet(limitTypes);
    }
  }
  return columns;
}

function typeSet(types: readonly CredentialType[]): CredentialType[] {
  return [...new Set(types)].sort();
}

/** The settings must respect the limits once the change is applied; the operator changes both at once. */
function assertConsistent(result: Parameters<typeof settingsView>[0]): void {
  const view = settingsView(result);
  const beyond = settingsBeyondLimits(view, view.limits);
  if (beyond.length > 0) {
    throw new DomainError(
      'invalid_settings',
      `${beyond.map((found) => found.message).join('; ')}: change the setting together with its limit`,
      { field: beyond[0]!.field },
    );
  }
}
