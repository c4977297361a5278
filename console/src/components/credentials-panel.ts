/**
 * An account's credentials: add an API key, an OAuth client or a private_key_jwt client (its public
 * JWKS pasted), primary and secondary slots, rotate, regenerate with a grace period, revoke. Each
 * disruptive action first says what will stop working; each new secret is shown once.
 */
import { html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import {
  all,
  type Credential,
  type CredentialCreate,
  type CredentialType,
  type IssuedCredential,
  ok,
  type Settings,
} from '../api/client.js';
import type { Connection } from '../connection.js';
import type { ConfirmDialog } from './confirm-dialog.js';
import './confirm-dialog.js';
import './secret-once.js';
import { formatTime, ScreenElement } from './screen.js';

const TYPE_LABELS: Record<CredentialType, string> = {
  api_key: 'API key',
  oauth_client: 'OAuth client',
  private_key_jwt: 'private_key_jwt client',
};

@customElement('svcauth-credentials')
export class CredentialsPanel extends ScreenElement {
  @property({ attribute: 'account-id' }) accessor accountId = '';
  @property({ type: Boolean }) accessor archived = false;
  @state() accessor credentials: Credential[] = [];
  @state() accessor settings: Settings | null = null;
  @state() accessor adding = false;
  @state() accessor addType: CredentialType = 'api_key';
  @state() accessor issued: IssuedCredential | null = null;
  @state() accessor showRevoked = false;
  @query('svcauth-confirm') accessor confirm!: ConfirmDialog;

  protected override async load(connection: Connection): Promise<void> {
    const accountId = this.accountId;
    const [credentials, settings] = await Promise.all([
      all((cursor) =>
        ok(
          connection.api.GET('/admin/v1/service-accounts/{account_id}/credentials', {
            params: { path: { account_id: accountId }, query: { limit: 200, cursor } },
          }),
        ),
      ),
      ok(connection.api.GET('/admin/v1/settings')),
    ]);
    this.credentials = credentials;
    this.settings = settings;
    if (!settings.allowed_credential_types.includes(this.addType)) {
      this.addType = settings.allowed_credential_types[0] ?? 'api_key';
    }
  }

  get #path() {
    return { account_id: this.accountId };
  }

  async #add(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const connection = this.connection;
    if (!connection) return;
    const data = new FormData(event.target as HTMLFormElement);
    await this.attempt(async () => {
      const body: CredentialCreate = { name: String(data.get('name') ?? ''), type: this.addType };
      const expires = String(data.get('expires_at') ?? '');
      if (expires) body.expires_at = new Date(expires).toISOString();
      if (this.addType === 'private_key_jwt') body.jwks = parseJwks(String(data.get('jwks') ?? ''));
      this.issued = await ok(
        connection.api.POST('/admin/v1/service-accounts/{account_id}/credentials', {
          params: { path: this.#path },
          body,
        }),
      );
      this.adding = false;
      await this.reload();
    });
  }

  async #rotate(c: Credential): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    const secondary = this.credentials.find(
      (other) => other.lineage_id === c.lineage_id && other.slot === 'secondary' && other.status === 'active',
    );
    const consequences = [
      `A new primary ${TYPE_LABELS[c.type]} is created${c.type === 'private_key_jwt' ? ' with the same public keys' : ''}; its secret is shown once.`,
      `${c.name} becomes the secondary and keeps working until you revoke it, so integrations can switch over.`,
    ];
    if (secondary) {
      consequences.push(
        `The current secondary, ${secondary.name} (${secondary.client_id}), is revoked: integrations still using it stop working at once.`,
      );
    }
    if (
      (await this.confirm.ask({ title: `Rotate ${c.name}?`, consequences, confirmLabel: 'Rotate' })) === null
    )
      return;
    await this.attempt(async () => {
      this.issued = await ok(
        connection.api.POST('/admin/v1/service-accounts/{account_id}/credentials/{credential_id}:rotate', {
          params: { path: { ...this.#path, credential_id: c.id } },
          body: {},
        }),
      );
      await this.reload();
    });
  }

  async #regenerate(c: Credential): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    const grace = await this.confirm.ask({
      title: `Regenerate the secret of ${c.name}?`,
      consequences: [
        `${c.client_id} stays the same; a new secret is shown once.`,
        'The current secret stops working when the grace period ends (at once with 0): integrations still using it then fail to get tokens.',
      ],
      confirmLabel: 'Regenerate',
      input: {
        label: 'Grace period for the current secret (seconds)',
        type: 'number',
        value: '300',
        min: 0,
        max: 3600,
        hint: 'From 0 to 3600 seconds.',
      },
    });
    if (grace === null) return;
    await this.attempt(async () => {
      this.issued = await ok(
        connection.api.POST(
          '/admin/v1/service-accounts/{account_id}/credentials/{credential_id}:regenerate',
          {
            params: { path: { ...this.#path, credential_id: c.id } },
            body: { grace_period_seconds: Number(grace) },
          },
        ),
      );
      await this.reload();
    });
  }

  async #revoke(c: Credential): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    const answer = await this.confirm.ask({
      title: `Revoke ${c.name}?`,
      consequences: [
        `Integrations using ${c.client_id} can no longer get tokens, and the tokens they hold are refused within a second.`,
        'Revocation cannot be undone: the integration needs a new credential.',
      ],
      confirmLabel: 'Revoke',
    });
    if (answer === null) return;
    await this.attempt(async () => {
      await ok(
        connection.api.POST('/admin/v1/service-accounts/{account_id}/credentials/{credential_id}:revoke', {
          params: { path: { ...this.#path, credential_id: c.id } },
          body: {},
        }),
      );
      await this.reload();
    });
  }

  override render() {
    const shown = this.credentials.filter((c) => this.showRevoked || c.status !== 'revoked');
    const archived = this.archived ? 'The account is archived' : '';
    return html`<section aria-labelledby="credentials-title">
      <div class="spread">
        <h2 id="credentials-title">Credentials</h2>
        ${this.gated('service_accounts:write', 'Add credential', () => (this.adding = true), {
          blocked: archived,
        })}
      </div>
      ${this.renderProblem()}
      ${
        this.issued
          ? html`<svcauth-secret-once
              .credential=${this.issued}
              @done=${() => (this.issued = null)}
            ></svcauth-secret-once>`
          : nothing
      }
      ${this.adding ? this.#renderAddForm() : nothing}
      <label class="inline"
        ><input
          type="checkbox"
          .checked=${this.showRevoked}
          @change=${(e: Event) => (this.showRevoked = (e.target as HTMLInputElement).checked)}
        />
        Show revoked credentials</label
      >
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type and id</th>
              <th scope="col">Slot</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col"><span class="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            ${shown.map((c) => this.#renderRow(c, archived))}
          </tbody>
        </table>
      </div>
      ${shown.length === 0 && !this.loading ? html`<p>No credentials.</p>` : nothing}
      <svcauth-confirm></svcauth-confirm>
    </section>`;
  }

  #renderRow(c: Credential, archived: string) {
    const revoked = c.status === 'revoked' ? 'This credential is revoked' : '';
    const blocked = archived || revoked;
    return html`<tr data-credential=${c.name}>
      <td>${c.name}${c.is_legacy ? html` <span class="hint">(imported)</span>` : nothing}</td>
      <td>
        ${TYPE_LABELS[c.type]}<br /><code>${c.client_id}</code>
        ${c.display_hint ? html`<div class="hint">secret ${c.display_hint}</div>` : nothing}
      </td>
      <td><span class="badge ${c.slot === 'primary' ? 'primary-slot' : ''}">${c.slot}</span></td>
      <td>
        <span class="badge ${c.status}">${c.status}</span>
        ${
          c.previous_secret_expires_at
            ? html`<div class="hint">
                previous secret works until ${formatTime(c.previous_secret_expires_at)}
              </div>`
            : nothing
        }
      </td>
      <td>${formatTime(c.created_at)}</td>
      <td>${c.expires_at ? formatTime(c.expires_at) : 'Never'}</td>
      <td>
        ${
          c.last_used_at
            ? html`${formatTime(c.last_used_at)}
                <div class="hint">from ${c.last_used_ip ?? 'unknown'}</div>`
            : 'Never'
        }
      </td>
      <td>
        <div class="row">
          ${this.gated('service_accounts:write', 'Rotate', () => void this.#rotate(c), {
            blocked: blocked || (c.slot === 'secondary' ? 'Rotate the primary of this lineage' : ''),
            name: `Rotate ${c.name}`,
          })}
          ${this.gated('service_accounts:write', 'Regenerate', () => void this.#regenerate(c), {
            blocked:
              blocked ||
              (c.type === 'private_key_jwt'
                ? 'A private_key_jwt client has no secret: rotate it with new keys'
                : ''),
            name: `Regenerate ${c.name}`,
          })}
          ${this.gated('service_accounts:write', 'Revoke', () => void this.#revoke(c), {
            kind: 'danger',
            blocked,
            name: `Revoke ${c.name}`,
          })}
        </div>
      </td>
    </tr>`;
  }

  #renderAddForm() {
    const types = this.settings?.allowed_credential_types ?? ['api_key'];
    return html`<form
      class="card"
      aria-label="Add a credential"
      @submit=${(e: SubmitEvent) => void this.#add(e)}
    >
      <fieldset>
        <legend>Type</legend>
        ${(['api_key', 'oauth_client', 'private_key_jwt'] as const).map(
          (type) =>
            html`<label
              class="inline"
              title=${types.includes(type) ? nothing : 'The API security settings do not allow this type'}
              ><input
                type="radio"
                name="type"
                value=${type}
                ?disabled=${!types.includes(type)}
                .checked=${this.addType === type}
                @change=${() => (this.addType = type)}
              />
              ${TYPE_LABELS[type]}</label
            >`,
        )}
      </fieldset>
      <label for="credential-name">Name</label>
      <input id="credential-name" name="name" type="text" required maxlength="200" />
      <label for="credential-expires">Expires (optional)</label>
      <input id="credential-expires" name="expires_at" type="datetime-local" />
      ${
        this.settings?.max_credential_lifetime_seconds
          ? html`<p class="hint">
              At most ${Math.round(this.settings.max_credential_lifetime_seconds / 86400)} days from now
              (organization setting).
            </p>`
          : nothing
      }
      ${
        this.addType === 'private_key_jwt'
          ? html`<label for="credential-jwks">Public JWKS</label>
              <textarea
                id="credential-jwks"
                name="jwks"
                required
                placeholder='{"keys": [{"kty": "EC", ...}]}'
              ></textarea>
              <p class="hint">
                The integration's public keys only: it signs its client assertions with the private key, which
                never leaves it.
              </p>`
          : nothing
      }
      <div class="row">
        <button type="submit" class="primary">Create credential</button>
        <button type="button" @click=${() => (this.adding = false)}>Cancel</button>
      </div>
    </form>`;
  }
}

function parseJwks(text: string): { keys: Array<Record<string, unknown>> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('The JWKS is not JSON: paste an object like {"keys": [ ... ]}');
  }
  if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as { keys?: unknown }).keys)) {
    throw new Error('The JWKS needs a "keys" array of public JWKs');
  }
  return parsed as { keys: Array<Record<string, unknown>> };
}
