/** The audit trail, newest first, filtered by action, object, acting account and time. */
import { html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { type AuditEvent, type AuditQuery, ok } from '../api/client.js';
import type { Connection } from '../connection.js';
import {
  type CursorPages,
  currentCursor,
  FIRST_PAGE,
  type PageDirection,
  pageNavigation,
  turnPage,
  withNext,
} from './cursor-pages.js';
import { formatTime, ScreenElement } from './screen.js';

const PAGE_SIZE = 50;

@customElement('svcauth-audit')
export class AuditPage extends ScreenElement {
  @state() accessor events: AuditEvent[] = [];
  @state() accessor filters: AuditQuery = {};
  @state() accessor pages: CursorPages = FIRST_PAGE;

  protected override async load(connection: Connection): Promise<void> {
    const page = await ok(
      connection.api.GET('/admin/v1/audit-events', {
        params: { query: { ...this.filters, limit: PAGE_SIZE, cursor: currentCursor(this.pages) } },
      }),
    );
    this.events = page.items;
    this.pages = withNext(this.pages, page.next_cursor);
  }

  #filter(event: SubmitEvent): void {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    const text = (name: string) => String(data.get(name) ?? '').trim() || undefined;
    const instant = (name: string) => {
      const value = text(name);
      return value ? new Date(value).toISOString() : undefined;
    };
    this.filters = {
      action: text('action'),
      target_id: text('target_id'),
      actor_account_id: text('actor_account_id'),
      since: instant('since'),
      until: instant('until'),
    };
    this.pages = turnPage(this.pages, 'first');
    void this.reload();
  }

  #page(direction: PageDirection): void {
    this.pages = turnPage(this.pages, direction);
    void this.reload();
  }

  override render() {
    return html`<section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit trail</h1>
      <form aria-label="Filters" @submit=${(e: SubmitEvent) => this.#filter(e)}>
        <div class="filters">
          <div>
            <label for="audit-action">Action</label>
            <input id="audit-action" name="action" type="text" placeholder="e.g. credential.revoked" />
          </div>
          <div>
            <label for="audit-target">Object id</label>
            <input id="audit-target" name="target_id" type="text" />
          </div>
          <div>
            <label for="audit-actor">Acting account id</label>
            <input id="audit-actor" name="actor_account_id" type="text" />
          </div>
          <div>
            <label for="audit-since">From</label>
            <input id="audit-since" name="since" type="datetime-local" />
          </div>
          <div>
            <label for="audit-until">Until</label>
            <input id="audit-until" name="until" type="datetime-local" />
          </div>
        </div>
        <div class="row"><button type="submit" class="primary">Apply filters</button></div>
      </form>
      ${this.renderProblem()}
      <div class="table-wrap">
        <table aria-busy=${this.loading ? 'true' : 'false'}>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">By</th>
              <th scope="col">Object</th>
              <th scope="col">Change</th>
            </tr>
          </thead>
          <tbody>
            ${this.events.map(
              (e) =>
                html`<tr data-action=${e.action}>
                  <td>${formatTime(e.occurred_at)}</td>
                  <td>
                    <code>${e.action}</code>
                    ${e.outcome === 'failure' ? html`<span class="badge revoked">failed</span>` : nothing}
                  </td>
                  <td>
                    ${
                      e.actor_kind === 'service_account'
                        ? html`<code>${e.actor_account_id}</code>`
                        : e.actor_kind === 'operator'
                          ? `operator ${e.actor_operator ?? ''}`
                          : 'svcauth'
                    }
                    ${e.source_ip ? html`<div class="hint">from ${e.source_ip}</div>` : nothing}
                  </td>
                  <td>
                    ${e.target_type ?? ''}
                    ${e.target_id ? html`<div><code>${e.target_id}</code></div>` : nothing}
                  </td>
                  <td>
                    ${
                      e.diff
                        ? html`<details>
                            <summary>Details</summary>
                            <pre class="mono">${JSON.stringify(e.diff, null, 2)}</pre>
                          </details>`
                        : nothing
                    }
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${this.events.length === 0 && !this.loading ? html`<p>No events match.</p>` : nothing}
      ${pageNavigation(this.pages, { previous: 'Newer events', next: 'Older events' }, (direction) =>
        this.#page(direction),
      )}
    </section>`;
  }
}
