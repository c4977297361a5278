import { type Kysely, sql } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { CredentialSlot } from '../../domain/status.ts';
import type { Page, PageRequest } from '../../domain/pagination.ts';
import { fetchPage } from '../pagination.ts';
import type { Credential, Database, NewCredential, Organization, ServiceAccount } from '../schema.ts';
import { accountGrantsFrom, type LoadedGrants } from './service-account-repository.ts';

/**
 * The revocation time to store: `at` (the revoking instance's clock), or the credential's created_at (the
 * database's clock) if that is later. The two clocks never agree exactly, and a credential revoked
 * right after its creation by an instance running behind the database would otherwise break
 * `revoked_at >= created_at`, and stay live.
 */
function notBeforeCreation(at: Date) {
  return sql<Date>`greatest(${at}::timestamptz, created_at)`;
}

/** A credential with the account and organization it acts for: what the token endpoint needs. */
export interface CredentialWithOwner {
  credential: Credential;
  account: ServiceAccount;
  organization: Organization;
}

/** A credential with its owners and its account's grants: everything a token subject is made of. */
export interface CredentialWithGrants extends CredentialWithOwner {
  grants: LoadedGrants;
}

/**
 * Every column of the account and organization rows, read beside the credential's under a prefix (so
 * each keeps its driver type: a timestamp stays a Date). The checks below fail to compile when a
 * column is added to the schema and not here.
 */
const ACCOUNT_COLUMNS = [
  'id',
  'org_id',
  'name',
  'description',
  'is_protected',
  'groups_admin',
  'all_locations',
  'permissions_version',
  'permissions_changed_at',
  'created_by_account_id',
  'created_by_actor',
  'created_at',
  'updated_at',
  'archived_at',
] as const satisfies ReadonlyArray<keyof ServiceAccount>;
const ORGANIZATION_COLUMNS = [
  'id',
  'slug',
  'name',
  'api_enabled',
  'allowed_credential_types',
  'access_token_ttl_seconds',
  'max_credentials_per_account',
  'max_credential_lifetime_seconds',
  'external_id',
  'status',
  'status_changed_at',
  'api_entitled',
  'limit_allowed_credential_types',
  'limit_access_token_ttl_seconds',
  'limit_max_credentials_per_account',
  'limit_max_credential_lifetime_seconds',
  'created_at',
  'updated_at',
] as const satisfies ReadonlyArray<keyof Organization>;
type Unlisted<Row, Listed> = Exclude<keyof Row, Listed>;
const accountColumnsComplete: [Unlisted<ServiceAccount, (typeof ACCOUNT_COLUMNS)[number]>] extends [never]
  ? true
  : never = true;
const organizationColumnsComplete: [Unlisted<Organization, (typeof ORGANIZATION_COLUMNS)[number]>] extends [
  never,
]
  ? true
  : never = true;
void accountColumnsComplete;
void organizationColumnsComplete;

const ACCOUNT_PREFIX = 'account__';
const ORGANIZATION_PREFIX = 'organization__';

export interface RevokedCredential {
  id: string;
  client_id: string;
}

export class CredentialRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  create(credential: NewCredential): Promise<Credential> {
    return this.#db.insertInto('credentials').values(credential).returningAll().executeTakeFirstOrThrow();
  }

  findByClientId(clientId: string): Promise<Credential | undefined> {
    return this.#db
      .selectFrom('credentials')
      .selectAll()
      .where('client_id', '=', clientId)
      .executeTakeFirst();
  }

  async findWithOwnerByClientId(clientId: string): Promise<CredentialWithOwner | undefined> {
    const credential = await this.findByClientId(clientId);
    if (!credential) return undefined;
    const [account, organization] = await Promise.all([
      this.#db
        .selectFrom('service_accounts')
        .selectAll()
        .where('id', '=', credential.service_account_id)
        .executeTakeFirstOrThrow(),
      this.#db
        .selectFrom('organizations')
        .selectAll()
        .where('id', '=', credential.org_id)
        .executeTakeFirstOrThrow(),
    ]);
    return { credential, account, organization };
  }

  /**
   * The credentials of these client ids (those that exist, in no particular order), each with its
   * account, organization and the account's grants as loadGrants reads them, in one statement: a
   * restarted instance loads the token subjects of a burst of first requests in a few round trips
   * instead of three per credential.
   */
  async findWithGrantsByClientIds(clientIds: readonly string[]): Promise<CredentialWithGrants[]> {
    if (clientIds.length === 0) return [];
    const rows = await this.#db
      .selectFrom('credentials as c')
      .innerJoin('service_accounts as a', 'a.id', 'c.service_account_id')
      .innerJoin('organizations as o', 'o.id', 'c.org_id')
      .selectAll('c')
      .select(ACCOUNT_COLUMNS.map((column) => sql.ref(`a.${column}`).as(ACCOUNT_PREFIX + column)))
      .select(ORGANIZATION_COLUMNS.map((column) => sql.ref(`o.${column}`).as(ORGANIZATION_PREFIX + column)))
      .select((eb) => [
        // As loadGrants reads them (a deleted location grants nothing).
        jsonArrayFrom(
          eb
            .selectFrom('service_account_locations as sal')
            .innerJoin('locations as l', 'l.id', 'sal.location_id')
            .select(['sal.location_id', 'l.external_id'])
            .whereRef('sal.service_account_id', '=', 'a.id')
            .where('l.deleted_at', 'is', null),
        ).as('grant_locations'),
        jsonArrayFrom(
          eb
            .selectFrom('service_account_roles as sar')
            .innerJoin('roles as r', 'r.id', 'sar.role_id')
            .select(['r.id', 'r.permissions', 'r.deleted_at', 'r.assignable_to_service_accounts'])
            .whereRef('sar.service_account_id', '=', 'a.id'),
        ).as('grant_roles'),
        jsonArrayFrom(
          eb
            .selectFrom('service_account_role_locations as sarl')
            .select(['sarl.role_id', 'sarl.location_id'])
            .whereRef('sarl.service_account_id', '=', 'a.id'),
        ).as('grant_ticks'),
      ])
      .where('c.client_id', 'in', clientIds)
      .execute();
    return rows.map((row) => {
      const { grant_locations: locations, grant_roles: roles, grant_ticks: ticks, ...columns } = row;
      // One pass, each object built by adding its properties (no delete, which would leave the
      // credential, read on every warm token, a slow dictionary-mode object).
      const credential: Record<string, unknown> = {};
      const account: Record<string, unknown> = {};
      const organization: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(columns)) {
        if (key.startsWith(ACCOUNT_PREFIX)) account[key.slice(ACCOUNT_PREFIX.length)] = value;
        else if (key.startsWith(ORGANIZATION_PREFIX)) {
          organization[key.slice(ORGANIZATION_PREFIX.length)] = value;
        } else credential[key] = value;
      }
      const owner = account as unknown as ServiceAccount;
      return {
        credential: credential as unknown as Credential,
        account: owner,
        organization: organization as unknown as Organization,
        grants: accountGrantsFrom(owner.all_locations, { locations, roles, ticks }),
      };
    });
  }

  /** Records usage for many credentials at once (usage tracking is coalesced, never one write per token). */
  async recordUsage(usages: Array<{ credentialId: string; at: Date; ip: string | null }>): Promise<void> {
    for (const usage of usages) {
      await this.#db
        .updateTable('credentials')
        .set({ last_used_at: usage.at, last_used_ip: usage.ip })
        .where('id', '=', usage.credentialId)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', usage.at)]))
        .execute();
    }
  }

  findById(orgId: string, id: string): Promise<Credential | undefined> {
    return this.#db
      .selectFrom('credentials')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  findInAccount(orgId: string, accountId: string, id: string): Promise<Credential | undefined> {
    return this.#db
      .selectFrom('credentials')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('service_account_id', '=', accountId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** Every credential of the account, revoked ones included, in creation order. */
  async listPageForAccount(orgId: string, accountId: string, page: PageRequest): Promise<Page<Credential>> {
    const query = this.#db
      .selectFrom('credentials')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('service_account_id', '=', accountId);
    return fetchPage(query, 'credentials', page);
  }

  /** The unrevoked credentials of some accounts: enough to tell which of them can still authenticate. */
  listUnrevokedOfAccounts(
    accountIds: readonly string[],
  ): Promise<Array<Pick<Credential, 'service_account_id' | 'type' | 'revoked_at' | 'expires_at'>>> {
    if (accountIds.length === 0) return Promise.resolve([]);
    return this.#db
      .selectFrom('credentials')
      .select(['service_account_id', 'type', 'revoked_at', 'expires_at'])
      .where('service_account_id', 'in', [...accountIds])
      .where('revoked_at', 'is', null)
      .execute();
  }

  /** The account's unrevoked credential created first, if any (the built-in account holds at most one). */
  findFirstUnrevokedOfAccount(orgId: string, accountId: string): Promise<Credential | undefined> {
    return this.#db
      .selectFrom('credentials')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('service_account_id', '=', accountId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .executeTakeFirst();
  }

  /** Credentials that can still authenticate: neither revoked nor expired at `now`. */
  async countLive(accountId: string, now: Date): Promise<number> {
    const { count } = await this.#db
      .selectFrom('credentials')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('service_account_id', '=', accountId)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirstOrThrow();
    return Number(count);
  }

  /** The lineage's members that hold a slot (not revoked), expired ones included. */
  listUnrevokedInLineage(lineageId: string): Promise<Credential[]> {
    return this.#db
      .selectFrom('credentials')
      .selectAll()
      .where('lineage_id', '=', lineageId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  /** Returns the credentials this call revoked (ones revoked before are left as they were). */
  async revoke(ids: readonly string[], at: Date, reason: string): Promise<RevokedCredential[]> {
    if (ids.length === 0) return [];
    return this.#db
      .updateTable('credentials')
      .set({ revoked_at: notBeforeCreation(at), revoked_reason: reason })
      .where('id', 'in', [...ids])
      .where('revoked_at', 'is', null)
      .returning(['id', 'client_id'])
      .execute();
  }

  async revokeAllOfAccount(accountId: string, at: Date, reason: string): Promise<RevokedCredential[]> {
    return this.#db
      .updateTable('credentials')
      .set({ revoked_at: notBeforeCreation(at), revoked_reason: reason })
      .where('service_account_id', '=', accountId)
      .where('revoked_at', 'is', null)
      .returning(['id', 'client_id'])
      .execute();
  }

  /** Every live credential of the organization (it is archived); returns what this call revoked. */
  async revokeAllOfOrganization(
    orgId: string,
    at: Date,
    reason: string,
  ): Promise<Array<RevokedCredential & { service_account_id: string }>> {
    return this.#db
      .updateTable('credentials')
      .set({ revoked_at: notBeforeCreation(at), revoked_reason: reason })
      .where('org_id', '=', orgId)
      .where('revoked_at', 'is', null)
      .returning(['id', 'client_id', 'service_account_id'])
      .execute();
  }

  /** Deletes every credential of the account (it is purged); returns what was deleted. */
  deleteAllOfAccount(accountId: string): Promise<Credential[]> {
    return this.#db
      .deleteFrom('credentials')
      .where('service_account_id', '=', accountId)
      .returningAll()
      .execute();
  }

  async setSlot(id: string, slot: CredentialSlot): Promise<void> {
    await this.#db.updateTable('credentials').set({ slot }).where('id', '=', id).execute();
  }

  /**
   * Replaces the secret in place. The previous hash, when kept, is accepted until
   * `previousValidUntil`; without one, the old secret stops working at once.
   */
  replaceSecret(
    id: string,
    secret: {
      hash: string;
      hint: string;
      previousHash: string | null;
      previousValidUntil: Date | null;
      changedAt: Date;
    },
  ): Promise<Credential> {
    const keepPrevious = secret.previousHash !== null && secret.previousValidUntil !== null;
    return this.#db
      .updateTable('credentials')
      .set({
        secret_hash: secret.hash,
        display_hint: secret.hint,
        previous_secret_hash: keepPrevious ? secret.previousHash : null,
        previous_secret_expires_at: keepPrevious ? secret.previousValidUntil : null,
        // Tokens carry the version of the secret they were obtained with (domain/secret-versions.ts).
        secret_version: sql<number>`secret_version + 1`,
        secret_changed_at: secret.changedAt,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
