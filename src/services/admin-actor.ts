import type { Kysely } from 'kysely';
import type { AuditDiff } from '../domain/audit-diff.ts';
import { authorityOf } from '../domain/authority.ts';
import type { Authority } from '../domain/escalation.ts';
import { resolvePermissions } from '../domain/permissions.ts';
import { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Database } from '../persistence/schema.ts';

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
