/**
 * The API security settings: the API module switch, allowed credential types, access-token lifetime,
 * credentials per account, credential lifetime. Changes that cut integrations off ask first.
 */
import { html, nothing } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { type CredentialType, ok, type Settings, type SettingsUpdate } from '../api/client.js';
import type { Connection } from '../connection.js';
import type { ConfirmDialog } from './confirm-dialog.js';
import './confirm-dialog.js';
import { ScreenElement } from './screen.js';

const TYPES: Array<{ type: CredentialType; label: string }> = [
  { type: 'oauth_client', label: 'OAuth clients (client id and secret)' },
  { type: 'api_key', label: 'API keys' },
  { type: 'private_key_jwt', label: 'private_key_jwt clients (public keys)' },
];

@customElement('svcauth-settings')
export class SettingsPage extends ScreenElement {
  @state() accessor settings: Settings | null = null;
  @state() accessor notice = '';
  @query('svcauth-confirm') accessor confirm!: ConfirmDialog;

  protected override async load(connection: Connection): Promise<void> {
    this.settings = await ok(connection.api.GET('/admin/v1/settings'));
  }

  async #save(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const connection = this.connection;
    const before = this.settings;
    if (!connection || !before) return;
    const data = new FormData(event.target as HTMLFormElement);
    const lifetimeDays = String(data.get('max_lifetime_days') ?? '');
    const body: SettingsUpdate = {
      api_enabled: data.get('api_enabled') === 'on',
      allowed_credential_types: data.getAll('allowed_credential_types').map(String) as CredentialType[],
      access_token_ttl_seconds: Number(data.get('access_token_ttl_seconds')),
      max_credentials_per_account: Number(data.get('max_credentials_per_account')),
      max_credential_lifetime_seconds: lifetimeDays ? Math.round(Number(lifetimeDays) * 86400) : null,
    };
    const consequences: string[] = [];
    if (before.api_enabled && !body.api_enabled) {
      consequences.push(
        "The API module is switched off: no credential of the organization gets a token, and every token already issued is refused by the product's APIs until it is switched on again.",
      );
    }
    const dropped = before.allowed_credential_types.filter(
      (t) => !body.allowed_credential_types?.includes(t),
    );
    if (dropped.length > 0) {
      consequences.push(
        `Credentials of type ${dropped.join(', ')} stop getting tokens at once, and no new one can be created.`,
      );
    }
    if (
      consequences.length > 0 &&
      (await this.confirm.ask({
        title: 'Change the API security settings?',
        consequences,
        confirmLabel: 'Save settings',
      })) === null
    ) {
      return;
    }
    const saved = await this.attempt(async () => {
      this.settings = await ok(connection.api.PATCH('/admin/v1/settings', { body }));
    });
    if (saved) this.notice = 'Settings saved.';
  }

  override render() {
    const s = this.settings;
    const { allowed, reason } = this.connection?.allows('settings:write') ?? { allowed: false, reason: '' };
    return html`<section aria-labelledby="settings-title">
      <h1 id="settings-title">API security settings</h1>
      ${this.renderProblem()}
      ${this.notice ? html`<p class="notice" role="status">${this.notice}</p>` : nothing}
      ${allowed ? nothing : html`<p class="hint">${reason}.</p>`}
      ${
        s && !s.api_entitled
          ? html`<p class="warning">
              Your plan does not include API access (the product decides that): until it does, no credential
              gets a token, whatever the switch below says.
            </p>`
          : nothing
      }
      ${s ? this.#renderForm(s, allowed, reason) : html`<p>Loading…</p>`}
      <svcauth-confirm></svcauth-confirm>
    </section>`;
  }

  #renderForm(s: Settings, allowed: boolean, reason: string) {
    const limits = s.limits;
    const ttlMax = limits.access_token_ttl_seconds ?? 3600;
    const lifetimeMaxDays = limits.max_credential_lifetime_seconds
      ? limits.max_credential_lifetime_seconds / 86400
      : 3650;
    const byProduct = (limit: number | null) => (limit === null ? '' : ' (the limit the product sets)');
    return html`<form @submit=${(e: SubmitEvent) => void this.#save(e)}>
      <fieldset ?disabled=${!allowed} title=${allowed ? nothing : reason}>
        <legend>API module</legend>
        <label class="inline"
          ><input type="checkbox" name="api_enabled" .checked=${s.api_enabled} /> API access enabled for this
          organization</label
        >
      </fieldset>
      <fieldset ?disabled=${!allowed} title=${allowed ? nothing : reason}>
        <legend>Allowed credential types</legend>
        ${TYPES.map(({ type, label }) => {
          const permitted = limits.allowed_credential_types?.includes(type) ?? true;
          return html`<label
            class="inline"
            title=${permitted ? nothing : 'The product does not allow this type'}
            ><input
              type="checkbox"
              name="allowed_credential_types"
              value=${type}
              ?disabled=${!permitted}
              .checked=${s.allowed_credential_types.includes(type)}
            />
            ${label}${permitted ? nothing : ' (not allowed by the product)'}</label
          >`;
        })}
      </fieldset>
      <fieldset ?disabled=${!allowed} title=${allowed ? nothing : reason}>
        <legend>Limits</legend>
        <label for="ttl">Access-token lifetime (seconds)</label>
        <input
          id="ttl"
          name="access_token_ttl_seconds"
          type="number"
          min="60"
          max=${ttlMax}
          required
          .value=${String(s.access_token_ttl_seconds)}
        />
        <p class="hint">
          60 to ${ttlMax}${byProduct(limits.access_token_ttl_seconds)}; tokens already issued keep their
          lifetime.
        </p>
        <label for="max-credentials">Credentials per service account (at most)</label>
        <input
          id="max-credentials"
          name="max_credentials_per_account"
          type="number"
          min="1"
          max=${limits.max_credentials_per_account ?? 100}
          required
          .value=${String(s.max_credentials_per_account)}
        />
        <p class="hint">
          1 to ${limits.max_credentials_per_account ?? 100}${byProduct(limits.max_credentials_per_account)}.
        </p>
        <label for="max-lifetime"
          >Credential lifetime (days, at
          most${limits.max_credential_lifetime_seconds === null ? '; empty: no limit' : ''})</label
        >
        <input
          id="max-lifetime"
          name="max_lifetime_days"
          type="number"
          min="1"
          max=${lifetimeMaxDays}
          step="any"
          ?required=${limits.max_credential_lifetime_seconds !== null}
          .value=${s.max_credential_lifetime_seconds === null ? '' : String(s.max_credential_lifetime_seconds / 86400)}
        />
        ${
          limits.max_credential_lifetime_seconds === null
            ? nothing
            : html`<p class="hint">At most ${lifetimeMaxDays} days (the limit the product sets).</p>`
        }
      </fieldset>
      <div class="row">
        ${
          allowed
            ? html`<button type="submit" class="primary" data-write="settings:write">Save settings</button>`
            : this.gated('settings:write', 'Save settings', () => undefined, { kind: 'primary' })
        }
      </div>
    </form>`;
  }
}
