/**
 * What every screen shares: the connection (from the console shell, or made from a host page's token
 * function and api-base when the screen is embedded alone), loading on connect, a problem shown as an
 * alert, navigation events, and controls gated by the admin's permissions.
 */
import { html, LitElement, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import { ApiError } from '../api/client.js';
import { Connection, type ManagementPermission } from '../connection.js';
import type { TokenFunction } from '../session.js';
import { base } from '../styles.js';

export const NAVIGATE_EVENT = 'svcauth-navigate';

export abstract class ScreenElement extends LitElement {
  static override styles = [base];

  /** Set by the console shell (or a parent screen). */
  @property({ attribute: false }) accessor connection: Connection | null = null;
  /** Embedded alone: where the management API is (default: this page's origin). */
  @property({ attribute: 'api-base' }) accessor apiBase = '';
  /** Embedded alone: the host page's function returning a management token. */
  @property({ attribute: false }) accessor tokenFunction: TokenFunction | null = null;
  @state() protected accessor problem = '';
  @state() protected accessor loading = false;
  #ownConnection: Connection | null = null;

  override willUpdate(changed: PropertyValues<this>): void {
    if ((changed.has('tokenFunction') || changed.has('apiBase')) && this.tokenFunction && !this.connection) {
      const connection = new Connection(this.apiBase || location.origin, this.tokenFunction);
      this.#ownConnection = connection;
      connection.open().then(
        () => {
          if (this.#ownConnection === connection) this.connection = connection;
        },
        (error: unknown) => this.fail(error),
      );
    }
  }

  override updated(changed: PropertyValues<this>): void {
    if (changed.has('connection') && this.connection) void this.reload();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#ownConnection?.close();
    this.#ownConnection = null;
  }

  /** Loads what the screen shows; a failure becomes the screen's alert. */
  async reload(): Promise<void> {
    if (!this.connection) return;
    this.loading = true;
    try {
      await this.load(this.connection);
      this.problem = '';
    } catch (error) {
      this.fail(error);
    } finally {
      this.loading = false;
    }
  }

  protected abstract load(connection: Connection): Promise<void>;

  protected fail(error: unknown): void {
    this.problem =
      error instanceof ApiError ? error.describe() : error instanceof Error ? error.message : String(error);
  }

  /** Runs an action, showing its refusal as the screen's alert; true when it succeeded. */
  protected async attempt(action: () => Promise<unknown>): Promise<boolean> {
    try {
      await action();
      this.problem = '';
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  }

  protected navigate(path: string): void {
    this.dispatchEvent(new CustomEvent(NAVIGATE_EVENT, { detail: { path }, bubbles: true, composed: true }));
  }

  protected renderProblem(): TemplateResult | typeof nothing {
    return this.problem ? html`<div class="error" role="alert">${this.problem}</div>` : nothing;
  }

  /**
   * A button that needs `permission`: without it, it stays visible and focusable but inert
   * (aria-disabled), and says on hover (title, read as its description) what it would need.
   */
  protected gated(
    permission: ManagementPermission,
    label: string,
    onClick: () => void,
    options: { kind?: string; blocked?: string; name?: string } = {},
  ): TemplateResult {
    const { allowed, reason } = this.connection?.allows(permission) ?? {
      allowed: false,
      reason: 'Not signed in',
    };
    const blocked = !allowed ? reason : (options.blocked ?? '');
    return html`<button
      type="button"
      class=${options.kind ?? ''}
      data-write=${permission}
      aria-label=${options.name ?? nothing}
      aria-disabled=${blocked ? 'true' : nothing}
      title=${blocked || nothing}
      @click=${blocked ? noop : onClick}
    >
      ${label}
    </button>`;
  }
}

function noop(): void {}

export function formatTime(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
