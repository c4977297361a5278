import type { Kysely } from 'kysely';
import { z } from 'zod';
import { type Assignments, checkAssignments } from '../domain/assignments.ts';
import { assertCredentialTypeAllowed } from '../domain/credential-lifecycle.ts';
import { isGuessableLegacyKey, isLegacyKeyShape } from '../domain/credential-format.ts';
import { DomainError, isDomainError } from '../domain/errors.ts';
import {
  isMultiLineText,
  isSingleLineText,
  MULTI_LINE_TEXT_MESSAGE,
  SINGLE_LINE_TEXT_MESSAGE,
} from '../domain/text.ts';
import {
  assertNoEscalatingGrants,
  assertRolesOnGrantableList,
  grantsBeyondAuthority,
} from '../domain/escalation.ts';
import { checkCredentialExpiry } from '../domain/rotation.ts';
import { isUniqueViolation } from '../persistence/errors.ts';
import { LocationRepository } from '../persistence/repositories/location-repository.ts';
import { OrganizationRepository } from '../persistence/repositories/organization-repository.ts';
import { RoleRepository } from '../persistence/repositories/role-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { Database, Organization, Role } from '../persistence/schema.ts';
import {
  actorSnapshot,
  type AdminActor,
  createdByColumns,
  loadAuthority,
  recordAudit,
} from './admin-actor.ts';
import { insertCredential, prepareSecret } from './credential-service.ts';
import { type LegacyKeyMatch, LegacyKeyLookup } from './legacy-key-lookup.ts';
import type { SecretHasher } from '../keys/secret-hasher.ts';
import { Semaphore } from './semaphore.ts';
import { describeAccounts, resolveWith, toStored } from './service-account-service.ts';

const notBlank = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/\S/, 'must not be blank')
    .refine(isSingleLineText, SINGLE_LINE_TEXT_MESSAGE);

/**
 * A role of a legacy key that applied only at some of its locations (seed 002's role x location
 * matrix): the role and the locations, each by id or by name.
 */
export const legacyRoleAssignmentSchema = z
  .strictObject({
    role_id: z.uuid().optional(),
    role_name: notBlank(200).optional(),
    location_ids: z.array(z.uuid()).min(1).max(1000).optional(),
    location_names: z.array(notBlank(200)).min(1).max(1000).optional(),
  })
  .superRefine((value, ctx) => {
    if ((value.role_id === undefined) === (value.role_name === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'name the role with exactly one of role_id, role_name',
      });
    }
    if (value.location_ids === undefined && value.location_names === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message:
          'give the locations where the role applies (location_ids or location_names); a role applying everywhere goes in role_ids or role_names',
      });
    }
  })
  .describe("a role that applied only at some of the key's locations (role x location matrix)");

/**
 * One key of the legacy system, as exported from it: the key string itself (kept working unchanged),
 * the name, and where and with which roles it acted. Locations and roles may be named by id or name;
 * `role_ids` / `role_names` apply at all of the key's locations, `roles` at the locations each names.
 */
export const legacyKeyRowSchema = z
  .strictObject({
    key: z.string().min(1).max(512).describe('the existing key string, accepted unchanged afterwards'),
    name: notBlank(200),
    description: z.string().max(2000).refine(isMultiLineText, MULTI_LINE_TEXT_MESSAGE).optional(),
    all_locations: z.boolean().optional(),
    location_ids: z.array(z.uuid()).max(1000).optional(),
    location_names: z.array(notBlank(200)).max(1000).optional(),
    role_ids: z.array(z.uuid()).max(100).optional(),
    role_names: z.array(notBlank(200)).max(100).optional(),
    roles: z.array(legacyRoleAssignmentSchema).max(100).optional(),
  })
  .describe('one legacy API key to import as a service account with one api_key credential');

export const legacyKeyImportSchema = z.strictObject({
  keys: z.array(legacyKeyRowSchema).min(1).max(1000),
});

export type LegacyKeyRow = z.infer<typeof legacyKeyRowSchema>;

export interface LegacyKeyRowResult {
  index: number;
  name: string;
  status: 'imported' | 'already_imported' | 'failed';
  service_account_id?: string;
  credential_id?: string;
  error?: { code: string; message: string; field?: string };
}

export interface LegacyKeyImportReport {
  summary: { imported: number; already_imported: number; failed: number };
  results: LegacyKeyRowResult[];
}

/**
 * Every import in this process hashes its keys one at a time: a 1,000-row import must not take every
 * hashing thread from the credentials admins create meanwhile (in the server), nor libuv's thread pool
 * (4 threads) from the rest of the process (in the CLI).
 */
const importHashing = new Semaphore(1);

/** How LegacyKeyImportService finds legacy keys: the server's shared lookup, or the secrets (CLI). */
export type LegacyKeyLookupSource =
  { lookup: LegacyKeyLookup } | { legacyKeyIdSecrets: readonly Uint8Array[] };

type CheckedRow =
  | { kind: 'done'; result: Pick<LegacyKeyRowResult, 'status' | 'service_account_id' | 'credential_id'> }
  | { kind: 'take'; organization: Organization; assignments: Assignments; roles: Role[] };

/**
 * Seed 000's migration: every legacy key becomes a service account with the same name, locations and
 * roles, holding one api_key credential that accepts the old key string. Each row is checked whole
 * before its key is hashed (a row the import cannot take costs no bcrypt), then written in its own
 * transaction, which checks it again: a row that cannot be imported writes nothing and is reported;
 * running the import again reports the rows already done.
 */
export class LegacyKeyImportService {
  readonly #db: Kysely<Database>;
  readonly #hasher: SecretHasher;
  readonly #lookup: LegacyKeyLookup;
  constructor(db: Kysely<Database>, hasher: SecretHasher, source: LegacyKeyLookupSource) {
    this.#db = db;
    this.#hasher = hasher;
    this.#lookup = 'lookup' in source ? source.lookup : new LegacyKeyLookup(db, source.legacyKeyIdSecrets);
  }

  async import(actor: AdminActor, rows: readonly LegacyKeyRow[]): Promise<LegacyKeyImportReport> {
    const results: LegacyKeyRowResult[] = [];
    for (const [index, row] of rows.entries()) {
      results.push(await this.#importRow(actor, index, row));
    }
    const count = (status: LegacyKeyRowResult['status']) => results.filter((r) => r.status === status).length;
    return {
      summary: {
        imported: count('imported'),
        already_imported: count('already_imported'),
        failed: count('failed'),
      },
      results,
    };
  }

  async #importRow(actor: AdminActor, index: number, row: LegacyKeyRow): Promise<LegacyKeyRowResult> {
    const base = { index, name: row.name };
    try {
      const checked = await this.#check(this.#db, actor, row);
      if (checked.kind === 'done') return { ...base, ...checked.result };
      const prepared = await importHashing.run(() =>
        prepareSecret(this.#hasher, 'api_key', { key: row.key, lookup: this.#lookup.currentLookup(row.key) }),
      );
      return await this.#db.transaction().execute(async (trx) => {
        // Checked again: another import or admin may have changed something while the key was hashed.
        const again = await this.#check(trx, actor, row);
        if (again.kind === 'done') return { ...base, ...again.result };
        const { organization, assignments } = again;
        const accounts = new ServiceAccountRepository(trx);
        const account = await accounts.create(actor.orgId, {
          name: row.name,
          description: row.description ?? 'Imported legacy API key',
          all_locations: assignments.allLocations,
          ...createdByColumns(actor),
        });
        await accounts.replaceAssignments(actor.orgId, account.id, toStored(assignments));
        const { credential } = await insertCredential(
          trx,
          {
            orgId: actor.orgId,
            accountId: account.id,
            type: 'api_key',
            name: `${row.name} (legacy key)`,
            expiresAt: checkCredentialExpiry({
              now: new Date(),
              requestedExpiresAt: null,
              maxLifetimeSeconds: organization.max_credential_lifetime_seconds,
            }),
            createdBy:
              actor.kind === 'admin'
                ? {
                    accountId: actor.accountId,
                    credentialId: actor.credentialId,
                    actor: actorSnapshot(actor),
                  }
                : { accountId: null, credentialId: null, actor: actorSnapshot(actor) },
          },
          prepared,
        );
        const [view] = await describeAccounts(trx, actor.orgId, [
          (await accounts.findById(actor.orgId, account.id))!,
        ]);
        await recordAudit(trx, actor, {
          action: 'legacy_key.imported',
          targetType: 'service_account',
          targetId: account.id,
          diff: {
            after: {
              service_account: view,
              credential_id: credential.id,
              client_id: credential.client_id,
              display_hint: credential.display_hint,
            },
          },
        });
        return {
          ...base,
          status: 'imported' as const,
          service_account_id: account.id,
          credential_id: credential.id,
        };
      });
    } catch (error) {
      if (isUniqueViolation(error, 'credentials_legacy_lookup')) {
        // Imported concurrently: here (then it is done), or elsewhere (answered like any key not taken).
        const match = await this.#lookup.find(row.key);
        if (match?.orgId === actor.orgId) return { ...base, ...alreadyImported(match) };
        return failed(base, keyNotImportable());
      }
      if (isUniqueViolation(error, 'service_accounts_live_name')) return failed(base, nameTaken(row.name));
      if (isDomainError(error)) return failed(base, error);
      throw error;
    }
  }

  /**
   * Everything that decides whether a row can be imported, without hashing anything. The key is
   * judged last, and a key registered in another organization gets the same answer as one too easy
   * to guess, after every other check: the answer for a row never depends on whether some other
   * organization holds its key (a key registered here is simply reported as already imported).
   */
  async #check(db: Kysely<Database>, actor: AdminActor, row: LegacyKeyRow): Promise<CheckedRow> {
    if (!isLegacyKeyShape(row.key)) {
      throw new DomainError(
        'invalid_legacy_key',
        'key must be 16 to 512 printable ASCII characters and must not start with svcak_, svcc_ or svcs_',
        { field: 'key' },
      );
    }
    const match = await this.#lookup.find(row.key, db);
    if (match?.orgId === actor.orgId) return { kind: 'done', result: alreadyImported(match) };
    const organization = (await new OrganizationRepository(db).findById(actor.orgId))!;
    assertCredentialTypeAllowed('api_key', organization.allowed_credential_types);
    const { locationIds, roles, assigned } = await resolveRow(db, actor.orgId, row);
    const assignments = checkAssignments({
      allLocations: row.all_locations ?? false,
      locationIds,
      roles: assigned,
    });
    const authority = await loadAuthority(db, actor);
    if (authority) {
      assertRolesOnGrantableList(authority, new Set(), roles, 'this key');
      assertNoEscalatingGrants(
        grantsBeyondAuthority(authority, {}, resolveWith(assignments, roles)),
        'this key',
      );
    }
    if (await new ServiceAccountRepository(db).findLiveByName(actor.orgId, row.name))
      throw nameTaken(row.name);
    if (match || isGuessableLegacyKey(row.key)) throw keyNotImportable();
    return { kind: 'take', organization, assignments, roles };
  }
}

function alreadyImported(match: LegacyKeyMatch) {
  return {
    status: 'already_imported' as const,
    service_account_id: match.serviceAccountId,
    credential_id: match.credentialId,
  };
}

/** One answer for every key the import will not take, whatever the reason. */
function keyNotImportable(): DomainError {
  return new DomainError(
    'key_not_importable',
    'this key cannot be imported (a legacy key must be unique and hard to guess); issue a new svcauth API key for this integration instead',
    { field: 'key' },
  );
}

/**
 * Turns the row's ids and names into live locations and roles; every unknown one is named at once.
 * `assigned` lists the matrix rows (`roles`, in their order, so a refusal's `roles[i]` names the
 * row's entry) before the roles that apply everywhere.
 */
async function resolveRow(db: Kysely<Database>, orgId: string, row: LegacyKeyRow) {
  const locationRepo = new LocationRepository(db);
  const roleRepo = new RoleRepository(db);
  const matrix = row.roles ?? [];
  const locationNames = [...(row.location_names ?? []), ...matrix.flatMap((r) => r.location_names ?? [])];
  const locationIds = [...(row.location_ids ?? []), ...matrix.flatMap((r) => r.location_ids ?? [])];
  const roleNames = [...(row.role_names ?? []), ...matrix.flatMap((r) => (r.role_name ? [r.role_name] : []))];
  const roleIds = [...(row.role_ids ?? []), ...matrix.flatMap((r) => (r.role_id ? [r.role_id] : []))];
  const [locationsById, locationsByName, rolesById, rolesByName] = await Promise.all([
    locationRepo.findLiveByIds(orgId, locationIds),
    locationRepo.findLiveByNames(orgId, locationNames),
    roleRepo.findLiveByIds(orgId, roleIds),
    roleRepo.findLiveByNames(orgId, roleNames),
  ]);
  const unknown = [
    ...new Set([
      ...missing(locationIds, locationsById, (l) => l.id, 'location'),
      ...missing(locationNames, locationsByName, (l) => l.name.toLowerCase(), 'location', true),
      ...missing(roleIds, rolesById, (r) => r.id, 'role'),
      ...missing(roleNames, rolesByName, (r) => r.name.toLowerCase(), 'role', true),
    ]),
  ];
  if (unknown.length > 0) {
    throw new DomainError('unknown_reference', `this organization has no ${unknown.join(', ')}`);
  }
  const roles = [...new Map([...rolesById, ...rolesByName].map((r) => [r.id, r])).values()];
  const notAssignable = roles.filter((r) => !r.assignable_to_service_accounts);
  if (notAssignable.length > 0) {
    throw new DomainError(
      'role_not_assignable',
      `role ${notAssignable.map((r) => `"${r.name}"`).join(', ')} is marked not assignable to service accounts`,
    );
  }
  const roleIdOf = (ref: { role_id?: string | undefined; role_name?: string | undefined }) =>
    ref.role_id ?? rolesByName.find((r) => r.name.toLowerCase() === ref.role_name!.toLowerCase())!.id;
  const locationIdsOf = (ref: {
    location_ids?: string[] | undefined;
    location_names?: string[] | undefined;
  }) => [
    ...(ref.location_ids ?? []),
    ...(ref.location_names ?? []).map(
      (name) => locationsByName.find((l) => l.name.toLowerCase() === name.toLowerCase())!.id,
    ),
  ];
  const everywhere = [
    ...(row.role_ids ?? []),
    ...(row.role_names ?? []).map((name) => roleIdOf({ role_name: name })),
  ];
  const assigned = [
    ...matrix.map((entry) => ({ roleId: roleIdOf(entry), locationIds: locationIdsOf(entry) })),
    ...[...new Set(everywhere)].map((roleId) => ({ roleId, locationIds: null })),
  ];
  return { locationIds: locationIdsOf(row), roles, assigned };
}

function missing<T>(
  wanted: readonly string[] | undefined,
  found: readonly T[],
  keyOf: (row: T) => string,
  kind: string,
  byName = false,
): string[] {
  const have = new Set(found.map(keyOf));
  return (wanted ?? [])
    .filter((w) => !have.has(byName ? w.toLowerCase() : w))
    .map((w) => `${kind} ${byName ? `named "${w}"` : `with id ${w}`}`);
}

function nameTaken(name: string): DomainError {
  return new DomainError('name_taken', `a service account named "${name}" already exists`, { field: 'name' });
}

function failed(base: { index: number; name: string }, error: DomainError): LegacyKeyRowResult {
  const field = typeof error.details?.field === 'string' ? error.details.field : undefined;
  return {
    ...base,
    status: 'failed',
    error: { code: error.code, message: error.message, ...(field ? { field } : {}) },
  };
}
