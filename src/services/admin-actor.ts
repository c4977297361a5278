import type { Kysely } from 'kysely';
import type { AuditDiff } from '../domain/audit-diff.ts';
import { authorityOf, personAuthority } from '../domain/authority.ts';
import { grantableRoleIds } from '../domain/delegation.ts';
import type { Authority } from '../domain/escalation.ts';
import { resolvePermissions } from '../domain/permissions.ts';
import { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import { RoleRepository } from '../persistence/repositories/role-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { ActorSnapshot, Database } from '../persistence/schema.ts';

/**
 * Who performs a management action. An `admin` is a service account authenticated by an admin-audience
 * token; a `person` is a human admin of the product, acting through a management token the product
 * obtained for them by token exchange (RFC 8693). Both are held to the no-escalation rules. The
 * `operator` runs the CLI on the server itself or calls the platform API, and is trusted with the
 * organization as a whole.
 */
export type AdminActor =
  | {
      kind: 'admin';
      orgId: string;
      accountId: string;
      credentialId: string;
      /** The account's name when it acted, for the audit trail (absent: not known to the caller). */
      accountName?: string | null;
      /** Management permissions from the token's org-wide grants. */
      management: ReadonlySet<string>;
      groupsAdmin: boolean;
      sourceIp: string | null;
      requestId: string | null;
    }
  | PersonActor
  | {
      kind: 'operator';
      orgId: string;
      /** Set when acting through the platform API: the OPERATORS entry name. Absent: the CLI. */
      operatorName?: string;
      sourceIp?: string | null;
      requestId?: string | null;
    };

/** A person of the product, as the management token issued for them by token exchange describes them. */
export interface PersonActor {
  kind: 'person';
  orgId: string;
  /** The person's id in the product. */
  personId: string;
  displayName: string;
  email: string | null;
  /** The delegating client: the product's client id that exchanged the person's subject token. */
  clientId: string;
  /** Management permissions of the token (never more than the delegating client may hand on). */
  management: ReadonlySet<string>;
  groupsAdmin: boolean;
  /** Roles (ids or names) the person may grant; null: judged by what they hold. */
  grantableRoles: readonly string[] | null;
  sourceIp: string | null;
  requestId: string | null;
}

/** Actors held to the no-escalation and last-holder rules: every one but the operator. */
export type HeldActor = Exclude<AdminActor, { kind: 'operator' }>;

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string;
  diff?: AuditDiff | null;
  outcome?: 'success' | 'failure';
}

/** Who acted, as audit rows and "created by" columns keep it. */
export function actorSnapshot(actor: AdminActor): ActorSnapshot {
  switch (actor.kind) {
    case 'person':
      return {
        kind: 'person',
        id: actor.personId,
        display_name: actor.displayName,
        client_id: actor.clientId,
      };
    case 'admin':
      return { kind: 'service_account', id: actor.accountId, display_name: actor.accountName ?? null };
    case 'operator':
      return {
        kind: 'operator',
        id: actor.operatorName ?? 'cli',
        display_name: actor.operatorName ?? 'svcauth CLI',
      };
  }
}

/** The `created_by_*` columns of a row the actor creates. */
export function createdByColumns(actor: AdminActor) {
  return {
    created_by_account_id: actor.kind === 'admin' ? actor.accountId : null,
    created_by_actor: JSON.stringify(actorSnapshot(actor)),
  };
}

/** Records one audit event for the actor; call with the transaction that performs the mutation. */
export function recordAudit(db: Kysely<Database>, actor: AdminActor, entry: AuditEntry): Promise<void> {
  const admin = actor.kind === 'admin' ? actor : null;
  const operatorName = actor.kind === 'operator' ? (actor.operatorName ?? null) : null;
  const via = operatorName ? 'platform_api' : 'cli';
  const snapshot = actorSnapshot(actor);
  return new AuditRepository(db).record({
    orgId: actor.orgId,
    action: entry.action,
    outcome: entry.outcome ?? 'success',
    actorAccountId: admin?.accountId ?? null,
    actorCredentialId: admin?.credentialId ?? null,
    actorOperator: operatorName,
    actor: snapshot,
    targetType: entry.targetType,
    targetId: entry.targetId,
    diff: actor.kind === 'operator' ? { ...(entry.diff ?? {}), via } : (entry.diff ?? null),
    sourceIp: actor.sourceIp ?? null,
    requestId: actor.requestId ?? null,
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The organization's live roles a person's grantable list names, by id or by name. */
async function listedRoles(db: Kysely<Database>, orgId: string, listed: readonly string[]) {
  const roles = new RoleRepository(db);
  const found = [
    ...(await roles.findLiveByIds(
      orgId,
      listed.filter((entry) => UUID.test(entry)).map((id) => id.toLowerCase()),
    )),
    ...(await roles.findLiveByNames(orgId, listed)),
  ];
  const named = grantableRoleIds(listed, found);
  return [...new Map(found.filter((r) => named.has(r.id)).map((r) => [r.id, r])).values()];
}

/**
 * What the actor holds, for every grant and every action on an account. A service account: the
 * token's management permissions, plus the admin account's own product permissions (read now) unless
 * the token was down-scoped (see authorityOf). A person: the token's management permissions, and the
 * roles on their grantable list (read now). The operator is not limited: null.
 */
export async function loadAuthority(db: Kysely<Database>, actor: AdminActor): Promise<Authority | null> {
  if (actor.kind === 'operator') return null;
  if (actor.kind === 'person') {
    return personAuthority({
      management: actor.management,
      groupsAdmin: actor.groupsAdmin,
      grantableRoles: actor.grantableRoles ? await listedRoles(db, actor.orgId, actor.grantableRoles) : null,
    });
  }
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
