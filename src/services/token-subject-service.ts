import type { Kysely } from 'kysely';
import { isPlausibleClientId } from '../domain/credential-format.ts';
import {
  keyedForTokens,
  permissionNames,
  type ResolvedPermissions,
  resolvePermissions,
} from '../domain/permissions.ts';
import { oldestLiveSecretVersion, type SecretVersionFacts } from '../domain/secret-versions.ts';
import {
  type CurrentSubject,
  goneReason,
  type TokenAudienceKind,
  type TokenEligibility,
  type TokenEligibilityFacts,
  tokenEligibility,
} from '../domain/token-eligibility.ts';
import {
  CredentialRepository,
  type CredentialWithGrants,
} from '../persistence/repositories/credential-repository.ts';
import type { Credential, Database, Organization, ServiceAccount } from '../persistence/schema.ts';

/**
 * Who a credential acts for at this moment. `refusal` is set when the credential authenticates but
 * may not obtain tokens; it is only ever revealed to a caller that proved the secret.
 */
export interface TokenSubject {
  credential: Credential;
  account: ServiceAccount;
  organization: Organization;
  /** Keyed as tokens carry them: the product's location id where there is one (keyedForTokens). */
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

/** The subject as issuedTokenRefusal judges a token of one audience against it (null: gone or unknown). */
export function currentSubjectFor(
  subject: TokenSubject | null,
  audience: TokenAudienceKind,
  now: Date = new Date(),
): CurrentSubject | null {
  if (!subject) return null;
  return {
    orgId: subject.organization.id,
    accountId: subject.account.id,
    permissionsVersion: subject.account.permissions_version,
    oldestSecretVersion: oldestLiveSecretVersion(secretVersionFacts(subject.credential), now),
    refusal: audience === 'management' ? subject.adminRefusal : subject.refusal,
  };
}

/** A credential row's secret versions, as the domain rules read them. */
export function secretVersionFacts(credential: Credential): SecretVersionFacts {
  return {
    secretVersion: credential.secret_version,
    previousSecretExpiresAt: credential.previous_secret_expires_at,
  };
}

export class TokenSubjectService {
  readonly #db: Kysely<Database>;
  readonly #catalog: { readonly known: ReadonlySet<string> } | undefined;
  /** `catalog`: the permission catalog tokens follow (a name it does not know is never carried). */
  constructor(db: Kysely<Database>, catalog?: { readonly known: ReadonlySet<string> }) {
    this.#db = db;
    this.#catalog = catalog;
  }

  /**
   * The subject of a client id, or null when nothing can authenticate with it: unknown, revoked or
   * expired credential, archived account. Those cases are indistinguishable to the caller.
   */
  async findByClientId(clientId: string, now: Date = new Date()): Promise<TokenSubject | null> {
    return (await this.findByClientIds([clientId], now)).get(clientId) ?? null;
  }

  /**
   * The subjects of several client ids in one database statement, by client id; a client id that
   * names nothing that can authenticate (as findByClientId's null) is absent.
   */
  async findByClientIds(
    clientIds: readonly string[],
    now: Date = new Date(),
  ): Promise<Map<string, TokenSubject>> {
    // A value no credential could have as its id (a NUL, a control character, megabytes) names
    // nothing; asking the database would only turn it into a query error, seen as an outage.
    const plausible = [...new Set(clientIds)].filter(isPlausibleClientId);
    const subjects = new Map<string, TokenSubject>();
    if (plausible.length === 0) return subjects;
    for (const found of await new CredentialRepository(this.#db).findWithGrantsByClientIds(plausible)) {
      const subject = this.#subjectOf(found, now);
      if (subject) subjects.set(found.credential.client_id, subject);
    }
    return subjects;
  }

  #subjectOf(
    { credential, account, organization, grants }: CredentialWithGrants,
    now: Date,
  ): TokenSubject | null {
    const owned = {
      credential: {
        type: credential.type,
        revokedAt: credential.revoked_at,
        expiresAt: credential.expires_at,
      },
      account: { archivedAt: account.archived_at },
    };
    if (goneReason(owned, now)) return null;
    const facts: TokenEligibilityFacts = {
      credential: owned.credential,
      account: { ...owned.account, isProtected: account.is_protected, roleCount: grants.roleCount },
      organization: {
        apiEnabled: organization.api_enabled,
        apiEntitled: organization.api_entitled,
        allowedCredentialTypes: organization.allowed_credential_types,
        status: organization.status,
      },
    };
    // Tokens speak the product's location ids where it gave them (README: "How ids look").
    const permissions = keyedForTokens(
      resolvePermissions(grants, this.#catalog?.known),
      grants.productLocationIds,
    );
    return {
      credential,
      account,
      organization,
      permissions,
      scopes: permissionNames(permissions),
      refusal: refusalOf(tokenEligibility(facts, 'product', now)),
      adminRefusal: refusalOf(tokenEligibility(facts, 'management', now)),
    };
  }
}

function refusalOf(eligibility: TokenEligibility): string | null {
  return eligibility.allowed ? null : eligibility.reason;
}
