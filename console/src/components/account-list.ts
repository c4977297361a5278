/**
 * The service-account list: status indicator, who created each account and when, pages of 25 (the API
 * pages by cursor, so the thousandth page costs what the first does).
 */
import { html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { type Account, ok } from '../api/client.js';
import type { Connection } from '../connection.js';
import { formatTime, ScreenElement } from './screen.js';

const PAGE_SIZE = 25;

@customElement('svcauth-account-list')
export class AccountList extends ScreenElement {
  @state() accessor accounts: Account[] = [];
  @state() accessor includeArchived = false;
  /** Cursors of the pages before the current one (the first page's is undefined). */
  @state() accessor cursors: Array<string | undefined> = [undefined];
  @state() accessor nextCursor: string | null = null;
  #creatorNames = new Map<string, string>();

  protected override async load(connection: Connection): Promise<void> {
    const page = await ok(
      connection.api.GET('/admin/v1/service-accounts', {
        params: {
          query: {
            limit: PAGE_SIZE,
            cursor: this.cursors.at(-1),
            include_archived: this.includeArchived ? 'true' : 'false',
          },
        },
      }),
    );
    for (const account of page.items) this.#creatorNames.set(account.id, account.name);
    await this.#nameCreators(connection, page.items);
    this.accounts = page.items;
    this.nextCursor = page.next_cursor;
  }

  /** Creators not on this page are looked up once each (an archived creator still has a name). */
  async #nameCreators(connection: Connection, accounts: Account[]): Promise<void> {
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

  #creator(account: Account): string {
    if (!account.created_by_account_id) return 'the platform';
    return this.#creatorNames.get(account.created_by_account_id) ?? account.created_by_account_id.slice(0, 8);
  }

  #page(direction: 'next' | 'previous'): void {
    if (direction === 'next' && this.nextCursor) this.cursors = [...this.cursors, this.nextCursor];
    if (direction === 'previous' && this.cursors.length > 1) this.cursors = this.cursors.slice(0, -1);
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
      <div class="row" role="group" aria-label="Filters">
        <label class="inline"
          ><input
            type="checkbox"
            .checked=${this.includeArchived}
            @change=${(e: Event) => {
              this.includeArchived = (e.target as HTMLInputElement).checked;
              this.cursors = [undefined];
              void this.reload();
            }}
          />
          Show archived accounts</label
        >
      </div>
      ${this.renderProblem()}
      <div class="table-wrap">
        <table aria-busy=${this.loading ? 'true' : 'false'}>
          <caption class="sr-only">
            Service accounts, page ${this.cursors.length}
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
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
                  <td>${this.#creator(a)}</td>
                  <td>${formatTime(a.created_at)}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${this.accounts.length === 0 && !this.loading ? html`<p>No service accounts here yet.</p>` : nothing}
      <nav class="row" aria-label="Pages">
        <button type="button" ?disabled=${this.cursors.length <= 1} @click=${() => this.#page('previous')}>
          Previous page
        </button>
        <span>Page ${this.cursors.length}</span>
        <button type="button" ?disabled=${!this.nextCursor} @click=${() => this.#page('next')}>
          Next page
        </button>
      </nav>
    </section>`;
  }

  #open(event: Event, id: string): void {
    event.preventDefault();
    this.navigate(`accounts/${id}`);
  }
}
