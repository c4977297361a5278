/**
 * Create or edit a service account: name, description, locations (or all locations), roles, the role x
 * location matrix, groups admin (only for admins who are groups admins themselves). A new account gets
 * its first credential at once, whose secret is shown once. Changes that cut integrations off ask first.
 */
import { html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import {
  type Account,
  type AccountCreate,
  type CredentialType,
  type IssuedCredential,
  ok,
} from '../api/client.js';
import type { Connection } from '../connection.js';
import { type Directory, loadDirectory } from '../directory.js';
import type { ConfirmDialog } from './confirm-dialog.js';
import './confirm-dialog.js';
import './secret-once.js';
import { ScreenElement } from './screen.js';

type Matrix = Map<string, Set<string> | null>;

@customElement('svcauth-account-form')
export class AccountForm extends ScreenElement {
  /** Empty: a new account. */
  @property({ attribute: 'account-id' }) accessor accountId = '';
  @state() accessor account: Account | null = null;
  @state() accessor directory: Directory | null = null;
  @state() accessor allLocations = false;
  @state() accessor locationIds = new Set<string>();
  /** Role id -> the account locations where it applies (null: all of them). */
  @state() accessor matrix: Matrix = new Map();
  @state() accessor issued: IssuedCredential | null = null;
  @state() accessor saving = false;
  @query('svcauth-confirm') accessor confirm!: ConfirmDialog;
  @query('#matrix-dialog') accessor matrixDialog!: HTMLDialogElement;

  protected override async load(connection: Connection): Promise<void> {
    const [directory, account] = await Promise.all([
      loadDirectory(connection.api),
      this.accountId
        ? ok(
            connection.api.GET('/admin/v1/service-accounts/{account_id}', {
              params: { path: { account_id: this.accountId } },
            }),
          )
        : Promise.resolve(null),
    ]);
    this.directory = directory;
    this.account = account;
    if (account) {
      this.allLocations = account.all_locations;
      this.locationIds = new Set(account.location_ids);
      this.matrix = new Map(
        account.roles.map((r) => [r.role_id, r.location_ids ? new Set(r.location_ids) : null]),
      );
    }
  }

  /** The locations the matrix may narrow a role to: the account's own, or every one for "all locations". */
  get #matrixLocations() {
    const locations = this.directory?.locations ?? [];
    return this.allLocations ? locations : locations.filter((l) => this.locationIds.has(l.id));
  }

  #body(form: HTMLFormElement): AccountCreate {
    const data = new FormData(form);
    const inScope = new Set(this.#matrixLocations.map((l) => l.id));
    return {
      name: String(data.get('name') ?? ''),
      description: String(data.get('description') ?? ''),
      all_locations: this.allLocations,
      location_ids: this.allLocations ? [] : [...this.locationIds],
      roles: [...this.matrix].map(([role_id, locations]) => {
        const kept = locations ? [...locations].filter((id) => inScope.has(id)) : null;
        if (kept && kept.length === 0) {
          throw new Error(
            `${this.directory?.roleName(role_id)} is ticked at no location in the matrix: tick one, or remove the role`,
          );
        }
        return { role_id, location_ids: kept && kept.length > 0 && kept.length < inScope.size ? kept : null };
      }),
      ...(this.connection?.groupsAdmin ? { groups_admin: data.get('groups_admin') === 'on' } : {}),
    };
  }

  async #submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const connection = this.connection;
    if (!connection || this.saving) return;
    const form = event.target as HTMLFormElement;
    let body: AccountCreate;
    try {
      body = this.#body(form);
    } catch (error) {
      return this.fail(error);
    }
    if (this.account && !(await this.#confirmCuts(body))) return;
    this.saving = true;
    try {
      await this.attempt(async () => {
        if (this.account) {
          const saved = await ok(
            connection.api.PATCH('/admin/v1/service-accounts/{account_id}', {
              params: { path: { account_id: this.account.id } },
              body,
            }),
          );
          this.navigate(`accounts/${saved.id}`);
          return;
        }
        // The first credential is issued with the account, in the same request: its secret comes back once.
        const type = String(new FormData(form).get('first_credential') ?? '') as CredentialType | '';
        const created = await ok(
          connection.api.POST('/admin/v1/service-accounts', {
            body: { ...body, ...(type ? { credential: { type } } : {}) },
          }),
        );
        this.account = created;
        if (created.credential) this.issued = created.credential;
        else this.navigate(`accounts/${created.id}`);
      });
    } finally {
      this.saving = false;
    }
  }

  /** Before an edit that cuts integrations off: say what stops working. */
  async #confirmCuts(body: AccountCreate): Promise<boolean> {
    const before = this.account!;
    const consequences: string[] = [];
    if ((body.roles ?? []).length === 0 && before.roles.length > 0) {
      consequences.push(
        'The account will hold no role: it becomes disabled, its credentials get no more tokens, and tokens it holds are refused.',
      );
    }
    const narrowed =
      (before.all_locations && !body.all_locations) ||
      before.location_ids.some((id) => !body.all_locations && !(body.location_ids ?? []).includes(id)) ||
      before.roles.some((r) => !(body.roles ?? []).some((n) => n.role_id === r.role_id)) ||
      JSON.stringify(before.roles) !== JSON.stringify(body.roles);
    if (consequences.length === 0 && narrowed) {
      consequences.push(
        'Its permissions change: tokens issued before this change are refused by the product APIs, and integrations must request new ones (they get the new permissions).',
      );
    }
    if (consequences.length === 0) return true;
    return (
      (await this.confirm.ask({
        title: `Change ${before.name}?`,
        consequences,
        confirmLabel: 'Save changes',
      })) !== null
    );
  }

  #toggleLocation(id: string, checked: boolean): void {
    const next = new Set(this.locationIds);
    if (checked) next.add(id);
    else next.delete(id);
    this.locationIds = next;
  }

  #toggleRole(id: string, checked: boolean): void {
    const next = new Map(this.matrix);
    if (checked) next.set(id, null);
    else next.delete(id);
    this.matrix = next;
  }

  #toggleCell(roleId: string, locationId: string, checked: boolean): void {
    const scope = this.#matrixLocations.map((l) => l.id);
    const current = this.matrix.get(roleId) ?? null;
    const cells = new Set(current ?? scope);
    if (checked) cells.add(locationId);
    else cells.delete(locationId);
    const next = new Map(this.matrix);
    next.set(roleId, scope.every((id) => cells.has(id)) ? null : cells);
    this.matrix = next;
  }

  #applies(roleId: string, locationId: string): boolean {
    const cells = this.matrix.get(roleId);
    return cells === null || cells === undefined || cells.has(locationId);
  }

  override render() {
    const d = this.directory;
    if (this.issued) {
      return html`<h1>${this.account?.name} is created</h1>
        <svcauth-secret-once
          .credential=${this.issued}
          @done=${() => this.navigate(`accounts/${this.account!.id}`)}
        ></svcauth-secret-once>`;
    }
    const a = this.account;
    const groupsAdmin = this.connection?.groupsAdmin === true;
    return html`<section aria-labelledby="form-title">
      <h1 id="form-title">${a ? `Edit ${a.name}` : 'New service account'}</h1>
      ${this.renderProblem()}
      ${
        d
          ? html`<form @submit=${(e: SubmitEvent) => void this.#submit(e)}>
                <label for="name">Name</label>
                <input id="name" name="name" type="text" required maxlength="200" .value=${a?.name ?? ''} />
                <label for="description">Description</label>
                <textarea
                  id="description"
                  name="description"
                  maxlength="2000"
                  .value=${a?.description ?? ''}
                ></textarea>
                <fieldset>
                  <legend>Locations</legend>
                  <label class="inline"
                    ><input
                      type="checkbox"
                      name="all_locations"
                      .checked=${this.allLocations}
                      @change=${(e: Event) => (this.allLocations = (e.target as HTMLInputElement).checked)}
                    />
                    All locations, including ones created later</label
                  >
                  ${
                    this.allLocations
                      ? nothing
                      : d.locations.map(
                          (l) =>
                            html`<label class="inline"
                              ><input
                                type="checkbox"
                                data-location=${l.name}
                                .checked=${this.locationIds.has(l.id)}
                                @change=${(e: Event) => this.#toggleLocation(l.id, (e.target as HTMLInputElement).checked)}
                              />
                              ${l.name}</label
                            >`,
                        )
                  }
                  ${d.locations.length === 0 ? html`<p class="hint">No locations yet.</p>` : nothing}
                </fieldset>
                <fieldset>
                  <legend>Roles</legend>
                  ${d.roles.map((r) => {
                    const assignable = r.assignable_to_service_accounts;
                    return html`<label
                      class="inline"
                      title=${assignable ? r.description || nothing : 'This role may not be held by service accounts'}
                      ><input
                        type="checkbox"
                        data-role=${r.name}
                        .checked=${this.matrix.has(r.id)}
                        ?disabled=${!assignable && !this.matrix.has(r.id)}
                        @change=${(e: Event) => this.#toggleRole(r.id, (e.target as HTMLInputElement).checked)}
                      />
                      ${r.name}${assignable ? nothing : ' (not assignable)'}</label
                    >`;
                  })}
                  <p class="hint">
                    A role applies at all of the account's locations unless the matrix narrows it.
                    ${this.#matrixSummary()}
                  </p>
                  <button
                    type="button"
                    ?disabled=${this.matrix.size === 0 || this.#matrixLocations.length === 0}
                    @click=${() => this.matrixDialog.showModal()}
                  >
                    Role × location matrix…
                  </button>
                </fieldset>
                ${
                  groupsAdmin
                    ? html`<label class="inline"
                        ><input type="checkbox" name="groups_admin" .checked=${a?.groups_admin ?? false} />
                        Groups admin (may manage groups in the product)</label
                      >`
                    : nothing
                }
                ${
                  a
                    ? nothing
                    : html`<fieldset>
                        <legend>First credential</legend>
                        <label class="inline"
                          ><input type="radio" name="first_credential" value="api_key" checked /> API
                          key</label
                        >
                        <label class="inline"
                          ><input type="radio" name="first_credential" value="oauth_client" /> OAuth client
                          (id and secret)</label
                        >
                        <label class="inline"
                          ><input type="radio" name="first_credential" value="" /> None for now</label
                        >
                        <p class="hint">Its secret is shown once, right after the account is created.</p>
                      </fieldset>`
                }
                <div class="row">
                  <button type="submit" class="primary" ?disabled=${this.saving}>
                    ${a ? 'Save changes' : 'Create service account'}
                  </button>
                  <button type="button" @click=${() => this.navigate(a ? `accounts/${a.id}` : 'accounts')}>
                    Cancel
                  </button>
                </div>
              </form>
              ${this.#renderMatrix(d)}`
          : html`<p>Loading…</p>`
      }
      <svcauth-confirm></svcauth-confirm>
    </section>`;
  }

  #matrixSummary() {
    const narrowed = [...this.matrix].filter(([, cells]) => cells !== null);
    if (narrowed.length === 0) return nothing;
    return html`Narrowed:
    ${narrowed
      .map(
        ([roleId, cells]) =>
          `${this.directory?.roleName(roleId)} at ${[...cells!].map((id) => this.directory?.locationName(id)).join(', ') || 'no location'}`,
      )
      .join('; ')}.`;
  }

  #renderMatrix(d: Directory) {
    const locations = this.#matrixLocations;
    const roles = d.roles.filter((r) => this.matrix.has(r.id));
    return html`<dialog id="matrix-dialog" aria-labelledby="matrix-title">
      <h2 id="matrix-title">Role × location matrix</h2>
      <p class="hint">
        Tick where each role applies. A role ticked everywhere applies at every location of the account.
      </p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Role</th>
              ${locations.map((l) => html`<th scope="col">${l.name}</th>`)}
            </tr>
          </thead>
          <tbody>
            ${roles.map(
              (r) =>
                html`<tr>
                  <th scope="row">${r.name}</th>
                  ${locations.map(
                    (l) =>
                      html`<td>
                        <input
                          type="checkbox"
                          aria-label="${r.name} at ${l.name}"
                          .checked=${this.#applies(r.id, l.id)}
                          @change=${(e: Event) => this.#toggleCell(r.id, l.id, (e.target as HTMLInputElement).checked)}
                        />
                      </td>`,
                  )}
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      <div class="row">
        <button type="button" class="primary" @click=${() => this.matrixDialog.close()}>Done</button>
      </div>
    </dialog>`;
  }
}
