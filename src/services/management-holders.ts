import type { Kysely } from 'kysely';
import { MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';
import {
  assertNoManagementPermissionLost,
  type HolderCandidate,
  managementPermissionsLost,
  usableManagementPermissions,
} from '../domain/authority.ts';
import { resolvePermissions } from '../domain/permissions.ts';
import { CredentialRepository } from '../persistence/repositories/credential-repository.ts';
import { OrganizationRepository } from '../persistence/repositories/organization-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Database } from '../persistence/schema.ts';
import type { AdminActor } from './admin-actor.ts';

/**
 * Runs `work` (inside the caller's transaction) and refuses it, rolling it back, when it leaves a
 * management permission that someone could use before with no usable holder after. Judging the
 * organization as it is after the write covers every way of losing one (roles, credentials,
 * archiving, role edits, settings) with one rule. The organization row is locked first so concurrent
 * changes are judged one after the other. Service accounts and people are held to it; the operator
 * (CLI on the server, platform API) is not: it is how an organization that lost its admins is recovered.
 */
export async function keepingManagementHolders<T>(
  trx: Kysely<Database>,
  actor: AdminActor,
  work: () => Promise<T>,
  what?: string,
): Promise<T> {
  if (actor.kind === 'operator') return work();
  await new OrganizationRepository(trx).lockById(actor.orgId);
  const before = await usableNow(trx, actor.orgId);
  const result = await work();
  const after = await usableNow(trx, actor.orgId);
  assertNoManagementPermissionLost(managementPermissionsLost(before, after), what);
  return result;
}

async function usableNow(trx: Kysely<Database>, orgId: string): Promise<Set<string>> {
  const organization = (await new OrganizationRepository(trx).findById(orgId))!;
  const accounts = new ServiceAccountRepository(trx);
  const holders = await accounts.listLiveHoldingAny(orgId, MANAGEMENT_PERMISSIONS);
  const credentials = await new CredentialRepository(trx).listUnrevokedOfAccounts(holders.map((h) => h.id));
  const candidates: HolderCandidate[] = [];
  for (const holder of holders) {
    candidates.push({
      accountId: holder.id,
      resolved: resolvePermissions(await accounts.loadGrants(holder.id, holder.all_locations)),
      credentials: credentials
        .filter((c) => c.service_account_id === holder.id)
        .map((c) => ({ type: c.type, revokedAt: c.revoked_at, expiresAt: c.expires_at })),
    });
  }
  return usableManagementPermissions(candidates, organization.allowed_credential_types, new Date());
}
