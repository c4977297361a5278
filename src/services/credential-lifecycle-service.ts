import type { Kysely } from 'kysely';
import { LIMITS } from '../../config/defaults.ts';
import {
  assertAccountCanHoldCredentials,
  assertCredentialActive,
  assertCredentialTypeAllowed,
  assertRegenerable,
} from '../domain/credential-lifecycle.ts';
import { displayHint, generateApiKey, generateClientSecret } from '../domain/credential-format.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import {
  checkCredentialExpiry,
  checkCredentialQuota,
  liveCountAfterRotation,
  planRegeneration,
  planRotation,
} from '../domain/rotation.ts';
import { secretRetirement } from '../domain/secret-versions.ts';
import { credentialStatus } from '../domain/status.ts';
import type { Page, PageRequest } from '../domain/pagination.ts';
import { CredentialRepository } from '../persistence/repositories/credential-repository.ts';
import { OrganizationRepository } from '../persistence/repositories/organization-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Credential, Database, ServiceAccount } from '../persistence/schema.ts';
import { type AdminActor, recordAudit } from './admin-actor.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import { type CredentialView, credentialView } from './admin-views.ts';
import {
  createdBy,
  type IssuedCredentialView,
  insertCredential,
  issueCredential,
  type NewCredentialInput,
  type PreparedSecret,
  prepareSecret,
  withSecret,
} from './credential-service.ts';

export type { IssuedCredentialView, NewCredentialInput };
import type { ChangeEvent } from '../state/change-notifier.ts';
import type { SecretHasher } from '../keys/secret-hasher.ts';
import { keepingManagementHolders } from './management-holders.ts';
import { assertMayActOn } from './service-account-service.ts';

export interface RotationInput {
  name?: string | undefined;
  expires_at?: string | undefined;
  jwks?: unknown;
}

export type RotatedCredentialView = IssuedCredentialView & {
  rotation: {
    promoted_credential_id: string | null;
    demoted_credential_id: string | null;
    revoked_credential_ids: string[];
  };
};

export class CredentialLifecycleService {
  readonly #db: Kysely<Database>;
  readonly #hasher: SecretHasher;
  readonly #changes: ChangePublisher;
  constructor(db: Kysely<Database>, hasher: SecretHasher, changes: ChangePublisher) {
    this.#db = db;
    this.#hasher = hasher;
    this.#changes = changes;
  }

  async list(actor: AdminActor, accountId: string, page: PageRequest): Promise<Page<CredentialView>> {
    await this.#findAccount(this.#db, actor, accountId);
    const result = await new CredentialRepository(this.#db).listPageForAccount(actor.orgId, accountId, page);
    const now = new Date();
    return { items: result.items.map((row) => credentialView(row, now)), next: result.next };
  }

  async get(actor: AdminActor, accountId: string, id: string): Promise<CredentialView> {
    const credential = await new CredentialRepository(this.#db).findInAccount(actor.orgId, accountId, id);
    if (!credential) throw new NotFoundError('credential', id);
    return credentialView(credential, new Date());
  }

  async create(
    actor: AdminActor,
    accountId: string,
    input: NewCredentialInput,
  ): Promise<IssuedCredentialView> {
    // bcrypt takes tens of milliseconds: hash before the transaction so no row lock waits on it.
    const prepared = await prepareSecret(this.#hasher, input.type);
    return this.#db.transaction().execute(async (trx) => {
      const owner = await this.#lockAccountForIssuing(trx, actor, accountId);
      // A credential acts with all of its account's permissions, so issuing one is granting them.
      return issueCredential(trx, actor, owner, input, prepared, () =>
        assertMayActOn(trx, actor, owner.account, 'issue a credential for this service account'),
      );
    });
  }

  /** Immediate and irreversible. Revoking a revoked credential changes nothing. */
  revoke(actor: AdminActor, accountId: string, id: string): Promise<CredentialView> {
    // Revoking the last usable admin credential would lock the organization out of its management API.
    return transactionWithChanges(this.#db, this.#changes, (trx, changed) =>
      keepingManagementHolders(trx, actor, () => this.#revoke(trx, changed, actor, accountId, id)),
    );
  }

  /**
   * RFC 7009 kill switch: a credential's holder revokes it at /revoke, presenting it. The same
   * revocation, change event, outbox entry and audit event as an admin's, with the credential itself
   * as the actor. Neither the authority rules nor the management-holder rule apply: whoever holds the
   * secret could use it anyway, and a leaked credential must always be killable by its holder (the CLI
   * operator recovers an organization that lost its admins). Revoking a revoked credential changes nothing.
   */
  revokeByHolder(
    holder: { orgId: string; accountId: string; credentialId: string },
    request: { sourceIp: string | null; requestId: string | null },
  ): Promise<void> {
    const actor: AdminActor = {
      kind: 'admin',
      orgId: holder.orgId,
      accountId: holder.accountId,
      credentialId: holder.credentialId,
      management: new Set(),
      groupsAdmin: false,
      ...request,
    };
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      await this.#findAccount(trx, actor, holder.accountId, { lock: true });
      const credentials = new CredentialRepository(trx);
      const credential = await credentials.findInAccount(holder.orgId, holder.accountId, holder.credentialId);
      if (!credential || credential.revoked_at) return;
      const now = new Date();
      await credentials.revoke([credential.id], now, 'revoked by its holder at /revoke');
      const after = credentialView(
        (await credentials.findInAccount(holder.orgId, holder.accountId, credential.id))!,
        now,
      );
      await recordAudit(trx, actor, {
        action: 'credential.revoked',
        targetType: 'credential',
        targetId: credential.id,
        diff: {
          before: { status: credentialView(credential, now).status, revoked_at: null },
          after: { status: after.status, revoked_at: after.revoked_at },
          via: 'revoke_endpoint',
        },
      });
      changed(credentialChange(credential, { revoked: true }));
    });
  }

  async #revoke(
    trx: Kysely<Database>,
    changed: (event: ChangeEvent) => void,
    actor: AdminActor,
    accountId: string,
    id: string,
  ): Promise<CredentialView> {
    const account = await this.#findAccount(trx, actor, accountId, { lock: true });
    const credentials = new CredentialRepository(trx);
    const credential = await credentials.findInAccount(actor.orgId, accountId, id);
    if (!credential) throw new NotFoundError('credential', id);
    if (account.is_protected) throw builtInCredential();
    if (credential.revoked_at) return credentialView(credential, new Date());
    await assertMayActOn(trx, actor, account, 'revoke the credentials of this service account');
    const now = new Date();
    await credentials.revoke([id], now, 'revoked by an admin');
    const after = credentialView((await credentials.findInAccount(actor.orgId, accountId, id))!, now);
    await recordAudit(trx, actor, {
      action: 'credential.revoked',
      targetType: 'credential',
      targetId: id,
      diff: {
        before: { status: credentialView(credential, now).status, revoked_at: null },
        after: { status: after.status, revoked_at: after.revoked_at },
      },
    });
    changed(credentialChange(credential, { revoked: true }));
    return after;
  }

  /**
   * A new primary in the same lineage; the previous primary keeps working as secondary so clients can
   * switch over without downtime, and an older secondary is revoked. The quota counts the result.
   * Naming the secondary is refused while the primary is live (it would revoke the credential named);
   * a secondary whose primary was revoked is promoted in its place and keeps working (planRotation).
   */
  async rotate(
    actor: AdminActor,
    accountId: string,
    id: string,
    input: RotationInput,
  ): Promise<RotatedCredentialView> {
    const original = await new CredentialRepository(this.#db).findInAccount(actor.orgId, accountId, id);
    if (!original) throw new NotFoundError('credential', id);
    if (input.jwks !== undefined && original.type !== 'private_key_jwt') {
      throw new DomainError('invalid_jwks', `a ${original.type} credential has no jwks; omit it`, {
        field: 'jwks',
      });
    }
    // A rotated legacy key is replaced by a regular svcauth API key: the point is a fresh secret.
    const prepared: PreparedSecret = await prepareSecret(this.#hasher, original.type);
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const { account, organization } = await this.#lockAccountForIssuing(trx, actor, accountId);
      const credentials = new CredentialRepository(trx);
      const current = (await credentials.findInAccount(actor.orgId, accountId, id))!;
      if (current.revoked_at) assertCredentialActive('revoked', 'rotated');
      assertCredentialTypeAllowed(current.type, organization.allowed_credential_types);
      const now = new Date();
      const lineage = await credentials.listUnrevokedInLineage(current.lineage_id);
      // Expired members still hold their slot, so they take part in the plan; only live ones count.
      const plan = planRotation(
        lineage.map((c) => ({ id: c.id, slot: c.slot })),
        current.id,
      );
      const live = new Set(lineage.filter((c) => isLive(c, now)).map((c) => c.id));
      checkCredentialQuota(
        liveCountAfterRotation(await credentials.countLive(account.id, now), {
          ...plan,
          revoke: plan.revoke.filter((revokedId) => live.has(revokedId)),
        }),
        organization.max_credentials_per_account,
      );
      await assertMayActOn(trx, actor, account, 'rotate the credentials of this service account');
      const expiresAt = checkCredentialExpiry({
        now,
        requestedExpiresAt: input.expires_at ? new Date(input.expires_at) : null,
        maxLifetimeSeconds: organization.max_credential_lifetime_seconds,
      });
      // Order matters for the one-live-credential-per-slot index: free the secondary slot, then the primary.
      const revoked = await credentials.revoke(plan.revoke, now, 'rotated out');
      if (plan.demoteToSecondary) await credentials.setSlot(plan.demoteToSecondary, 'secondary');
      const touched = lineage.filter((c) => c.id === plan.demoteToSecondary || plan.revoke.includes(c.id));
      const revokedIds = new Set(revoked.map((c) => c.id));
      for (const member of touched) {
        changed(credentialChange(member, { revoked: revokedIds.has(member.id) }));
      }
      const { credential, secret } = await insertCredential(
        trx,
        {
          orgId: actor.orgId,
          accountId: account.id,
          type: current.type,
          name: input.name ?? current.name,
          expiresAt,
          jwks: input.jwks ?? current.jwks,
          lineageId: current.lineage_id,
          slot: 'primary',
          createdBy: createdBy(actor),
        },
        prepared,
      );
      const view = credentialView(credential, now);
      const rotation = {
        promoted_credential_id: plan.promoted,
        demoted_credential_id: plan.demoteToSecondary,
        revoked_credential_ids: revoked.map((c) => c.id),
      };
      await recordAudit(trx, actor, {
        action: 'credential.rotated',
        targetType: 'credential',
        targetId: id,
        diff: { after: { new_credential: view, ...rotation } },
      });
      return { ...withSecret(view, credential.type, secret), rotation };
    });
  }

  /**
   * Same client id (or key id), new secret. During the grace period the previous secret still works,
   * so deployed clients can be updated without an outage; the grace is at most the longest token
   * lifetime.
   */
  async regenerate(
    actor: AdminActor,
    accountId: string,
    id: string,
    input: { grace_period_seconds?: number | undefined },
  ): Promise<IssuedCredentialView> {
    const original = await new CredentialRepository(this.#db).findInAccount(actor.orgId, accountId, id);
    if (!original) throw new NotFoundError('credential', id);
    assertRegenerable({ type: original.type, isLegacy: original.is_legacy });
    const secret =
      original.type === 'api_key' ? generateApiKey(original.client_id).key : generateClientSecret();
    const hash = await this.#hasher.hash(secret);
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const { account, organization } = await this.#lockAccountForIssuing(trx, actor, accountId);
      const credentials = new CredentialRepository(trx);
      const current = (await credentials.findInAccount(actor.orgId, accountId, id))!;
      const now = new Date();
      assertCredentialActive(
        credentialStatus({ revokedAt: current.revoked_at, expiresAt: current.expires_at }, now),
        'regenerated',
      );
      assertCredentialTypeAllowed(current.type, organization.allowed_credential_types);
      await assertMayActOn(trx, actor, account, 'regenerate the credentials of this service account');
      const { previousSecretValidUntil } = planRegeneration({
        now,
        graceSeconds: input.grace_period_seconds ?? 0,
        maxGraceSeconds: LIMITS.ACCESS_TOKEN_TTL_MAX_SECONDS,
      });
      const updated = await credentials.replaceSecret(id, {
        hash,
        hint: displayHint(secret),
        previousHash: current.secret_hash,
        previousValidUntil: previousSecretValidUntil,
        changedAt: now,
      });
      const view = credentialView(updated, now);
      await recordAudit(trx, actor, {
        action: 'credential.regenerated',
        targetType: 'credential',
        targetId: id,
        diff: {
          before: { display_hint: current.display_hint },
          after: {
            display_hint: view.display_hint,
            previous_secret_expires_at: view.previous_secret_expires_at,
          },
        },
      });
      // Caches hold the old hash: without this, the old secret would keep working and the new one not.
      // The feed is told when the old secret's tokens stop (now, or at the grace's end).
      changed(credentialChange(updated, { secretRetired: true }));
      return withSecret(view, updated.type, secret);
    });
  }

  async #findAccount(
    db: Kysely<Database>,
    actor: AdminActor,
    accountId: string,
    options: { lock?: boolean } = {},
  ): Promise<ServiceAccount> {
    const accounts = new ServiceAccountRepository(db);
    const account = options.lock
      ? await accounts.lockById(actor.orgId, accountId)
      : await accounts.findById(actor.orgId, accountId);
    if (!account) throw new NotFoundError('service account', accountId);
    return account;
  }

  /** Locks the account so quota and lineage checks see every concurrent change to its credentials. */
  async #lockAccountForIssuing(trx: Kysely<Database>, actor: AdminActor, accountId: string) {
    const account = await this.#findAccount(trx, actor, accountId, { lock: true });
    assertAccountCanHoldCredentials({ isProtected: account.is_protected, archivedAt: account.archived_at });
    const organization = (await new OrganizationRepository(trx).findById(actor.orgId))!;
    return { account, organization };
  }
}

/** The built-in account's credential is the product's: the platform API issues and revokes it. */
function builtInCredential(): DomainError {
  return new DomainError(
    'protected_account',
    "the built-in service account's credentials are managed by the product (its platform API); they cannot be revoked, rotated or regenerated here",
  );
}

/** `revoked`: the credential stopped working, so tokens it obtained are refused (revocation feed). */
function credentialChange(
  credential: Credential,
  options: { revoked?: boolean; secretRetired?: boolean } = {},
): ChangeEvent {
  const retirement =
    options.secretRetired && credential.secret_changed_at
      ? secretRetirement({
          secretVersion: credential.secret_version,
          previousSecretExpiresAt: credential.previous_secret_expires_at,
          secretChangedAt: credential.secret_changed_at,
        })
      : null;
  return {
    type: 'credential',
    orgId: credential.org_id,
    accountId: credential.service_account_id,
    credentialId: credential.id,
    clientId: credential.client_id,
    ...(options.revoked ? { revoked: true } : {}),
    ...(retirement
      ? {
          secretRetired: {
            oldestVersion: retirement.oldestVersion,
            effectiveAtMs: retirement.effectiveAt.getTime(),
          },
        }
      : {}),
  };
}

function isLive(credential: Credential, now: Date): boolean {
  return (
    credentialStatus({ revokedAt: credential.revoked_at, expiresAt: credential.expires_at }, now) === 'active'
  );
}
