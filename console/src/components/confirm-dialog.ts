/**
 * The confirmation before every disruptive action: a modal <dialog> (focus moves into it, Escape
 * cancels) naming what will stop working. `ask` resolves true only when the admin confirms.
 */
import { html, LitElement, nothing } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { base } from '../styles.js';

export interface Confirmation {
  title: string;
  /** What will stop working, one consequence a line. */
  consequences: string[];
  confirmLabel: string;
  /** Optional field the admin fills in (e.g. a grace period); its value is handed back. */
  input?: { label: string; type: 'number'; value: string; min?: number; max?: number; hint?: string };
}

@customElement('svcauth-confirm')
export class ConfirmDialog extends LitElement {
  static override styles = [base];
  @state() accessor confirmation: Confirmation | null = null;
  @query('dialog') accessor dialog!: HTMLDialogElement;
  #resolve: ((value: string | null) => void) | null = null;

  /** Resolves with the input's value ('' without one) when confirmed, null when cancelled. */
  async ask(confirmation: Confirmation): Promise<string | null> {
    this.#resolve?.(null);
    this.confirmation = confirmation;
    await this.updateComplete;
    this.dialog.showModal();
    return new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  #finish(confirmed: boolean): void {
    const input = this.renderRoot.querySelector('input');
    const value = confirmed ? (input?.value ?? '') : null;
    if (confirmed && input && !input.reportValidity()) return;
    this.dialog.close();
    this.#resolve?.(value);
    this.#resolve = null;
  }

  override render() {
    const c = this.confirmation;
    return html`<dialog aria-labelledby="confirm-title" @cancel=${() => this.#finish(false)}>
      ${
        c
          ? html`<h2 id="confirm-title">${c.title}</h2>
              <ul>
                ${c.consequences.map((line) => html`<li>${line}</li>`)}
              </ul>
              ${
                c.input
                  ? html`<label for="confirm-input">${c.input.label}</label>
                      <input
                        id="confirm-input"
                        type="number"
                        .value=${c.input.value}
                        min=${c.input.min ?? nothing}
                        max=${c.input.max ?? nothing}
                        required
                      />
                      ${c.input.hint ? html`<p class="hint">${c.input.hint}</p>` : nothing}`
                  : nothing
              }
              <div class="row">
                <button type="button" class="danger primary" @click=${() => this.#finish(true)}>
                  ${c.confirmLabel}
                </button>
                <button type="button" autofocus @click=${() => this.#finish(false)}>Cancel</button>
              </div>`
          : nothing
      }
    </dialog>`;
  }
}
