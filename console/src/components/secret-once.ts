/**
 * A new secret, shown this once: svcauth keeps only its hash. A copy button, and a "Done" that stays
 * unavailable until the admin ticks "I have stored it".
 */
import { html, LitElement, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { IssuedCredential } from '../api/client.js';
import { base } from '../styles.js';

@customElement('svcauth-secret-once')
export class SecretOnce extends LitElement {
  static override styles = [base];
  @property({ attribute: false }) accessor credential: IssuedCredential | null = null;
  @state() accessor stored = false;
  @state() accessor copied = '';

  get secret(): string {
    return this.credential?.api_key ?? this.credential?.client_secret ?? '';
  }

  async #copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(this.secret);
      this.copied = 'Copied to the clipboard.';
    } catch {
      this.copied = 'The browser refused the clipboard: select the text and copy it.';
    }
  }

  #done(): void {
    this.dispatchEvent(new CustomEvent('done', { bubbles: true, composed: true }));
  }

  override render() {
    const c = this.credential;
    if (!c) return nothing;
    const isKey = c.type === 'api_key';
    const what = isKey ? 'API key' : 'client secret';
    return html`<section class="notice" aria-labelledby="secret-title">
      <h2 id="secret-title">Store this ${what} now</h2>
      <p>
        It is shown only this once: svcauth keeps only a hash of it.
        ${
          isKey
            ? html`Integrations send it as the password of HTTP Basic authentication with the username
                <code>api</code>.`
            : html`Integrations send it with the client id <code>${c.client_id}</code> to the token endpoint.`
        }
      </p>
      ${isKey ? nothing : html`<p>Client id: <code data-client-id>${c.client_id}</code></p>`}
      <label for="secret">${isKey ? 'API key' : 'Client secret'} of ${c.name}</label>
      <div class="row">
        <input id="secret" type="text" readonly .value=${this.secret} class="mono" />
        <button type="button" @click=${() => void this.#copy()}>Copy</button>
      </div>
      <p class="hint" role="status">${this.copied}</p>
      <label class="inline"
        ><input
          type="checkbox"
          .checked=${this.stored}
          @change=${(e: Event) => (this.stored = (e.target as HTMLInputElement).checked)}
        />
        I have stored it</label
      >
      <div class="row">
        <button
          type="button"
          class="primary"
          aria-disabled=${this.stored ? nothing : 'true'}
          title=${this.stored ? nothing : 'Tick "I have stored it" first: the secret cannot be shown again'}
          @click=${() => this.stored && this.#done()}
        >
          Done
        </button>
      </div>
    </section>`;
  }
}
