/** Locations ("Network Locations"): where data lives; create, rename, delete an unused one. */
import { html, nothing } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { all, type Location, ok } from '../api/client.js';
import type { Connection } from '../connection.js';
import type { ConfirmDialog } from './confirm-dialog.js';
import './confirm-dialog.js';
import { formatTime, ScreenElement } from './screen.js';

@customElement('svcauth-locations')
export class LocationsPage extends ScreenElement {
  @state() accessor locations: Location[] = [];
  @state() accessor renaming: string | null = null;
  @state() accessor notice = '';
  @query('svcauth-confirm') accessor confirm!: ConfirmDialog;

  protected override async load(connection: Connection): Promise<void> {
    this.locations = await all((cursor) =>
      ok(connection.api.GET('/admin/v1/locations', { params: { query: { limit: 200, cursor } } })),
    );
  }

  async #create(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const connection = this.connection;
    if (!connection) return;
    const form = event.target as HTMLFormElement;
    const name = String(new FormData(form).get('name') ?? '');
    if (await this.attempt(() => ok(connection.api.POST('/admin/v1/locations', { body: { name } })))) {
      form.reset();
      this.notice = `Location ${name} created.`;
      await this.reload();
    }
  }

  async #rename(event: SubmitEvent, location: Location): Promise<void> {
    event.preventDefault();
    const connection = this.connection;
    if (!connection) return;
    const name = String(new FormData(event.target as HTMLFormElement).get('name') ?? '');
    const renamed = await this.attempt(() =>
      ok(
        connection.api.PATCH('/admin/v1/locations/{location_id}', {
          params: { path: { location_id: location.id } },
          body: { name },
        }),
      ),
    );
    if (renamed) {
      this.renaming = null;
      this.notice = `Location renamed to ${name}.`;
      await this.reload();
    }
  }

  async #delete(location: Location): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    const answer = await this.confirm.ask({
      title: `Delete ${location.name}?`,
      consequences: [
        'Only a location where no live service account is placed can be deleted; svcauth refuses otherwise.',
        'Roles narrowed to it by a role x location matrix no longer apply there.',
      ],
      confirmLabel: 'Delete location',
    });
    if (answer === null) return;
    const deleted = await this.attempt(() =>
      ok(
        connection.api.DELETE('/admin/v1/locations/{location_id}', {
          params: { path: { location_id: location.id } },
        }),
      ),
    );
    if (deleted) {
      this.notice = `Location ${location.name} deleted.`;
      await this.reload();
    }
  }

  override render() {
    const canWrite = this.connection?.has('roles:write') === true;
    return html`<section aria-labelledby="locations-title">
      <h1 id="locations-title">Locations</h1>
      ${this.renderProblem()}
      ${this.notice ? html`<p class="notice" role="status">${this.notice}</p>` : nothing}
      ${
        canWrite
          ? html`<form
              class="row"
              aria-label="New location"
              @submit=${(e: SubmitEvent) => void this.#create(e)}
            >
              <label for="location-name" class="sr-only">New location name</label>
              <input
                id="location-name"
                name="name"
                type="text"
                required
                maxlength="200"
                placeholder="New location name"
              />
              <button type="submit" class="primary" data-write="roles:write">Create location</button>
            </form>`
          : html`<p class="hint">${this.connection?.allows('roles:write').reason}.</p>`
      }
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Location</th>
              <th scope="col">Created</th>
              <th scope="col"><span class="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            ${this.locations.map(
              (l) =>
                html`<tr>
                  <td>
                    ${
                      this.renaming === l.id
                        ? html`<form class="row" @submit=${(e: SubmitEvent) => void this.#rename(e, l)}>
                            <label class="sr-only" for="rename-${l.id}">New name of ${l.name}</label>
                            <input id="rename-${l.id}" name="name" type="text" required .value=${l.name} />
                            <button type="submit" class="primary">Save</button>
                            <button type="button" @click=${() => (this.renaming = null)}>Cancel</button>
                          </form>`
                        : l.name
                    }
                  </td>
                  <td>${formatTime(l.created_at)}</td>
                  <td>
                    <div class="row">
                      ${this.gated('roles:write', 'Rename', () => (this.renaming = l.id), { name: `Rename ${l.name}` })}
                      ${this.gated('roles:write', 'Delete', () => void this.#delete(l), {
                        kind: 'danger',
                        name: `Delete ${l.name}`,
                      })}
                    </div>
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${this.locations.length === 0 && !this.loading ? html`<p>No locations yet.</p>` : nothing}
      <svcauth-confirm></svcauth-confirm>
    </section>`;
  }
}
