/**
 * The service-accounts screen a product can embed on its own: the list, a new account, one account
 * (with its credentials), its edit form. `path` is '', 'new', '<id>' or '<id>/edit'.
 */
import { html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import './account-detail.js';
import './account-form.js';
import './account-list.js';
import { NAVIGATE_EVENT, ScreenElement } from './screen.js';

@customElement('svcauth-accounts')
export class Accounts extends ScreenElement {
  @property() accessor path = '';

  constructor() {
    super();
    // Embedded alone, this element follows its own links; inside the shell, the shell sets `path` too.
    this.addEventListener(NAVIGATE_EVENT, (event) => {
      const target = (event as CustomEvent<{ path: string }>).detail.path;
      if (target === 'accounts' || target.startsWith('accounts/'))
        this.path = target.slice('accounts/'.length);
    });
  }

  protected override async load(): Promise<void> {}

  override render() {
    const [id, action] = this.path.split('/');
    if (!id) return html`<svcauth-account-list .connection=${this.connection}></svcauth-account-list>`;
    if (id === 'new')
      return html`<svcauth-account-form .connection=${this.connection}></svcauth-account-form>`;
    if (action === 'edit') {
      return html`<svcauth-account-form
        .connection=${this.connection}
        account-id=${id}
      ></svcauth-account-form>`;
    }
    return html`<svcauth-account-detail
      .connection=${this.connection}
      account-id=${id}
    ></svcauth-account-detail>`;
  }
}
