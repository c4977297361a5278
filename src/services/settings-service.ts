import type { Kysely } from 'kysely';
import { changedFields, hasChanges } from '../domain/audit-diff.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import { organizationApiOpen, settingsBeyondLimits } from '../domain/organization-settings.ts';
import {
  OrganizationRepository,
  type OrganizationSettingsUpdate,
} from '../persistence/repositories/organization-repository.ts';
import type { Database, Organization } from '../persistence/schema.ts';
import { type AdminActor, recordAudit } from './admin-actor.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import { limitsView, type SettingsView, settingsView } from './admin-views.ts';
import type { ChangeEvent } from '../state/change-notifier.ts';
import { keepingManagementHolders } from './management-holders.ts';

/**
 * The organization's API security settings, as its admins change them. Bounds are enforced by
 * validation and by the schema; the product's decisions (the API entitlement, the limits the operator
 * set) by assertWithinProductDecisions.
 */
export class SettingsService {
  readonly #db: Kysely<Database>;
  readonly #changes: ChangePublisher;
  constructor(db: Kysely<Database>, changes: ChangePublisher) {
    this.#db = db;
    this.#changes = changes;
  }

  async get(actor: AdminActor): Promise<SettingsView> {
    const organization = await new OrganizationRepository(this.#db).findById(actor.orgId);
    if (!organization) throw new NotFoundError('organization', actor.orgId);
    return settingsView(organization);
  }

  update(actor: AdminActor, input: OrganizationSettingsUpdate): Promise<SettingsView> {
    const patch = input.allowed_credential_types
      ? { ...input, allowed_credential_types: [...new Set(input.allowed_credential_types)].sort() }
      : input;
    // Narrowing allowed_credential_types can leave no admin able to get a token: refused (409), like
    // any other change that would remove the organization's last usable admin.
    const what = patch.allowed_credential_types ? 'this change to allowed_credential_types' : 'this change';
    return transactionWithChanges(this.#db, this.#changes, (trx, changed) =>
      keepingManagementHolders(trx, actor, () => this.#update(trx, changed, actor, patch), what),
    );
  }

  async #update(
    trx: Kysely<Database>,
    changed: (event: ChangeEvent) => void,
    actor: AdminActor,
    patch: OrganizationSettingsUpdate,
  ): Promise<SettingsView> {
    const organizations = new OrganizationRepository(trx);
    const before = await organizations.findById(actor.orgId);
    if (!before) throw new NotFoundError('organization', actor.orgId);
    assertWithinProductDecisions(before, patch);
    const diff = changedFields(settingsView(before), { ...settingsView(before), ...patch });
    if (!hasChanges(diff)) return settingsView(before);
    const updated = (await organizations.updateSettings(actor.orgId, patch))!;
    const after = settingsView(updated);
    await recordAudit(trx, actor, {
      action: 'settings.updated',
      targetType: 'organization',
      targetId: actor.orgId,
      diff,
    });
    changed({
      type: 'organization',
      orgId: actor.orgId,
      // The API module switched: the revocation feed tells resource servers to refuse (or accept again).
      ...(before.api_enabled !== after.api_enabled ? { apiEnabled: apiOpen(updated) } : {}),
    });
    return after;
  }
}

/**
 * Admins choose within what the product decided: the API module can be switched on only while the
 * product entitles the organization to it (switching it off is always allowed), and each setting the
 * request names stays within the operator's limit for it.
 */
function assertWithinProductDecisions(organization: Organization, patch: OrganizationSettingsUpdate): void {
  if (patch.api_enabled === true && !organization.api_entitled) {
    throw new DomainError(
      'api_not_entitled',
      'the API module cannot be switched on: the product has not entitled this organization to it; ask the product (your vendor) to enable the API module',
      { field: 'api_enabled' },
    );
  }
  const proposed = { ...settingsView(organization), ...patch };
  const beyond = settingsBeyondLimits(proposed, limitsView(organization)).filter(
    (found) => patch[found.field] !== undefined,
  );
  if (beyond.length > 0) {
    const [first] = beyond;
    throw new DomainError(
      'setting_beyond_limit',
      `${beyond.map((found) => found.message).join('; ')}: a limit the product sets for this organization`,
      { field: first!.field, limits: Object.fromEntries(beyond.map((found) => [found.field, found.limit])) },
    );
  }
}

/** Whether the organization's product tokens may be used: what the feed's organization entry says. */
export function apiOpen(organization: Organization): boolean {
  return organizationApiOpen({
    status: organization.status,
    apiEntitled: organization.api_entitled,
    apiEnabled: organization.api_enabled,
  });
}
