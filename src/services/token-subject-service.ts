import type { Kysely } from 'kysely';
import { isPlausibleClientId } from '../domain/credential-format.ts';
import { permissionNames, type ResolvedPermissions, resolvePermissions } from '../domain/permissions.ts';
import { accountStatus, credentialStatus } from '../domain/status.ts';
import { CredentialRepository } from '../persistence/repositories/credential-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Credential, Database, Organization, ServiceAccount } from '../persistence/schema.ts';

/**
 * Who a credential acts for at this moment. `refusal` is set when the credential authenticates but
 * may not obtain tokens; it is only ever revealed to a caller that proved the secret.
 */
export interface TokenSubject {
  credential: Credential;
  account: ServiceAccount;
  organization: Organization;
  permissions: ResolvedPermissions;
  /** Every permission name held anywhere: what `scope` may ask for. */
  scopes: string[];
  refusal: string | null;
  /**
   * The refusal for tokens of the management API's audience. The API module switch does not apply
   * there: an organization that turned its API off must still be able to turn it back on.
   */
  adminRefusal: string | null;
}

export class TokenSubjectService {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * The subject of a client id, or null when nothing can authenticate with it: unknown, revoked or
   * expired credential, archived account. Those cases are indistinguishable to the caller.
   */
  async findByClientId(clientId: string, now: Date = new Date()): Promise<TokenSubject | null> {
    // A value no credential could have as its id (a NUL, a control character, megabytes) names
    // nothing; asking the database would only turn it into a query error, seen as an outage.
    if (!isPlausibleClientId(clientId)) return null;
    const found = await new CredentialRepository(this.#db).findWithOwnerByClientId(clientId);
    if (!found) return null;
    const { credential, account, organization } = found;
    if (
      credentialStatus({ revokedAt: credential.revoked_at, expiresAt: credential.expires_at }, now) !==
      'active'
    ) {
      return null;
    }
    if (account.archived_at) return null;
    const grants = await new ServiceAccountRepository(this.#db).loadGrants(account.id, account.all_locations);
    const permissions = resolvePermissions(grants);
    return {
      credential,
      account,
      organization,
      permissions,
      scopes: permissionNames(permissions),
      refusal: refusalOf(credential, account, organization, grants.roleCount, true),
      adminRefusal: refusalOf(credential, account, organization, grants.roleCount, false),
    };
  }
}

function refusalOf(
  credential: Credential,
  account: ServiceAccount,
  organization: Organization,
  roleCount: number,
  apiSwitchApplies: boolean,
): string | null {
  if (apiSwitchApplies && !organization.api_enabled) {
    return 'the API module is turned off for this organization; an admin can turn it on in the API security settings';
  }
  if (!organization.allowed_credential_types.includes(credential.type)) {
    return `credentials of type ${credential.type} are not allowed by this organization's API security settings`;
  }
  if (account.is_protected) {
    return 'the built-in service account cannot obtain tokens';
  }
  if (accountStatus({ archivedAt: account.archived_at, roleCount }) === 'disabled') {
    return 'the service account is disabled because it has no roles; an admin must assign it a role';
  }
  return null;
}
