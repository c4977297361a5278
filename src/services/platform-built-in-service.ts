import type { Kysely } from 'kysely';
import { NotFoundError } from '../domain/errors.ts';
import type { SecretHasher } from '../keys/secret-hasher.ts';
import { CredentialRepository } from '../persistence/repositories/credential-repository.ts';
import { OrganizationRepository } from '../persistence/repositories/organization-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Credential, Database, Organization, ServiceAccount } from '../persistence/schema.ts';
import { recordAudit } from './admin-actor.ts';
import type { ServiceAccountView } from './admin-views.ts';
import { provisionOrganizationBasics } from './bootstrap-service.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import { insertCredential, prepareSecret } from './credential-service.ts';
import { actorFor, lockChangeableOrganization, type PlatformOperator } from './platform-service.ts';
import { describeAccounts } from './service-account-service.ts';
import { type TokenSubject, TokenSubjectService } from './token-subject-service.ts';

/** An access token for a subject, as an OAuth token response describes it (see oauth/platform-tokens.ts). */
export interface IssuedAccessToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  jti: string;
  audience: string;
  expires_at: string;
}

/** Issues tokens for a subject without a client authentication (oauth/platform-tokens.ts). */
export interface AccessTokenIssuer {
  issue(
    subject: TokenSubject,
    request: { resource?: string | undefined; scope?: string | undefined },
  ): Promise<IssuedAccessToken>;
}

/** The name of the built-in account's credential, as admins see it in its credential list. */
export const BUILT_IN_CREDENTIAL_NAME = 'Managed by the product (platform API)';

/**
 * Each organization's built-in account, run by the product (seed 003: the account the product uses
 * behind the scenes). The product obtains its access tokens here, with its operator credential: no
 * secret exists for it anywhere. Its credential is made on first use, with a random secret that is
 * hashed and dropped, so the credential can never authenticate at /token; it exists so that its tokens
 * are like any other (client_id, revocation, introspection, the feed). The organization's admins choose
 * its roles, and so its permissions and status; nothing else of it.
 */
export class PlatformBuiltInAccountService {
  readonly #db: Kysely<Database>;
  readonly #hasher: SecretHasher;
  readonly #changes: ChangePublisher;
  readonly #tokens: AccessTokenIssuer;
  readonly #subjects: TokenSubjectService;
  constructor(
    db: Kysely<Database>,
    hasher: SecretHasher,
    changes: ChangePublisher,
    tokens: AccessTokenIssuer,
    /** The permission catalog tokens follow (as /token's subjects do). */
    catalog?: { readonly known: ReadonlySet<string> },
  ) {
    this.#db = db;
    this.#hasher = hasher;
    this.#changes = changes;
    this.#tokens = tokens;
    this.#subjects = new TokenSubjectService(db, catalog);
  }

  /** The built-in account as its admins see it (roles, permissions, derived status). A read is a use. */
  async get(operator: PlatformOperator, orgId: string): Promise<ServiceAccountView> {
    const organization = await new OrganizationRepository(this.#db).findById(orgId);
    if (!organization) throw new NotFoundError('organization', orgId);
    const account = await new ServiceAccountRepository(this.#db).findProtected(orgId);
    if (!account) throw new NotFoundError('built-in service account of organization', orgId);
    await recordAudit(this.#db, actorFor(operator, orgId), {
      action: 'built_in_account.read',
      targetType: 'service_account',
      targetId: account.id,
    });
    return (await describeAccounts(this.#db, orgId, [account]))[0]!;
  }

  /**
   * An access token for the built-in account, as /token would issue its credential one: refused (409
   * token_refused, saying why) while the account has no roles, the organization is suspended, or (for
   * product tokens) its API is not entitled or switched off. Every issue is audited.
   */
  async issueToken(
    operator: PlatformOperator,
    orgId: string,
    request: { resource?: string | undefined; scope?: string | undefined },
  ): Promise<IssuedAccessToken & { service_account_id: string }> {
    const credential = await this.#credential(operator, orgId);
    const subject = await this.#subjects.findByClientId(credential.client_id);
    // Revoked between the two reads (a concurrent revoke-tokens): as if it had never been.
    if (!subject) throw new NotFoundError('built-in account credential', credential.id);
    const issued = await this.#tokens.issue(subject, request);
    await recordAudit(this.#db, actorFor(operator, orgId), {
      action: 'built_in_account.token_issued',
      targetType: 'credential',
      targetId: credential.id,
      diff: {
        after: {
          jti: issued.jti,
          audience: issued.audience,
          scope: issued.scope,
          expires_at: issued.expires_at,
        },
      },
    });
    return { ...issued, service_account_id: subject.account.id };
  }

  /**
   * Revokes the built-in account's credential: every token issued for it is refused at once (the feed
   * carries the credential), and the next token comes from a new credential.
   */
  revokeTokens(
    operator: PlatformOperator,
    orgId: string,
  ): Promise<{ service_account_id: string; revoked_credentials: number }> {
    return transactionWithChanges(this.#db, this.#changes, async (trx, changed) => {
      const organization = await lockChangeableOrganization(trx, orgId);
      const account = await builtInAccountOf(trx, organization, { lock: true });
      const revoked = await new CredentialRepository(trx).revokeAllOfAccount(
        account.id,
        new Date(),
        'revoked by the platform operator: every token of the built-in account',
      );
      await recordAudit(trx, actorFor(operator, orgId), {
        action: 'built_in_account.tokens_revoked',
        targetType: 'service_account',
        targetId: account.id,
        diff: { revoked_credential_ids: revoked.map((c) => c.id) },
      });
      for (const credential of revoked) {
        changed({
          type: 'credential',
          orgId,
          accountId: account.id,
          credentialId: credential.id,
          clientId: credential.client_id,
          revoked: true,
        });
      }
      return { service_account_id: account.id, revoked_credentials: revoked.length };
    });
  }

  /** The built-in account's credential, made on first use (one at a time: the account row is locked). */
  async #credential(operator: PlatformOperator, orgId: string): Promise<Credential> {
    const existing = await this.#db.transaction().execute(async (trx) => {
      const organization = await lockChangeableOrganization(trx, orgId);
      const account = await builtInAccountOf(trx, organization);
      return {
        account,
        credential: await new CredentialRepository(trx).findFirstUnrevokedOfAccount(orgId, account.id),
      };
    });
    if (existing.credential) return existing.credential;
    // Hashed outside the transaction (bcrypt is slow); the secret itself is dropped here.
    const prepared = { ...(await prepareSecret(this.#hasher, 'oauth_client')), secret: null };
    return this.#db.transaction().execute(async (trx) => {
      const organization = await lockChangeableOrganization(trx, orgId);
      const account = await builtInAccountOf(trx, organization, { lock: true });
      const credentials = new CredentialRepository(trx);
      const raced = await credentials.findFirstUnrevokedOfAccount(orgId, account.id);
      if (raced) return raced;
      const { credential } = await insertCredential(
        trx,
        { orgId, accountId: account.id, type: 'oauth_client', name: BUILT_IN_CREDENTIAL_NAME },
        prepared,
      );
      await recordAudit(trx, actorFor(operator, orgId), {
        action: 'built_in_account.credential_created',
        targetType: 'credential',
        targetId: credential.id,
        diff: { after: { service_account_id: account.id, client_id: credential.client_id } },
      });
      return credential;
    });
  }
}

/** The organization's built-in account; put back first if it were ever missing. */
async function builtInAccountOf(
  trx: Kysely<Database>,
  organization: Organization,
  options: { lock?: boolean } = {},
): Promise<ServiceAccount> {
  const accounts = new ServiceAccountRepository(trx);
  let account = await accounts.findProtected(organization.id);
  if (!account) {
    await provisionOrganizationBasics(trx, organization);
    account = (await accounts.findProtected(organization.id))!;
  }
  return options.lock ? (await accounts.lockById(organization.id, account.id))! : account;
}
