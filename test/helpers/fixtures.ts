import { type CryptoKey, exportJWK, generateKeyPair } from 'jose';
import type { Kysely } from 'kysely';
import type { CredentialType } from '../../src/domain/status.ts';
import { LocationRepository } from '../../src/persistence/repositories/location-repository.ts';
import {
  OrganizationRepository,
  type OrganizationSettingsUpdate,
} from '../../src/persistence/repositories/organization-repository.ts';
import { RoleRepository } from '../../src/persistence/repositories/role-repository.ts';
import { ServiceAccountRepository } from '../../src/persistence/repositories/service-account-repository.ts';
import type { Database } from '../../src/persistence/schema.ts';
import { provisionOrganization } from '../../src/services/bootstrap-service.ts';
import { insertCredential, prepareSecret } from '../../src/services/credential-service.ts';
import { SecretHasher } from '../../src/keys/secret-hasher.ts';
import { TEST_BCRYPT_COST } from './test-env.ts';
import { legacyKeyLookups } from '../../src/domain/credential-format.ts';

export interface TestCredential {
  id: string;
  clientId: string;
  /** Client secret or API key; null for private_key_jwt. */
  secret: string | null;
  /** private_key_jwt only. */
  privateKey?: CryptoKey;
  kid?: string;
}

/**
 * Seeds rows through the project's own repositories and services (real database, no shortcuts), for
 * tests that need data before the management API is in the picture.
 */
export class Fixtures {
  readonly db: Kysely<Database>;
  readonly hasher = new SecretHasher(TEST_BCRYPT_COST);
  #counter = 0;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  #unique(prefix: string): string {
    this.#counter += 1;
    return `${prefix}-${Date.now().toString(36)}-${this.#counter}`;
  }

  async organization(settings: OrganizationSettingsUpdate = {}) {
    const slug = this.#unique('org');
    const { organization } = await provisionOrganization(this.db, slug, slug);
    if (Object.keys(settings).length === 0) return organization;
    return (await new OrganizationRepository(this.db).updateSettings(organization.id, settings))!;
  }

  location(orgId: string, name = this.#unique('location')) {
    return new LocationRepository(this.db).create(orgId, name);
  }

  role(orgId: string, permissions: string[], options: { assignable?: boolean; name?: string } = {}) {
    return new RoleRepository(this.db).create(orgId, {
      name: options.name ?? this.#unique('role'),
      permissions,
      assignable_to_service_accounts: options.assignable ?? true,
    });
  }

  async account(
    orgId: string,
    options: {
      allLocations?: boolean;
      locationIds?: string[];
      roles?: Array<{ roleId: string; restrictedTo?: string[] | null }>;
      groupsAdmin?: boolean;
      name?: string;
    } = {},
  ) {
    const accounts = new ServiceAccountRepository(this.db);
    const account = await accounts.create(orgId, {
      name: options.name ?? this.#unique('account'),
      all_locations: options.allLocations ?? false,
      groups_admin: options.groupsAdmin ?? false,
    });
    await accounts.replaceAssignments(orgId, account.id, {
      locationIds: options.locationIds ?? [],
      roles: (options.roles ?? []).map((r) => ({ roleId: r.roleId, restrictedTo: r.restrictedTo ?? null })),
    });
    return (await accounts.findById(orgId, account.id))!;
  }

  async credential(
    orgId: string,
    accountId: string,
    type: CredentialType = 'oauth_client',
    options: { expiresAt?: Date | null; legacyKey?: string } = {},
  ): Promise<TestCredential> {
    let jwks: unknown;
    let privateKey: CryptoKey | undefined;
    let kid: string | undefined;
    if (type === 'private_key_jwt') {
      const pair = await generateKeyPair('ES256', { extractable: true });
      privateKey = pair.privateKey;
      kid = this.#unique('kid');
      jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' }] };
    }
    // A legacy key is stored as migration 0004 left keys imported before it (found by the unsalted
    // digest until first use), which works whatever secret the server under test holds.
    const prepared = await prepareSecret(
      this.hasher,
      type,
      options.legacyKey !== undefined
        ? { key: options.legacyKey, lookup: legacyKeyLookups(options.legacyKey, []).at(-1)! }
        : undefined,
    );
    const { credential, secret } = await insertCredential(
      this.db,
      {
        orgId,
        accountId,
        type,
        name: this.#unique('credential'),
        jwks,
        ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}),
      },
      prepared,
    );
    return {
      id: credential.id,
      clientId: credential.client_id,
      secret: secret ?? options.legacyKey ?? null,
      ...(privateKey ? { privateKey, kid: kid! } : {}),
    };
  }
}
