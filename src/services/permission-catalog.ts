import type { Kysely } from 'kysely';
import { MANAGEMENT_PERMISSION_DESCRIPTIONS, MANAGEMENT_PERMISSIONS } from '../../config/permissions.ts';
import { DomainError, NotFoundError } from '../domain/errors.ts';
import {
  type CatalogEntry,
  isManagementPermission,
  MAX_PRODUCT_PERMISSIONS,
  permissionNameProblem,
} from '../domain/permission-catalog.ts';
import { AuditRepository } from '../persistence/repositories/audit-repository.ts';
import {
  PermissionCatalogRepository,
  type RoleHoldingPermission,
} from '../persistence/repositories/permission-catalog-repository.ts';
import { ServiceAccountRepository } from '../persistence/repositories/service-account-repository.ts';
import type { CatalogPermission, Database } from '../persistence/schema.ts';
import type { ChangeEvent, ChangeNotifier } from '../state/change-notifier.ts';
import { recordAudit } from './admin-actor.ts';
import { type ChangePublisher, transactionWithChanges } from './committed-changes.ts';
import { staleAccountEvent } from './location-changes.ts';
import { actorFor, type PlatformOperator, recordPlatformEvent } from './platform-service.ts';

/** One product permission as the APIs show it. */
export interface PermissionView {
  name: string;
  description: string;
  kind: 'product' | 'management';
  created_at: string | null;
  updated_at: string | null;
}

export interface CatalogListView {
  /** Who changes the product catalog: the platform API, or PERMISSIONS_FILE (the API then only reads). */
  managed_by: 'api' | 'file';
  items: PermissionView[];
}

/** What removing a permission did. */
export interface PermissionRemoval {
  name: string;
  /** Roles it was taken from (the built-in full product access roles included), by organization. */
  organizations: Array<{
    organization_id: string;
    role_ids: string[];
    affected_service_account_ids: string[];
  }>;
  affected_service_account_count: number;
}

/** How many holding roles a refusal lists; the counts are always whole. */
const LISTED_ROLES = 100;

/** The catalog every instance holds in memory, read on every token request and role edit. */
interface Snapshot {
  product: readonly CatalogPermission[];
  productNames: readonly string[];
  product_set: ReadonlySet<string>;
  known: ReadonlySet<string>;
}

function snapshotOf(rows: readonly CatalogPermission[]): Snapshot {
  const product = [...rows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const productNames = product.map((p) => p.name);
  return {
    product,
    productNames,
    product_set: new Set(productNames),
    known: new Set([...productNames, ...MANAGEMENT_PERMISSIONS]),
  };
}

/**
 * The product permission catalog as this instance knows it: loaded from the database at start, and
 * again whenever any instance announces a catalog change (or the change notifications may have missed
 * one). Synchronous reads, so /token and validation never wait for it. Listeners hear every new
 * snapshot (the token subject cache drops what it resolved under the previous one).
 */
export class PermissionCatalog {
  readonly #db: Kysely<Database>;
  #snapshot: Snapshot = snapshotOf([]);
  #loads = 0;
  readonly #listeners = new Set<() => void>();

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Loads the catalog, then follows the changes every instance announces. */
  async start(notifier: Pick<ChangeNotifier, 'onChange' | 'onResync'>, onError: (error: unknown) => void) {
    await this.load();
    const reload = () => void this.load().catch(onError);
    notifier.onChange((event) => {
      if (event.type === 'catalog') reload();
    });
    notifier.onResync(reload);
  }

  /** Reads the catalog; of overlapping loads, the last one started wins. */
  async load(): Promise<void> {
    const load = ++this.#loads;
    const rows = await new PermissionCatalogRepository(this.#db).list();
    if (load === this.#loads) this.#set(rows);
  }

  /** After a change committed here: this instance sees it at once, before any announcement. */
  set(rows: readonly CatalogPermission[]): void {
    this.#loads += 1;
    this.#set(rows);
  }

  #set(rows: readonly CatalogPermission[]): void {
    this.#snapshot = snapshotOf(rows);
    for (const listener of this.#listeners) listener();
  }

  onChange(listener: () => void): void {
    this.#listeners.add(listener);
  }

  /** The product permissions' names, sorted: what the product API's audience may carry. */
  get productNames(): readonly string[] {
    return this.#snapshot.productNames;
  }

  isProduct(name: string): boolean {
    return this.#snapshot.product_set.has(name);
  }

  /** Product and management permissions: every name a role may hold and a token may carry. */
  get known(): ReadonlySet<string> {
    return this.#snapshot.known;
  }

  /** Every permission a role may hold, product ones first, with descriptions (GET /admin/v1/permissions). */
  views(): PermissionView[] {
    return [
      ...this.#snapshot.product.map(productView),
      ...MANAGEMENT_PERMISSIONS.map((name) => ({
        name,
        description: MANAGEMENT_PERMISSION_DESCRIPTIONS[name],
        kind: 'management' as const,
        created_at: null,
        updated_at: null,
      })),
    ];
  }
}

function productView(row: CatalogPermission): PermissionView {
  return {
    name: row.name,
    description: row.description,
    kind: 'product',
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

const CATALOG_CHANGED: ChangeEvent = { type: 'catalog' };

/**
 * The platform API's use cases over the catalog, and PERMISSIONS_FILE applied at start. Every change
 * is one transaction (serialized by a table lock), announced to every instance after it commits.
 */
export class PermissionCatalogService {
  readonly #db: Kysely<Database>;
  readonly #changes: ChangePublisher;
  readonly #catalog: PermissionCatalog;
  readonly #managedByFile: boolean;

  constructor(
    db: Kysely<Database>,
    changes: ChangePublisher,
    catalog: PermissionCatalog,
    options: { managedByFile: boolean },
  ) {
    this.#db = db;
    this.#changes = changes;
    this.#catalog = catalog;
    this.#managedByFile = options.managedByFile;
  }

  async list(operator: PlatformOperator): Promise<CatalogListView> {
    const rows = await new PermissionCatalogRepository(this.#db).list();
    await recordPlatformEvent(this.#db, operator, 'permissions.listed', {});
    return { managed_by: this.#managedByFile ? 'file' : 'api', items: rows.map(productView) };
  }

  /**
   * Adds a product permission, or changes its description. A new one is at once part of every
   * organization's full product access role, so admins holding that role can grant it.
   */
  async put(
    operator: PlatformOperator,
    name: string,
    description: string,
  ): Promise<{ created: boolean; permission: PermissionView }> {
    this.#refuseWhenFileManaged();
    const problem = permissionNameProblem(name);
    if (problem) {
      throw new DomainError(
        isManagementPermission(name) ? 'management_permission' : 'unknown_permission',
        problem,
        { field: 'name' },
      );
    }
    return this.#change(async (trx, changed) => {
      const catalog = new PermissionCatalogRepository(trx);
      const before = await catalog.find(name);
      if (before && before.description === description)
        return { created: false, permission: productView(before) };
      if (!before && (await catalog.names()).length >= MAX_PRODUCT_PERMISSIONS) {
        throw new DomainError(
          'invalid_settings',
          `the catalog holds ${MAX_PRODUCT_PERMISSIONS} product permissions, the most supported; remove one first`,
          { field: 'name' },
        );
      }
      const row = before
        ? await catalog.updateDescription(name, description)
        : await catalog.insert(name, description);
      if (!before) await catalog.addToFullAccessRoles(name);
      await recordPlatformEvent(trx, operator, before ? 'permission.updated' : 'permission.added', {
        target: name,
        ...(before ? { before: { description: before.description } } : {}),
        after: { description },
      });
      changed(CATALOG_CHANGED);
      return { created: !before, permission: productView(row) };
    });
  }

  /**
   * Removes a product permission. While roles (other than the built-in full product access roles)
   * hold it, refused with the list of them, unless `strip`: then it is taken from every role, and the
   * accounts holding those roles get a new permissions version (their tokens are refused at once: the
   * revocation feed, /introspect), audited in each organization concerned.
   */
  async remove(operator: PlatformOperator, name: string, strip: boolean): Promise<PermissionRemoval> {
    this.#refuseWhenFileManaged();
    return this.#change((trx, changed) => removePermission(trx, changed, name, strip, { operator }));
  }

  /**
   * Makes the database's catalog exactly PERMISSIONS_FILE's, at start (every instance does; the table
   * lock makes the first do the work and the others find nothing to do). A permission the file drops
   * while roles hold it stops the start, naming it: take it from those roles first.
   */
  async applyFile(file: { path: string; permissions: readonly CatalogEntry[] }): Promise<string[]> {
    return this.#change(async (trx, changed) => {
      const catalog = new PermissionCatalogRepository(trx);
      const current = new Map((await catalog.list()).map((row) => [row.name, row]));
      const wanted = new Map(file.permissions.map((p) => [p.name, p.description]));
      const done: string[] = [];
      for (const name of current.keys()) {
        if (wanted.has(name)) continue;
        await removePermission(trx, changed, name, false, { file: file.path });
        done.push(`removed ${name}`);
      }
      for (const [name, description] of wanted) {
        const row = current.get(name);
        if (row && row.description === description) continue;
        if (row) await catalog.updateDescription(name, description);
        else {
          await catalog.insert(name, description);
          await catalog.addToFullAccessRoles(name);
        }
        await new AuditRepository(trx).record({
          orgId: null,
          action: row ? 'permission.updated' : 'permission.added',
          diff: {
            target: name,
            ...(row ? { before: { description: row.description } } : {}),
            after: { description },
            via: 'permissions_file',
          },
        });
        done.push(`${row ? 'updated' : 'added'} ${name}`);
      }
      if (done.length > 0) changed(CATALOG_CHANGED);
      return done;
    });
  }

  #refuseWhenFileManaged(): void {
    if (!this.#managedByFile) return;
    throw new DomainError(
      'catalog_managed_by_file',
      'the permission catalog is declared by PERMISSIONS_FILE on this deployment: change the file and restart (the API only reads it)',
    );
  }

  /** One serialized change; this instance's catalog is reloaded before the change is announced. */
  async #change<T>(
    work: (trx: Kysely<Database>, changed: (event: ChangeEvent) => void) => Promise<T>,
  ): Promise<T> {
    const result = await transactionWithChanges(
      this.#db,
      {
        publish: async (event) => {
          if (event.type === 'catalog')
            this.#catalog.set(await new PermissionCatalogRepository(this.#db).list());
          await this.#changes.publish(event);
        },
      },
      async (trx, changed) => {
        await new PermissionCatalogRepository(trx).lock();
        return work(trx, changed);
      },
    );
    return result;
  }
}

/** Removal, shared by the platform API and PERMISSIONS_FILE. Call inside the catalog's transaction. */
async function removePermission(
  trx: Kysely<Database>,
  changed: (event: ChangeEvent) => void,
  name: string,
  strip: boolean,
  by: { operator: PlatformOperator } | { file: string },
): Promise<PermissionRemoval> {
  if (isManagementPermission(name)) {
    throw new DomainError(
      'management_permission',
      `"${name}" is a management permission, fixed by svcauth; only product permissions can be removed`,
      { field: 'name' },
    );
  }
  const catalog = new PermissionCatalogRepository(trx);
  if (!(await catalog.find(name))) throw new PermissionNotFoundError(name);
  const holding = await catalog.rolesHolding(name);
  if (holding.length > 0 && !strip) throw permissionInUse(name, holding, 'file' in by ? by.file : null);
  const stripped = await catalog.stripFromRoles(name);
  await catalog.delete(name);
  const accounts = new ServiceAccountRepository(trx);
  const byOrg = new Map<string, RoleHoldingPermission[]>();
  for (const role of stripped) byOrg.set(role.org_id, [...(byOrg.get(role.org_id) ?? []), role]);
  const removal: PermissionRemoval = { name, organizations: [], affected_service_account_count: 0 };
  for (const [orgId, roles] of byOrg) {
    const stale = new Map<string, number>();
    for (const role of roles) {
      for (const account of await accounts.bumpPermissionsVersionOfRoleHolders(orgId, role.id)) {
        stale.set(account.id, account.permissionsVersion);
      }
    }
    const affected = [...stale.keys()].sort();
    const diff = {
      permission: name,
      stripped: strip,
      role_ids: roles.map((r) => r.id),
      affected_service_account_ids: affected,
    };
    if ('operator' in by) {
      await recordAudit(trx, actorFor(by.operator, orgId), {
        action: 'permission.removed',
        targetType: 'permission',
        targetId: name,
        diff,
      });
    } else {
      await new AuditRepository(trx).record({
        orgId,
        action: 'permission.removed',
        targetType: 'permission',
        targetId: name,
        diff: { ...diff, via: 'permissions_file' },
      });
    }
    changed({ type: 'organization', orgId });
    for (const [id, permissionsVersion] of stale)
      changed(staleAccountEvent(orgId, { id, permissionsVersion }));
    removal.organizations.push({
      organization_id: orgId,
      role_ids: roles.map((r) => r.id),
      affected_service_account_ids: affected,
    });
    removal.affected_service_account_count += affected.length;
  }
  const summary = {
    target: name,
    stripped: strip,
    organization_count: byOrg.size,
    affected_service_account_count: removal.affected_service_account_count,
  };
  if ('operator' in by) await recordPlatformEvent(trx, by.operator, 'permission.removed', summary);
  else
    await new AuditRepository(trx).record({
      orgId: null,
      action: 'permission.removed',
      diff: { ...summary, via: 'permissions_file' },
    });
  changed(CATALOG_CHANGED);
  return removal;
}

export class PermissionNotFoundError extends NotFoundError {
  constructor(name: string) {
    super('permission', name);
    this.message = `the product permission catalog has no permission "${name.slice(0, 100)}"`;
  }
}

function permissionInUse(
  name: string,
  roles: readonly RoleHoldingPermission[],
  file: string | null,
): DomainError {
  const organizations = new Set(roles.map((r) => r.org_id));
  const count = roles.length;
  const fix = file
    ? `take it from those roles first (PATCH /admin/v1/roles/{id}), or keep it in ${file} for now`
    : 'take it from those roles first, or send strip=true to take it from every role (their accounts\u2019 tokens are refused at once)';
  return new DomainError(
    'permission_in_use',
    `${count} role${count === 1 ? '' : 's'} in ${organizations.size} organization${organizations.size === 1 ? '' : 's'} still hold "${name}"; ${fix}`,
    {
      permission: name,
      role_count: count,
      organization_count: organizations.size,
      roles: roles
        .slice(0, LISTED_ROLES)
        .map((r) => ({ organization_id: r.org_id, role_id: r.id, role_name: r.name })),
    },
  );
}
