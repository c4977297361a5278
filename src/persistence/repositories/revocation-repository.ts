import type { Kysely } from 'kysely';
import { LIMITS } from '../../../config/defaults.ts';
import type { Database } from '../schema.ts';

/** What Postgres holds about revocations that may still matter (the revocation feed is rebuilt from them). */
export interface RevocationRecords {
  credentials: Array<{ client_id: string; org_id: string; account_id: string; revoked_at: Date }>;
  /** Credentials whose secret was regenerated: tokens of older secrets stop at the grace's end. */
  regeneratedSecrets: Array<{
    client_id: string;
    org_id: string;
    account_id: string;
    secret_version: number;
    secret_changed_at: Date;
    previous_secret_expires_at: Date | null;
  }>;
  accounts: Array<{ account_id: string; org_id: string; permissions_version: number; changed_at: Date }>;
  disabledOrganizations: Array<{ org_id: string }>;
  tokens: Array<{ jti: string; org_id: string; expires_at: Date }>;
}

/**
 * Postgres's side of revocation: tokens revoked through POST /revoke, and what the revocation feed is
 * rebuilt from (the state store holds only a copy).
 */
export class RevocationRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Records a revoked access token until it expires; revoking it again changes nothing. */
  async recordRevokedToken(token: {
    jti: string;
    orgId: string;
    clientId: string;
    expiresAt: Date;
  }): Promise<void> {
    await this.#db
      .insertInto('revoked_tokens')
      .values({
        jti: token.jti,
        org_id: token.orgId,
        client_id: token.clientId,
        expires_at: token.expiresAt,
      })
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute();
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('revoked_tokens')
      .select('jti')
      .where('jti', '=', jti)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Everything revoked or changed since `since` that a token may still be affected by: revoked
   * credentials, regenerated secrets, permission changes, organizations with the API switched off,
   * unexpired revoked tokens.
   */
  async recordsSince(since: Date, now: Date): Promise<RevocationRecords> {
    // A regenerated secret matters from its grace's end, at most the longest token lifetime after it.
    const regeneratedSince = new Date(since.getTime() - LIMITS.ACCESS_TOKEN_TTL_MAX_SECONDS * 1000);
    const [credentials, regeneratedSecrets, accounts, disabledOrganizations, tokens] = await Promise.all([
      this.#db
        .selectFrom('credentials')
        .select(['client_id', 'org_id', 'service_account_id as account_id', 'revoked_at'])
        .where('revoked_at', '>', since)
        .execute(),
      this.#db
        .selectFrom('credentials')
        .select([
          'client_id',
          'org_id',
          'service_account_id as account_id',
          'secret_version',
          'secret_changed_at',
          'previous_secret_expires_at',
        ])
        .where('secret_changed_at', '>', regeneratedSince)
        .where('revoked_at', 'is', null)
        .execute(),
      this.#db
        .selectFrom('service_accounts')
        .select(['id as account_id', 'org_id', 'permissions_version', 'permissions_changed_at as changed_at'])
        .where('permissions_changed_at', '>', since)
        .execute(),
      // Suspended, archived or not entitled organizations' tokens are refused like those of a
      // switched-off API (organizationApiOpen, as a query).
      this.#db
        .selectFrom('organizations')
        .select('id as org_id')
        .where((eb) =>
          eb.or([
            eb('api_enabled', '=', false),
            eb('api_entitled', '=', false),
            eb('status', '!=', 'active'),
          ]),
        )
        .execute(),
      this.#db
        .selectFrom('revoked_tokens')
        .select(['jti', 'org_id', 'expires_at'])
        .where('expires_at', '>', now)
        .execute(),
    ]);
    return {
      credentials: credentials.map((c) => ({ ...c, revoked_at: c.revoked_at! })),
      regeneratedSecrets: regeneratedSecrets.map((c) => ({ ...c, secret_changed_at: c.secret_changed_at! })),
      accounts: accounts.map((a) => ({ ...a, changed_at: a.changed_at! })),
      disabledOrganizations,
      tokens,
    };
  }

  /** Forgets revoked tokens that have expired: no one can present them any more. */
  async pruneExpiredTokens(now: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('revoked_tokens')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
