/**
 * The whole console: sign-in (or a host page's token function), navigation between the screens, and
 * the current screen. With `hash-routing` (the page svcauth serves at /console) the screen follows the
 * URL fragment, so the back button and links work; embedded, it keeps its place itself.
 */
import { css, html, LitElement, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { Connection, type ManagementPermission } from '../connection.js';
import type { TokenFunction } from '../session.js';
import { base } from '../styles.js';
import './accounts.js';
import './audit-page.js';
import './locations-page.js';
import './roles-page.js';
import './settings-page.js';
import { NAVIGATE_EVENT } from './screen.js';
import './sign-in.js';

interface Section {
  path: string;
  label: string;
  /** Any one of these lets the admin open the screen. */
  needs: ManagementPermission[];
}

const SECTIONS: Section[] = [
  { path: 'accounts', label: 'Service accounts', needs: ['service_accounts:read'] },
  { path: 'roles', label: 'Roles', needs: ['roles:write', 'service_accounts:read'] },
  { path: 'locations', label: 'Locations', needs: ['roles:write', 'service_accounts:read'] },
  { path: 'settings', label: 'API security settings', needs: ['settings:write', 'service_accounts:read'] },
  { path: 'audit', label: 'Audit trail', needs: ['audit:read'] },
];

@customElement('svcauth-console')
export class ConsoleApp extends LitElement {
  static override styles = [
    base,
    css`
      header {
        display: flex;
        flex-wrap: wrap;
        justify-content: space-between;
        align-items: center;
        gap: 0.5em;
        padding: 0.6em 1em;
        background: #10243e;
        color: #fff;
      }
      header .who {
        font-size: 0.85rem;
      }
      header button {
        color: #fff;
        border-color: #fff;
        background: transparent;
      }
      .layout {
        display: grid;
        grid-template-columns: 13em 1fr;
        min-height: 80vh;
      }
      nav ul {
        list-style: none;
        margin: 0;
        padding: 0.8em 0.5em;
      }
      nav a {
        display: block;
        padding: 0.45em 0.7em;
        border-radius: 6px;
        text-decoration: none;
      }
      nav a[aria-current='page'] {
        background: #e6eefc;
        font-weight: 600;
      }
      nav a[aria-disabled='true'] {
        color: #4d5561;
        cursor: not-allowed;
      }
      nav {
        border-right: 1px solid var(--border);
        background: var(--surface);
      }
      main {
        padding: 1em 1.4em 2em;
        min-width: 0;
      }
      @media (max-width: 760px) {
        .layout {
          grid-template-columns: 1fr;
        }
        nav {
          border-right: none;
          border-bottom: 1px solid var(--border);
        }
        nav ul {
          display: flex;
          flex-wrap: wrap;
          gap: 0.2em;
          padding: 0.4em;
        }
        main {
          padding: 0.8em;
        }
      }
    `,
  ];

  @property({ type: Boolean, attribute: 'hash-routing' }) accessor hashRouting = false;
  @property({ attribute: 'api-base' }) accessor apiBase = '';
  /** Embedded: the host page's function returning a management token (no sign-in form then). */
  @property({ attribute: false }) accessor tokenFunction: TokenFunction | null = null;
  @state() accessor connection: Connection | null = null;
  @state() accessor route = 'accounts';
  @state() accessor problem = '';

  readonly #onHashChange = () => this.#followHash();

  constructor() {
    super();
    this.addEventListener(NAVIGATE_EVENT, (event) =>
      this.#go((event as CustomEvent<{ path: string }>).detail.path),
    );
  }

  override connectedCallback(): void {
    super.connectedCallback();
    if (this.hashRouting) {
      addEventListener('hashchange', this.#onHashChange);
      this.#followHash();
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    removeEventListener('hashchange', this.#onHashChange);
    this.connection?.close();
  }

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('tokenFunction') && this.tokenFunction) {
      const connection = new Connection(this.apiBase || location.origin, this.tokenFunction);
      connection.open().then(
        () => (this.connection = connection),
        (error: unknown) => (this.problem = `The host page's token function failed: ${String(error)}`),
      );
    }
  }

  #followHash(): void {
    const path = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
    if (path) this.route = path;
  }

  #go(path: string): void {
    this.route = path;
    if (this.hashRouting && location.hash !== `#/${path}`) location.hash = `/${path}`;
  }

  #signOut(): void {
    this.connection?.close();
    this.connection = null;
    this.route = 'accounts';
    if (this.hashRouting) history.replaceState(null, '', location.pathname);
  }

  override render() {
    const c = this.connection;
    if (!c) {
      return html`<main>
        ${this.problem ? html`<div class="error" role="alert">${this.problem}</div>` : nothing}
        ${
          this.tokenFunction
            ? html`<p>Signing in…</p>`
            : html`<svcauth-sign-in
                api-base=${this.apiBase}
                @signed-in=${(e: CustomEvent<Connection>) => (this.connection = e.detail)}
              ></svcauth-sign-in>`
        }
      </main>`;
    }
    const section = this.route.split('/')[0] ?? 'accounts';
    return html`<header>
        <strong>svcauth console</strong>
        <span class="who"
          >Organization <code>${c.session.claims?.org_id}</code> · access ${c.accessLevel}</span
        >
        ${this.tokenFunction ? nothing : html`<button type="button" @click=${() => this.#signOut()}>Sign out</button>`}
      </header>
      <div class="layout">
        <nav aria-label="Console">
          <ul>
            ${SECTIONS.map((s) => {
              const allowed = s.needs.some((p) => c.has(p));
              return html`<li>
                <a
                  href="#/${s.path}"
                  aria-current=${section === s.path ? 'page' : nothing}
                  aria-disabled=${allowed ? nothing : 'true'}
                  title=${allowed ? nothing : `Needs the ${s.needs.join(' or ')} permission`}
                  @click=${(e: Event) => {
                    e.preventDefault();
                    if (allowed) this.#go(s.path);
                  }}
                  >${s.label}</a
                >
              </li>`;
            })}
          </ul>
        </nav>
        <main>${this.#screen(section, c)}</main>
      </div>`;
  }

  #screen(section: string, c: Connection) {
    const rest = this.route.split('/').slice(1).join('/');
    switch (section) {
      case 'accounts':
        return html`<svcauth-accounts .connection=${c} path=${rest}></svcauth-accounts>`;
      case 'roles':
        return html`<svcauth-roles .connection=${c}></svcauth-roles>`;
      case 'locations':
        return html`<svcauth-locations .connection=${c}></svcauth-locations>`;
      case 'settings':
        return html`<svcauth-settings .connection=${c}></svcauth-settings>`;
      case 'audit':
        return html`<svcauth-audit .connection=${c}></svcauth-audit>`;
      default:
        return html`<p>No such screen: ${section}.</p>`;
    }
  }
}
