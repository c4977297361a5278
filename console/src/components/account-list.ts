/**
 * The service-account list: search by name, filters (status, role, location), status indicator, who
 * created each account and when, credential counts, pages of 25 (the API pages by cursor, so the
 * thousandth page costs what the first does).
 */
import { html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { type AccountListQuery, type ListedAccount, ok } from '../api/client.js';
import type { Connection } from '../connection.js';
import { type Directory, loadDirectory } from '../directory.js';
import {
  type CursorPages,
  currentCursor,
  FIRST_PAGE,
  type PageDirection,
  pageNavigation,
  pageNumber,
  turnPage,
  withNext,
} from './cursor-pages.js';
import { formatTime, ScreenElement } from './screen.js';

const PAGE_SIZE = 25;

@customElement('svcauth-account-list')
export class AccountList extends ScreenElement {
  @state() accessor accounts: ListedAccount[] = [];
  @state() accessor includeArchived = false;
  @state() accessor filters: Pick<AccountListQuery, 'q' | 'status' | 'role_id' | 'location_id'> = {};
  @state() accessor directory: Directory | null = null;
  @state() accessor pages: CursorPages = FIRST_PAGE;
  #creatorNames = new Map<string, string>();

  protected override async load(connection: Connection): Promise<void> {
    this.directory ??= await loadDirectory(connection.api);
    const page = await ok(
      connection.api.GET('/admin/v1/service-accounts', {
        params: {
          query: {
            ...this.filters,
            limit: PAGE_SIZE,
            cursor: currentCursor(this.pages),
            include_archived: this.includeArchived ? 'true' : 'false',
          },
        },
      }),
    );
    for (const account of page.items) this.#creatorNames.set(account.id, account.name);
    await this.#nameCreators(connection, page.items);
    this.accounts = page.items;
    this.pages = withNext(this.pages, page.next_cursor);
  }

  /** Creators not on this page are looked up once each (an archived creator still has a name). */
  async #nameCreators(connection: Connection, accounts: ListedAccount[]): Promise<void> {
    const missing = [
      ...new Set(accounts.map((a) => a.created_by_account_id).filter((id): id is string => !!id)),
    ].filter((id) => !this.#creatorNames.has(id));
    await Promise.all(
      missing.map(async (id) => {
        const { data } = await connection.api.GET('/admin/v1/service-accounts/{account_id}', {
          params: { path: { account_id: id } },
        });
        this.#creatorNames.set(id, data?.name ?? id.slice(0, 8));
      }),
    );
  }

  #creator(account: ListedAccount): string {
    if (!account.created_by_account_id) return 'the platform';
    return this.#creatorNames.get(account.created_by_account_id) ?? account.created_by_account_id.slice(0, 8);
  }

  #filter(event: Event): void {
    event.preventDefault();
    const form = (event.target as HTMLElement).closest('form')!;
    const data = new FormData(form);
    const value = (name: string) => String(data.get(name) ?? '').trim() || undefined;
    this.filters = {
      q: value('q'),
      status: value('status') as AccountListQuery['status'],
      role_id: value('role_id'),
      location_id: value('location_id'),
    };
    this.pages = turnPage(this.pages, 'first');
    void this.reload();
  }

  #page(direction: PageDirection): void {
    this.pages = turnPage(this.pages, direction);
    void this.reload();
  }

  override render() {
    return html`<section aria-labelledby="accounts-title">
      <div class="spread">
        <h1 id="accounts-title">Service accounts</h1>
        ${this.gated('service_accounts:write', 'New service account', () => this.navigate('accounts/new'), {
          kind: 'primary',
        })}
      </div>
      <form
        class="filters"
        role="search"
        aria-label="Search and filter service accounts"
        @submit=${(e: Event) => this.#filter(e)}
        @change=${(e: Event) => (e.target as HTMLElement).localName === 'select' && this.#filter(e)}
      >
        <div>
          <label for="search">Name contains</label>
          <input id="search" name="q" type="search" maxlength="200" />
        </div>
        <div>
          <label for="status">Status</label>
          <select id="status" name="status">
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="disabled">Disabled</option>
            <option value="archived">Archived</option>
          </select>
        </div>
        <div>
          <label for="role">Role</label>
          <select id="role" name="role_id">
            <option value="">Any</option>
            ${(this.directory?.roles ?? []).map((r) => html`<option value=${r.id}>${r.name}</option>`)}
          </select>
        </div>
        <div>
          <label for="location">Location</label>
          <select id="location" name="location_id">
            <option value="">Any</option>
            ${(this.directory?.locations ?? []).map((l) => html`<option value=${l.id}>${l.name}</option>`)}
          </select>
        </div>
        <div class="row">
          <button type="submit">Search</button>
          <label class="inline"
            ><input
              type="checkbox"
              .checked=${this.includeArchived}
              @change=${(e: Event) => {
                e.stopPropagation();
                this.includeArchived = (e.target as HTMLInputElement).checked;
                this.pages = turnPage(this.pages, 'first');
                void this.reload();
              }}
            />
            Show archived</label
          >
        </div>
      </form>
      ${this.renderProblem()}
      <div class="table-wrap">
        <table aria-busy=${this.loading ? 'true' : 'false'}>
          <caption class="sr-only">
            Service accounts, page ${pageNumber(this.pages)}
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Credentials</th>
              <th scope="col">Created by</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            ${this.accounts.map(
              (a) =>
                html`<tr>
                  <td>
                    <a href="#/accounts/${a.id}" @click=${(e: Event) => this.#open(e, a.id)}>${a.name}</a>
                    ${a.is_protected ? html`<span class="hint">(built-in)</span>` : nothing}
                    ${a.description ? html`<div class="hint">${a.description}</div>` : nothing}
                  </td>
                  <td><span class="badge ${a.status}">${a.status}</span></td>
                  <td>
                    ${a.credential_counts.active} active
                    ${
                      a.credential_counts.expired
                        ? html`<div class="hint">${a.credential_counts.expired} expired</div>`
                        : nothing
                    }
                    ${
                      a.credential_counts.revoked
                        ? html`<div class="hint">${a.credential_counts.revoked} revoked</div>`
                        : nothing
                    }
                  </td>
                  <td>${this.#creator(a)}</td>
                  <td>${formatTime(a.created_at)}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${this.accounts.length === 0 && !this.loading ? html`<p>No service account matches.</p>` : nothing}
      ${pageNavigation(this.pages, { previous: 'Previous page', next: 'Next page' }, (direction) =>
        this.#page(direction),
      )}
    </section>`;
  }

  #open(event: Event, id: string): void {
    event.preventDefault();
    this.navigate(`accounts/${id}`);
  }
}
