import type { Kysely } from 'kysely';
import type { AuditDiff } from '../domain/audit-diff.ts';
import { DomainError } from '../domain/errors.ts';
import { authorityOf } from '../domain/authority.ts';
import type { Authority } from '../domain/escalation.ts';
import { resolvePermissions } from '../domain/permissions.ts';
import { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import { isUniqueViolation } from '../persistence/errors.ts';
import { RevocationOutboxRepository } from '../persistence/repositories/revocation-outbox-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Database } from '../persistence/schema.ts';
import { entryForChange } from '../revocation/entries.ts';
import type { ChangeEvent } from '../state/change-notifier.ts';

/**
 * Who performs a management action. An `admin` is a service account authenticated by an admin-audience
 * token, held to the no-escalation rules; the `operator` runs the CLI on the server itself and is
 * trusted with the organization as a whole.
 */
export type AdminActor =
  | {
      kind: 'admin';
      orgId: string;
      accountId: string;
      credentialId: string;
      /** Management permissions from the token's org-wide grants. */
      management: ReadonlySet<string>;
      groupsAdmin: boolean;
      sourceIp: string | null;
      requestId: string | null;
    }
  | {
      kind: 'operator';
      orgId: string;
      /** Set when acting through the platform API: the OPERATORS entry name. Absent: the CLI. */
      operatorName?: string;
      sourceIp?: string | null;
      requestId?: string | null;
    };

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string;
  diff?: AuditDiff | null;
  outcome?: 'success' | 'failure';
}

/** Records one audit event for the actor; call with the transaction that performs the mutation. */
export function recordAudit(db: Kysely<Database>, actor: AdminActor, entry: AuditEntry): Promise<void> {
  const admin = actor.kind === 'admin' ? actor : null;
  const operatorName = actor.kind === 'operator' ? (actor.operatorName ?? null) : null;
  const via = operatorName ? 'platform_api' : 'cli';
  return new AuditRepository(db).record({
    orgId: actor.orgId,
    action: entry.action,
    outcome: entry.outcome ?? 'success',
    actorAccountId: admin?.accountId ?? null,
    actorCredentialId: admin?.credentialId ?? null,
    actorOperator: operatorName,
    targetType: entry.targetType,
    targetId: entry.targetId,
    diff: admin ? (entry.diff ?? null) : { ...(entry.diff ?? {}), via },
    sourceIp: actor.sourceIp ?? null,
    requestId: actor.requestId ?? null,
  });
}

/**
 * What the actor holds, for every grant and every action on an account: the token's management
 * permissions, plus the admin account's own product permissions (read now) unless the token was
 * down-scoped (see authorityOf). The operator is not limited: null.
 */
export async function loadAuthority(db: Kysely<Database>, actor: AdminActor): Promise<Authority | null> {
  if (actor.kind === 'operator') return null;
  const accounts = new ServiceAccountRepository(db);
  const account = await accounts.findById(actor.orgId, actor.accountId);
  const grants = account
    ? await accounts.loadGrants(account.id, account.all_locations)
    : { allLocations: false, locationIds: [], roles: [] };
  return authorityOf({
    tokenManagement: actor.management,
    account: resolvePermissions(grants),
    groupsAdmin: actor.groupsAdmin,
  });
}

/** Where committed changes are announced, so every instance drops what its caches hold about them. */
export interface ChangePublisher {
  publish(event: ChangeEvent): Promise<void>;
}

/**
 * Runs `work` in a transaction, then (only once it committed) announces the changes it reported.
 * Announcing earlier could let another instance reload the old rows before the commit. The feed
 * entries the changes call for (a revoked credential, a permissions version, the API switched) are
 * written to the revocation outbox in the same transaction: once the caller is answered, the feed is
 * bound to carry them, even if this instance dies before the state store hears of them.
 */
export async function transactionWithChanges<T>(
  db: Kysely<Database>,
  changes: ChangePublisher,
  work: (trx: Kysely<Database>, changed: (event: ChangeEvent) => void) => Promise<T>,
): Promise<T> {
  const events: ChangeEvent[] = [];
  const result = await db.transaction().execute(async (trx) => {
    const result = await work(trx, (event) => events.push(event));
    const now = Date.now();
    // The change rides along: if this instance cannot announce it (cut off from the state store),
    // whichever instance relays the row announces it instead.
    await new RevocationOutboxRepository(trx).add(
      events.flatMap((event) => {
        const entry = entryForChange(event, now);
        return entry ? [{ entry, change: event }] : [];
      }),
    );
    return result;
  });
  for (const event of events) await changes.publish(event);
  return result;
}

/** The refusal for a live name already in use, whether the lookup or the unique index found it. */
export function nameTakenError(what: string, name: string, hint = 'choose another name'): DomainError {
  return new DomainError('name_taken', `${what} named "${name}" already exists; ${hint}`, { field: 'name' });
}

/**
 * Runs a write that checked its name is free. Two concurrent writes can both pass that lookup; the
 * unique index on live names (`index`) decides, and the loser gets the same answer as from the lookup.
 */
export async function withUniqueLiveName<T>(
  index: string,
  taken: () => DomainError,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUniqueViolation(error, index)) throw taken();
    throw error;
  }
}
