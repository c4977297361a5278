import type { Kysely } from 'kysely';
import { changedFields, hasChanges } from '../domain/audit-diff.ts';
import { NotFoundError } from '../domain/errors.ts';
import {
  OrganizationRepository,
  type OrganizationSettingsUpdate,
} from '../persistence/repositories/organization-repository.ts';
import type { Database } from '../persistence/schema.ts';
import { type AdminActor, recordAudit } from './admin-actor.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import { type SettingsView, settingsView } from './admin-views.ts';
import type { ChangeEvent } from '../state/change-notifier.ts';
import { keepingManagementHolders } from './management-holders.ts';

/** The organization's API security settings. Bounds are enforced by validation and by the schema. */
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
    const diff = changedFields(settingsView(before), { ...settingsView(before), ...patch });
    if (!hasChanges(diff)) return settingsView(before);
    const after = settingsView((await organizations.updateSettings(actor.orgId, patch))!);
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
      ...(before.api_enabled !== after.api_enabled ? { apiEnabled: after.api_enabled } : {}),
    });
    return after;
  }
}
