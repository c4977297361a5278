import type { Kysely } from 'kysely';
import {
  API_ADMIN_ROLE_NAME,
  BUILT_IN_ACCOUNT_NAME,
  FULL_ACCESS_ROLE_NAME,
  MANAGEMENT_PERMISSIONS,
} from '../../config/permissions.ts';
import { PermissionCatalogRepository } from '../persistence/repositories/permission-catalog-repository.ts';
import { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import { OrganizationRepository } from '../persistence/repositories/organization-repository.ts';
import { RoleRepository } from '../persistence/repositories/role-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Credential, Database, Organization, Role, ServiceAccount } from '../persistence/schema.ts';
import { insertCredential, prepareSecret } from './credential-service.ts';
import type { SecretHasher } from '../keys/secret-hasher.ts';

export const BOOTSTRAP_ADMIN_ACCOUNT_NAME = 'Bootstrap admin';

export interface BootstrapResult {
  org_id: string;
  org_slug: string;
  created_organization: boolean;
  admin_account_id: string;
  credential_id: string;
  client_id: string;
  /** Shown once; only its bcrypt hash is stored. */
  client_secret: string;
}

/**
 * Creates the organization of `slug` if absent, with what every organization starts with (see
 * provisionOrganizationBasics). Used by `svcauth bootstrap`.
 */
export async function provisionOrganization(
  db: Kysely<Database>,
  slug: string,
  name: string,
): Promise<{ organization: Organization; adminRole: Role; fullAccessRole: Role; created: boolean }> {
  const { organization, created } = await new OrganizationRepository(db).createIfAbsent(slug, name);
  return { organization, ...(await provisionOrganizationBasics(db, organization)), created };
}

/**
 * What every organization starts with, made where absent: its API Admin and full product access
 * roles, its protected built-in account. Safe to run again (recovery puts back what was lost).
 */
export async function provisionOrganizationBasics(
  db: Kysely<Database>,
  organization: Organization,
): Promise<{ adminRole: Role; fullAccessRole: Role }> {
  const roles = new RoleRepository(db);
  let adminRole = await roles.findLiveByName(organization.id, API_ADMIN_ROLE_NAME);
  if (!adminRole) {
    adminRole = await roles.create(organization.id, {
      name: API_ADMIN_ROLE_NAME,
      description: 'Manages service accounts, credentials, roles, settings and the audit trail.',
      permissions: [...MANAGEMENT_PERMISSIONS],
      is_system: true,
    });
  }
  let fullAccessRole = await roles.findLiveByName(organization.id, FULL_ACCESS_ROLE_NAME);
  if (!fullAccessRole) {
    fullAccessRole = await roles.create(organization.id, {
      name: FULL_ACCESS_ROLE_NAME,
      description: 'Every product permission, at the locations it is assigned for.',
      // The catalog as it is now; the role follows every later change (permission-catalog.ts).
      permissions: await new PermissionCatalogRepository(db).names(),
      is_system: true,
    });
  }
  const accounts = new ServiceAccountRepository(db);
  if (!(await accounts.findProtected(organization.id))) {
    await accounts.create(organization.id, {
      name: BUILT_IN_ACCOUNT_NAME,
      description:
        'Built into every organization and run by the product, which obtains its tokens; its admins choose only its roles.',
      is_protected: true,
      all_locations: true,
    });
  }
  return { adminRole, fullAccessRole };
}

/**
 * `svcauth bootstrap --org <slug>`: provisions the organization if absent, then gives its bootstrap
 * admin account (created on first run, on all locations with the API Admin and full product access
 * roles) a new oauth_client
 * credential. Running it again never duplicates the organization; it issues another credential, which
 * is how an operator who lost the admin secret regains access.
 */
export async function bootstrapOrganization(
  db: Kysely<Database>,
  hasher: SecretHasher,
  input: { slug: string; name?: string },
): Promise<BootstrapResult> {
  const prepared = await prepareSecret(hasher, 'oauth_client');
  return db.transaction().execute(async (trx) => {
    const { organization, adminRole, fullAccessRole, created } = await provisionOrganization(
      trx,
      input.slug,
      input.name ?? input.slug,
    );
    const { admin, credential, secret } = await issueAdminCredential(
      trx,
      prepared,
      { organization, adminRole, fullAccessRole },
      {
        accountName: BOOTSTRAP_ADMIN_ACCOUNT_NAME,
        description:
          'Created by svcauth bootstrap to administer this organization through the management API.',
        credentialName: `bootstrap ${new Date().toISOString()}`,
      },
    );
    await new AuditRepository(trx).record({
      orgId: organization.id,
      action: created ? 'organization.bootstrapped' : 'credential.bootstrapped',
      targetType: 'credential',
      targetId: credential.id,
      diff: {
        after: { service_account_id: admin.id, client_id: credential.client_id, type: 'oauth_client' },
      },
    });
    return {
      org_id: organization.id,
      org_slug: organization.slug,
      created_organization: created,
      admin_account_id: admin.id,
      credential_id: credential.id,
      client_id: credential.client_id,
      client_secret: secret,
    };
  });
}

/**
 * Gives the organization's admin account named `accountName` (made on first use, on all locations with
 * the API Admin and full product access roles, so it can delegate both) a new oauth_client credential.
 * Shared by `svcauth bootstrap` and the platform API's admin provisioning; call inside a transaction.
 */
export async function issueAdminCredential(
  trx: Kysely<Database>,
  prepared: Awaited<ReturnType<typeof prepareSecret>>,
  provisioned: { organization: Organization; adminRole: Role; fullAccessRole: Role },
  names: { accountName: string; description: string; credentialName: string },
): Promise<{ admin: ServiceAccount; createdAccount: boolean; credential: Credential; secret: string }> {
  const { organization, adminRole, fullAccessRole } = provisioned;
  const accounts = new ServiceAccountRepository(trx);
  let admin = await accounts.findLiveByName(organization.id, names.accountName);
  const createdAccount = !admin;
  if (!admin) {
    admin = await accounts.create(organization.id, {
      name: names.accountName,
      description: names.description,
      all_locations: true,
    });
    await accounts.replaceAssignments(organization.id, admin.id, {
      locationIds: [],
      // Management permissions, plus every product permission so the first admin can delegate them.
      roles: [
        { roleId: adminRole.id, restrictedTo: null },
        { roleId: fullAccessRole.id, restrictedTo: null },
      ],
    });
  }
  const { credential, secret } = await insertCredential(
    trx,
    { orgId: organization.id, accountId: admin.id, type: 'oauth_client', name: names.credentialName },
    prepared,
  );
  return { admin, createdAccount, credential, secret: secret! };
}
