/**
 * The standalone sign-in: the client id and secret of an admin service account. They are exchanged
 * at /token for a management token; both stay in memory, in this page only.
 */
import { html, LitElement } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { Connection } from '../connection.js';
import { clientCredentialsTokenFunction } from '../session.js';
import { base } from '../styles.js';

@customElement('svcauth-sign-in')
export class SignIn extends LitElement {
  static override styles = [base];
  @property({ attribute: 'api-base' }) accessor apiBase = '';
  @state() accessor problem = '';
  @state() accessor busy = false;

  async #submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    const issuer = this.apiBase || location.origin;
    const tokenFunction = clientCredentialsTokenFunction(
      issuer,
      String(data.get('client_id') ?? '').trim(),
      String(data.get('client_secret') ?? '').trim(),
    );
    this.busy = true;
    try {
      const connection = await new Connection(issuer, tokenFunction).open();
      this.problem = '';
      this.dispatchEvent(new CustomEvent('signed-in', { detail: connection, bubbles: true, composed: true }));
    } catch (error) {
      this.problem = `Sign-in failed: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      this.busy = false;
    }
  }

  override render() {
    return html`<section aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in to the svcauth console</h1>
      <p class="hint">
        Use the client id and secret of an admin service account (<code
          >npm run svcauth -- bootstrap --org SLUG</code
        >
        prints one). They stay in this page's memory: reloading the page signs you out.
      </p>
      ${this.problem ? html`<div class="error" role="alert">${this.problem}</div>` : ''}
      <form @submit=${(e: SubmitEvent) => void this.#submit(e)}>
        <label for="client-id">Client id</label>
        <input
          id="client-id"
          name="client_id"
          type="text"
          required
          autocomplete="username"
          spellcheck="false"
        />
        <label for="client-secret">Client secret</label>
        <input
          id="client-secret"
          name="client_secret"
          type="password"
          required
          autocomplete="current-password"
        />
        <div class="row">
          <button type="submit" class="primary" ?disabled=${this.busy}>Sign in</button>
        </div>
      </form>
    </section>`;
  }
}
