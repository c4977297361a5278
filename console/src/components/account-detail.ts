/**
 * One service account: what it is and may do, edit and archive (behind a confirmation naming what
 * stops working), and its credentials panel.
 */
import { html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { type Account, ok } from '../api/client.js';
import type { Connection } from '../connection.js';
import { type Directory, loadDirectory } from '../directory.js';
import type { ConfirmDialog } from './confirm-dialog.js';
import './confirm-dialog.js';
import './credentials-panel.js';
import { formatTime, ScreenElement } from './screen.js';

@customElement('svcauth-account-detail')
export class AccountDetail extends ScreenElement {
  @property({ attribute: 'account-id' }) accessor accountId = '';
  @state() accessor account: Account | null = null;
  @state() accessor directory: Directory | null = null;
  @state() accessor creator = '';
  @query('svcauth-confirm') accessor confirm!: ConfirmDialog;

  protected override async load(connection: Connection): Promise<void> {
    const [account, directory] = await Promise.all([
      ok(
        connection.api.GET('/admin/v1/service-accounts/{account_id}', {
          params: { path: { account_id: this.accountId } },
        }),
      ),
      loadDirectory(connection.api),
    ]);
    this.account = account;
    this.directory = directory;
    this.creator = 'the platform';
    if (account.created_by_account_id) {
      const { data } = await connection.api.GET('/admin/v1/service-accounts/{account_id}', {
        params: { path: { account_id: account.created_by_account_id } },
      });
      this.creator = data?.name ?? account.created_by_account_id;
    }
  }

  async #archive(): Promise<void> {
    const a = this.account;
    const connection = this.connection;
    if (!a || !connection) return;
    const answer = await this.confirm.ask({
      title: `Archive ${a.name}?`,
      consequences: [
        'Every credential of this account is revoked at once: integrations using them can no longer get tokens, and the tokens they hold are refused.',
        'An archived account cannot be restored; it stays listed (with "Show archived") for the audit trail.',
      ],
      confirmLabel: 'Archive account',
    });
    if (answer === null) return;
    await this.attempt(async () => {
      this.account = await ok(
        connection.api.POST('/admin/v1/service-accounts/{account_id}:archive', {
          params: { path: { account_id: a.id } },
          body: {},
        }),
      );
    });
  }

  async #purge(): Promise<void> {
    const a = this.account;
    const connection = this.connection;
    if (!a || !connection) return;
    const answer = await this.confirm.ask({
      title: `Delete ${a.name} for good?`,
      consequences: [
        'The archived account and its revoked credentials are removed from svcauth; this cannot be undone.',
        'The audit trail keeps what was done to it and by it.',
      ],
      confirmLabel: 'Delete for good',
    });
    if (answer === null) return;
    const purged = await this.attempt(() =>
      ok(
        connection.api.POST('/admin/v1/service-accounts/{account_id}:purge', {
          params: { path: { account_id: a.id } },
          body: {},
        }),
      ),
    );
    if (purged) this.navigate('accounts');
  }

  override render() {
    const a = this.account;
    const d = this.directory;
    if (!a || !d)
      return html`${this.renderProblem()}
        <p>Loading…</p>`;
    const archived = a.status === 'archived';
    const locations = a.all_locations
      ? 'All locations (including ones created later)'
      : a.location_ids.map((id) => d.locationName(id)).join(', ') || 'None';
    return html`<section aria-labelledby="account-title">
        <p><a href="#/accounts" @click=${(e: Event) => this.#back(e)}>← Service accounts</a></p>
        <div class="spread">
          <h1 id="account-title">${a.name} <span class="badge ${a.status}">${a.status}</span></h1>
          <div class="row">
            ${this.gated('service_accounts:write', 'Edit', () => this.navigate(`accounts/${a.id}/edit`), {
              blocked: archived ? 'An archived account cannot be changed' : '',
            })}
            ${
              archived
                ? this.gated('service_accounts:delete', 'Delete for good', () => void this.#purge(), {
                    kind: 'danger',
                  })
                : this.gated('service_accounts:delete', 'Archive', () => void this.#archive(), {
                    kind: 'danger',
                    blocked: a.is_protected
                      ? "The organization's built-in account is protected: it cannot be archived"
                      : '',
                  })
            }
          </div>
        </div>
        ${this.renderProblem()}
        ${
          a.status === 'disabled'
            ? html`<p class="warning">This account holds no role: it is disabled and gets no tokens.</p>`
            : nothing
        }
        <dl class="meta">
          <dt>Description</dt>
          <dd>${a.description || '—'}</dd>
          <dt>Locations</dt>
          <dd>${locations}</dd>
          <dt>Roles</dt>
          <dd>
            ${
              a.roles.length === 0
                ? 'None'
                : a.roles
                    .map(
                      (r) =>
                        `${d.roleName(r.role_id)}${r.location_ids ? ` (at ${r.location_ids.map((id) => d.locationName(id)).join(', ')})` : ''}`,
                    )
                    .join('; ')
            }
          </dd>
          ${
            a.groups_admin
              ? html`<dt>Groups admin</dt>
                  <dd>Yes</dd>`
              : nothing
          }
          <dt>Permissions</dt>
          <dd>
            ${
              Object.keys(a.permissions).length === 0
                ? 'None'
                : Object.entries(a.permissions).map(
                    ([where, perms]) =>
                      html`<div>
                        <strong>${where === '*' ? 'Everywhere' : d.locationName(where)}:</strong>
                        <span class="mono">${perms.join(', ')}</span>
                      </div>`,
                  )
            }
          </dd>
          <dt>Created</dt>
          <dd>${formatTime(a.created_at)} by ${this.creator}</dd>
          ${
            a.archived_at
              ? html`<dt>Archived</dt>
                  <dd>${formatTime(a.archived_at)}</dd>`
              : nothing
          }
          <dt>Account id</dt>
          <dd class="mono">${a.id}</dd>
        </dl>
      </section>
      <svcauth-credentials
        .connection=${this.connection}
        account-id=${a.id}
        ?archived=${archived}
      ></svcauth-credentials>
      <svcauth-confirm></svcauth-confirm>`;
  }

  #back(event: Event): void {
    event.preventDefault();
    this.navigate('accounts');
  }
}
