import { type Kysely, sql } from 'kysely';
import type { CredentialSlot } from '../../domain/status.ts';
import type { Page, PageRequest } from '../../domain/pagination.ts';
import { fetchPage } from '../pagination.ts';
import type { Credential, Database, NewCredential, Organization, ServiceAccount } from '../schema.ts';

/** A credential with the account and organization it acts for: what the token endpoint needs. */
export interface CredentialWithOwner {
  credential: Credential;
  account: ServiceAccount;
  organization: Organization;
}

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
      .set({ revoked_at: at, revoked_reason: reason })
      .where('id', 'in', [...ids])
      .where('revoked_at', 'is', null)
      .returning(['id', 'client_id'])
      .execute();
  }

  async revokeAllOfAccount(accountId: string, at: Date, reason: string): Promise<RevokedCredential[]> {
    return this.#db
      .updateTable('credentials')
      .set({ revoked_at: at, revoked_reason: reason })
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
      .set({ revoked_at: at, revoked_reason: reason })
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
