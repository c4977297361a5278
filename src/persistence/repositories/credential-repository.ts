import type { Kysely } from 'kysely';
import type { Credential, Database, NewCredential, Organization, ServiceAccount } from '../schema.ts';

/** A credential with the account and organization it acts for: what the token endpoint needs. */
export interface CredentialWithOwner {
  credential: Credential;
  account: ServiceAccount;
  organization: Organization;
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
}
