/**
 * Roles: named sets of permissions, described by the permission catalog. An admin can only put into a
 * role what it holds itself; marking a role not assignable, changing or deleting it first says what
 * happens to the accounts holding it.
 */
import { html, nothing } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { all, ApiError, ok, type Role, type RoleCreate } from '../api/client.js';
import type { Connection } from '../connection.js';
import { permissionDescription } from '../permission-catalog.js';
import type { ConfirmDialog } from './confirm-dialog.js';
import './confirm-dialog.js';
import { ScreenElement } from './screen.js';

@customElement('svcauth-roles')
export class RolesPage extends ScreenElement {
  @state() accessor roles: Role[] = [];
  /** The role being edited: a role, 'new', or null (none). */
  @state() accessor editing: Role | 'new' | null = null;
  @state() accessor notice = '';
  /**
   * What the admin holds anywhere (an admin can only grant that): its own account's resolved
   * permissions. Null when its token names no readable account (the API still checks every grant).
   */
  @state() accessor held: ReadonlySet<string> | null = null;
  /** The deployment's catalog (GET /admin/v1/permissions): each permission's description. */
  @state() accessor catalog: ReadonlyMap<string, string> = new Map();
  @query('svcauth-confirm') accessor confirm!: ConfirmDialog;

  protected override async load(connection: Connection): Promise<void> {
    const [roles, own, permissions] = await Promise.all([
      all((cursor) =>
        ok(connection.api.GET('/admin/v1/roles', { params: { query: { limit: 200, cursor } } })),
      ),
      connection.api.GET('/admin/v1/service-accounts/{account_id}', {
        params: { path: { account_id: connection.accountId } },
      }),
      connection.api.GET('/admin/v1/permissions'),
    ]);
    this.roles = roles;
    this.catalog = new Map((permissions.data?.items ?? []).map((p) => [p.name, p.description]));
    this.held = own.data ? new Set(Object.values(own.data.permissions).flat()) : null;
  }

  /** What a permission lets a token do: the catalog's description, else the console's own words. */
  #describe(permission: string): string {
    return this.catalog.get(permission) || permissionDescription(permission);
  }

  /**
   * Every permission the form offers: the catalog's (those the admin does not hold shown inert), the
   * admin's own, and whatever a role already holds.
   */
  get #catalog(): string[] {
    const names = new Set([...this.catalog.keys(), ...(this.held ?? []), ...(this.connection?.held ?? [])]);
    for (const role of this.roles) for (const p of role.permissions) names.add(p);
    return [...names].sort();
  }

  async #save(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const connection = this.connection;
    const editing = this.editing;
    if (!connection || !editing) return;
    const data = new FormData(event.target as HTMLFormElement);
    const body: RoleCreate = {
      name: String(data.get('name') ?? ''),
      description: String(data.get('description') ?? ''),
      permissions: data.getAll('permissions').map(String),
      assignable_to_service_accounts: data.get('assignable') === 'on',
    };
    if (editing !== 'new') {
      const removed = editing.permissions.filter((p) => !body.permissions.includes(p));
      if (
        removed.length > 0 &&
        (await this.confirm.ask({
          title: `Change ${editing.name}?`,
          consequences: [
            `Accounts holding this role lose ${removed.join(', ')}: their current tokens are refused and new ones carry the new permissions.`,
          ],
          confirmLabel: 'Save role',
        })) === null
      ) {
        return;
      }
    }
    const saved = await this.attempt(async () => {
      if (editing === 'new') {
        await ok(connection.api.POST('/admin/v1/roles', { body }));
        return;
      }
      const patch = (removeFromHolders: boolean) =>
        ok(
          connection.api.PATCH('/admin/v1/roles/{role_id}', {
            params: {
              path: { role_id: editing.id },
              query: removeFromHolders ? { remove_from_holders: 'true' } : {},
            },
            body,
          }),
        );
      try {
        await patch(false);
      } catch (error) {
        // Marked not assignable while accounts hold it: svcauth names them; taking it away is a second,
        // explicit decision.
        if (!(error instanceof ApiError) || error.code !== 'role_in_use') throw error;
        const details = (error.problem.details ?? {}) as {
          service_account_count?: number;
          service_accounts?: Array<{ name: string }>;
        };
        const names = (details.service_accounts ?? []).map((a) => a.name);
        const count = details.service_account_count ?? names.length;
        const answer = await this.confirm.ask({
          title: `${count} service account${count === 1 ? ' holds' : 's hold'} ${editing.name}`,
          consequences: [
            `Held by: ${names.join(', ')}${count > names.length ? ` and ${count - names.length} more` : ''}.`,
            'A role not assignable to service accounts grants them nothing: taking it from them refuses their current tokens at once, and an account left with no other role becomes disabled.',
          ],
          confirmLabel: 'Take it from them and save',
        });
        if (answer === null) throw new Error(`${editing.name} was not changed: it is still assignable.`);
        await patch(true);
      }
    });
    if (saved) {
      this.notice = `Role ${body.name} saved.`;
      this.editing = null;
      await this.reload();
    }
  }

  async #delete(role: Role): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    const answer = await this.confirm.ask({
      title: `Delete ${role.name}?`,
      consequences: [
        'Service accounts holding it lose everything it grants at once: their current tokens are refused, and an account left with no other role becomes disabled.',
        'A deleted role cannot be restored.',
      ],
      confirmLabel: 'Delete role',
    });
    if (answer === null) return;
    if (
      await this.attempt(() =>
        ok(connection.api.DELETE('/admin/v1/roles/{role_id}', { params: { path: { role_id: role.id } } })),
      )
    ) {
      this.notice = `Role ${role.name} deleted.`;
      await this.reload();
    }
  }

  override render() {
    const system = 'A built-in role cannot be changed';
    return html`<section aria-labelledby="roles-title">
      <div class="spread">
        <h1 id="roles-title">Roles</h1>
        ${this.gated('roles:write', 'New role', () => (this.editing = 'new'), { kind: 'primary' })}
      </div>
      ${this.renderProblem()}
      ${this.notice ? html`<p class="notice" role="status">${this.notice}</p>` : nothing}
      ${this.editing ? this.#renderForm(this.editing) : nothing}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Role</th>
              <th scope="col">Permissions</th>
              <th scope="col">Service accounts</th>
              <th scope="col"><span class="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            ${this.roles.map(
              (r) =>
                html`<tr>
                  <td>
                    <strong>${r.name}</strong
                    >${r.is_system ? html` <span class="hint">(built-in)</span>` : nothing}
                    ${r.description ? html`<div class="hint">${r.description}</div>` : nothing}
                  </td>
                  <td>
                    <ul class="perms">
                      ${r.permissions.map(
                        (p) =>
                          html`<li>
                            <code>${p}</code>${
                              this.#describe(p)
                                ? html` <span class="hint">${this.#describe(p)}</span>`
                                : nothing
                            }
                          </li>`,
                      )}
                    </ul>
                  </td>
                  <td>${r.assignable_to_service_accounts ? 'Assignable' : 'Not assignable'}</td>
                  <td>
                    <div class="row">
                      ${this.gated('roles:write', 'Edit', () => (this.editing = r), {
                        blocked: r.is_system ? system : '',
                        name: `Edit ${r.name}`,
                      })}
                      ${this.gated('roles:write', 'Delete', () => void this.#delete(r), {
                        kind: 'danger',
                        blocked: r.is_system ? system : '',
                        name: `Delete ${r.name}`,
                      })}
                    </div>
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      <svcauth-confirm></svcauth-confirm>
    </section>`;
  }

  #renderForm(editing: Role | 'new') {
    const role = editing === 'new' ? null : editing;
    const held = this.held;
    return html`<form aria-labelledby="role-form-title" @submit=${(e: SubmitEvent) => void this.#save(e)}>
      <h2 id="role-form-title">${role ? `Edit ${role.name}` : 'New role'}</h2>
      <label for="role-name">Name</label>
      <input id="role-name" name="name" type="text" required maxlength="200" .value=${role?.name ?? ''} />
      <label for="role-description">Description</label>
      <textarea
        id="role-description"
        name="description"
        maxlength="2000"
        .value=${role?.description ?? ''}
      ></textarea>
      <fieldset>
        <legend>Permissions</legend>
        ${this.#catalog.map((p) => {
          const grantable = held === null || held.has(p);
          const description = this.#describe(p);
          return html`<label
            class="inline"
            title=${grantable ? nothing : `You do not hold ${p}: an admin can only grant what it holds`}
            ><input
              type="checkbox"
              name="permissions"
              value=${p}
              .checked=${role?.permissions.includes(p) ?? false}
              ?disabled=${!grantable}
            />
            <code>${p}</code>${description ? html`<span class="hint">${description}</span>` : nothing}</label
          >`;
        })}
      </fieldset>
      <label class="inline"
        ><input type="checkbox" name="assignable" .checked=${role?.assignable_to_service_accounts ?? true} />
        Service accounts may hold this role</label
      >
      <div class="row">
        <button type="submit" class="primary">${role ? 'Save role' : 'Create role'}</button>
        <button type="button" @click=${() => (this.editing = null)}>Cancel</button>
      </div>
    </form>`;
  }
}
