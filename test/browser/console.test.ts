import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../console/build.ts';
import { startEmbedExample } from '../../examples/console-embed/server.ts';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  RESOURCE_SERVER_SECRET_PREFIX,
  resourceServerEntry,
} from '../../src/domain/credential-format.ts';
import { CONSOLE_CSP } from '../../src/http/console-routes.ts';
import { createVerifier, type Verifier } from '../../src/resource-server/index.ts';
import { launchChromium, collectPageErrors, type TestBrowser } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import {
  adminApi,
  type AdminApi,
  adminToken,
  type BootstrappedAdmin,
  bootstrapAdmin,
  claimsOf,
  expectStatus,
  productToken,
} from '../integration/admin/admin-helpers.ts';

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SCREENSHOTS = path.resolve(import.meta.dirname, '../../docs/console');
const RESOURCE_SERVER = {
  name: 'items-api',
  secret: generateDeploymentSecret(RESOURCE_SERVER_SECRET_PREFIX),
};
const OPERATOR = { name: 'product', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };

/**
 * The admin console in a real Chromium against a real server: the seeds' workflows through the
 * screens, what a View-only admin sees, and axe on every screen. One browser and one page for the file.
 */
describe('admin console in a browser', { timeout: 60_000 }, () => {
  let server: TestServer;
  let chromium: TestBrowser;
  let page: Page;
  let pageErrors: string[];
  let admin: BootstrappedAdmin;
  let api: AdminApi;
  let kit: Verifier;
  const ids: Record<string, string> = {};
  let apiKey = '';

  beforeAll(async () => {
    [server, chromium] = await Promise.all([
      startTestServer({
        RESOURCE_SERVERS: resourceServerEntry(RESOURCE_SERVER.name, RESOURCE_SERVER.secret),
        OPERATORS: resourceServerEntry(OPERATOR.name, OPERATOR.secret),
      }),
      launchChromium(),
      buildConsole(),
    ]);
    admin = await bootstrapAdmin(server, 'console');
    // The product makes the first admin a groups administrator (the console then offers the flag).
    await platform('POST', `/organizations/${admin.orgId}/groups-admins:grant`, {
      service_account_id: admin.accountId,
    });
    kit = createVerifier({
      issuer: server.issuer,
      audience: `${server.issuer}/api`,
      credentials: RESOURCE_SERVER,
      revocation: { mode: 'feed' },
    });
    await kit.ready();
    api = adminApi(server, await adminToken(server, admin));
    await chromium.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.issuer });
    page = await chromium.context.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    // Generous waits: a busy two-core machine can take seconds per step; a wait ends as soon as it holds.
    page.setDefaultTimeout(20_000);
    pageErrors = collectPageErrors(page);
  }, 600_000);

  afterEach(async (context) => {
    if (context.task.result?.state === 'fail' && process.env.CONSOLE_DEBUG_SCREENSHOTS) {
      await page.screenshot({
        path: path.join(process.env.CONSOLE_DEBUG_SCREENSHOTS, `${context.task.name}.png`),
      });
    }
  });

  afterAll(async () => {
    await kit?.close();
    await chromium?.close();
    await server?.stop();
  });

  /** The product's side: the platform API with an operator secret. */
  async function platform(method: string, path: string, body: unknown) {
    const response = await fetch(`${server.issuer}/platform/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${OPERATOR.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok)
      throw new Error(`platform ${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<Record<string, unknown>>;
  }

  async function signIn(clientId: string, secret: string): Promise<void> {
    await page.goto(`${server.issuer}/console/`);
    await page.getByLabel('Client id').fill(clientId);
    await page.getByLabel('Client secret').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Service accounts' }).waitFor();
  }

  /** axe-core on the page as it is: no serious or critical violation (shadow roots included). */
  async function expectAccessible(screen: string): Promise<void> {
    await page.evaluate(AXE_SOURCE);
    const violations = await page.evaluate(async () => {
      const { axe, document } = globalThis as unknown as {
        axe: { run(context: unknown): Promise<AxeResults> };
        document: unknown;
      };
      const results = await axe.run(document);
      return results.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
    expect(violations, `axe on ${screen}`).toEqual([]);
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      fs.mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, `${screen}.png`), fullPage: true });
    }
  }

  it('serves the page under a strict Content-Security-Policy and signs in with a client id and secret', async () => {
    const response = await fetch(`${server.issuer}/console/`);
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy');
    expect(csp).toBe(CONSOLE_CSP);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);

    await page.goto(`${server.issuer}/console/`);
    await expectAccessible('sign-in');
    await page.getByLabel('Client id').fill(admin.clientId);
    await page.getByLabel('Client secret').fill('not-the-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/Sign-in failed/);

    await signIn(admin.clientId, admin.secret);
    await expect.poll(() => page.getByRole('row').count()).toBeGreaterThan(2);
    await expect(page.getByRole('cell', { name: /Built-in integration account/ }).count()).resolves.toBe(1);
    // The token lives in memory only.
    const stored = await page.evaluate('[localStorage.length, sessionStorage.length, document.cookie]');
    expect(stored).toEqual([0, 0, '']);
    await expectAccessible('accounts-list');
  });

  it('creates locations and roles in their screens', async () => {
    await page.getByRole('link', { name: 'Locations' }).click();
    for (const name of ['Paris', 'Berlin']) {
      await page.getByLabel('New location name').fill(name);
      await page.getByRole('button', { name: 'Create location' }).click();
      await page.getByRole('cell', { name, exact: true }).waitFor();
    }
    await expectAccessible('locations');

    await page.getByRole('link', { name: 'Roles' }).click();
    for (const [name, permission] of [
      ['Item reader', 'items:read'],
      ['Item writer', 'items:write'],
    ] as const) {
      await page.getByRole('button', { name: 'New role' }).click();
      await page.getByLabel('Name').fill(name);
      await page.getByRole('checkbox', { name: new RegExp(`^${permission} `) }).check();
      if (name === 'Item writer') {
        // Described as the deployment's catalog describes it (GET /admin/v1/permissions).
        await page
          .getByRole('checkbox', { name: /^items:write\s*Create, change and delete items$/ })
          .waitFor();
        await expectAccessible('role-form');
      }
      await page.getByRole('button', { name: 'Create role' }).click();
      await page.getByRole('cell', { name: new RegExp(`^${name}`) }).waitFor();
    }
    await expectAccessible('roles');
    const roles = expectStatus(await api.get('/roles?limit=200'), 200).items as Array<{
      name: string;
      permissions: string[];
    }>;
    expect(roles.find((r) => r.name === 'Item writer')?.permissions).toEqual(['items:write']);
    const locations = expectStatus(await api.get('/locations'), 200).items as Array<{
      id: string;
      name: string;
    }>;
    ids.paris = locations.find((l) => l.name === 'Paris')!.id;
    ids.berlin = locations.find((l) => l.name === 'Berlin')!.id;
  });

  it('creates an account across two locations with a matrix, and shows its API key once', async () => {
    await page.getByRole('link', { name: 'Service accounts' }).click();
    await page.getByRole('button', { name: 'New service account' }).click();
    await page.getByLabel('Name').fill('Zapier sync');
    await page.getByLabel('Description').fill('Pushes items to Zapier');
    await page.getByRole('checkbox', { name: 'Paris' }).check();
    await page.getByRole('checkbox', { name: 'Berlin' }).check();
    await page.getByRole('checkbox', { name: 'Item reader' }).check();
    await page.getByRole('checkbox', { name: 'Item writer' }).check();
    // Offered because the admin is a groups administrator itself.
    await expect(page.getByRole('checkbox', { name: /Groups admin/ }).count()).resolves.toBe(1);
    await page.getByRole('button', { name: /matrix/ }).click();
    await page.getByRole('checkbox', { name: 'Item writer at Berlin' }).uncheck();
    await expectAccessible('account-matrix');
    await page.getByRole('button', { name: 'Done' }).click();
    await expectAccessible('account-create');
    await page.getByRole('button', { name: 'Create service account' }).click();

    const secret = page.getByLabel(/API key of/);
    await secret.waitFor();
    apiKey = await secret.inputValue();
    expect(apiKey).toMatch(/\S{20,}/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.evaluate('navigator.clipboard.readText()')).toBe(apiKey);
    await expectAccessible('secret-once');
    // "Done" does nothing until the admin says the key is stored.
    await page.getByRole('button', { name: 'Done' }).click({ force: true });
    await expect(secret.count()).resolves.toBe(1);
    await page.getByRole('checkbox', { name: 'I have stored it' }).check();
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('heading', { name: /Zapier sync/ }).waitFor();
    await expect(page.getByLabel(/API key of/).count()).resolves.toBe(0);
    await expectAccessible('account-detail');

    // The key works at /token, and the token carries what the matrix says.
    const token = await productToken(server, 'api', apiKey);
    expect(claimsOf(token).permissions).toEqual({
      [ids.paris!]: ['items:read', 'items:write'],
      [ids.berlin!]: ['items:read'],
    });
    expect((await kit.verify(token)).can('items:write', ids.paris!)).toBe(true);
    ids.account = claimsOf(token).sub;
    ids.token = token;
  });

  it('edits the account behind a warning, and the kit refuses the token issued before', async () => {
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('checkbox', { name: 'Item writer' }).uncheck();
    await page.getByRole('button', { name: 'Save changes' }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.textContent()).resolves.toMatch(/tokens issued before this change are refused/);
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: /Zapier sync/ }).waitFor();
    await expect
      .poll(() =>
        kit.verify(ids.token!).then(
          () => 'accepted',
          (error: Error) => error.message,
        ),
      )
      .not.toBe('accepted');
    const fresh = await productToken(server, 'api', apiKey);
    expect(claimsOf(fresh).permissions).toEqual({
      [ids.paris!]: ['items:read'],
      [ids.berlin!]: ['items:read'],
    });
    expect((await kit.verify(fresh)).can('items:write', ids.paris!)).toBe(false);
  });

  it('adds, rotates, regenerates and revokes credentials behind confirmations, and archives', async () => {
    await page.getByRole('button', { name: 'Add credential' }).click();
    await page.getByRole('radio', { name: 'OAuth client' }).check();
    await page.getByLabel('Name').fill('ETL client');
    await page.getByRole('button', { name: 'Create credential' }).click();
    const secret = page.getByLabel(/Client secret of ETL client/);
    await secret.waitFor();
    const clientId = (await page.locator('[data-client-id]').textContent())!;
    const clientSecret = await secret.inputValue();
    await productToken(server, clientId, clientSecret);
    await page.getByRole('checkbox', { name: 'I have stored it' }).check();
    await page.getByRole('button', { name: 'Done' }).click();

    // Rotate: the dialog says the old primary keeps working as the secondary.
    await page.getByRole('button', { name: 'Rotate ETL client' }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.textContent()).resolves.toMatch(/becomes the secondary and keeps working/);
    await expectAccessible('confirm-rotate');
    await dialog.getByRole('button', { name: 'Rotate' }).click();
    const rotated = page.getByLabel(/Client secret of/);
    await rotated.waitFor();
    const rotatedSecret = await rotated.inputValue();
    const rotatedId = (await page.locator('[data-client-id]').textContent())!;
    await productToken(server, rotatedId, rotatedSecret);
    await productToken(server, clientId, clientSecret);
    await page.getByRole('checkbox', { name: 'I have stored it' }).check();
    await page.getByRole('button', { name: 'Done' }).click();
    await expectAccessible('credentials');

    // Revoke the old one (now secondary), with the keyboard only: the dialog opens on Cancel, Escape
    // cancels; then confirm.
    const oldRow = page.locator(`tr:has(code:text-is("${clientId}"))`);
    await oldRow.getByRole('button', { name: /^Revoke/ }).focus();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('dialog').textContent()).resolves.toMatch(/can no longer get tokens/);
    await expect
      .poll(() =>
        page
          .getByRole('dialog')
          .getByRole('button', { name: 'Cancel' })
          .evaluate((b) => b.matches(':focus')),
      )
      .toBe(true);
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog').count()).resolves.toBe(0);
    expect((await fetchToken(clientId, clientSecret)).status).toBe(200);
    await oldRow.getByRole('button', { name: /^Revoke/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(async () => (await fetchToken(clientId, clientSecret)).status).toBe(401);

    // Regenerate the new primary with no grace: the old secret stops, the new one works.
    const primaryRow = page.locator(`tr:has(code:text-is("${rotatedId}"))`);
    await primaryRow.getByRole('button', { name: /^Regenerate/ }).click();
    await page.getByLabel(/Grace period/).fill('0');
    await page.getByRole('dialog').getByRole('button', { name: 'Regenerate' }).click();
    const regenerated = page.getByLabel(/Client secret of/);
    await regenerated.waitFor();
    const regeneratedSecret = await regenerated.inputValue();
    await page.getByRole('checkbox', { name: 'I have stored it' }).check();
    await page.getByRole('button', { name: 'Done' }).click();
    expect((await fetchToken(rotatedId, rotatedSecret)).status).toBe(401);
    expect((await fetchToken(rotatedId, regeneratedSecret)).status).toBe(200);

    // Archive: every credential stops.
    await page.getByRole('button', { name: 'Archive' }).click();
    await expect(page.getByRole('dialog').textContent()).resolves.toMatch(
      /Every credential of this account is revoked/,
    );
    await expectAccessible('confirm-archive');
    await page.getByRole('dialog').getByRole('button', { name: 'Archive account' }).click();
    await page.locator('.badge.archived').first().waitFor();
    expect((await fetchToken(rotatedId, regeneratedSecret)).status).toBe(401);

    // An archived account can be removed for good (its audit trail stays).
    await page.getByRole('button', { name: 'Delete for good' }).click();
    await expect(page.getByRole('dialog').textContent()).resolves.toMatch(/cannot be undone/);
    await page.getByRole('dialog').getByRole('button', { name: 'Delete for good' }).click();
    await page.getByRole('heading', { name: 'Service accounts' }).waitFor();
    expect((await api.get(`/service-accounts/${ids.account}`)).status).toBe(404);
  });

  it('changes the API security settings behind a warning, within the limits the product sets', async () => {
    await platform('PATCH', `/organizations/${admin.orgId}/settings`, {
      limits: { access_token_ttl_seconds: 900 },
    });
    await page.getByRole('link', { name: 'API security settings' }).click();
    await expect(page.getByLabel('Access-token lifetime (seconds)').getAttribute('max')).resolves.toBe('900');
    await page.getByText('60 to 900 (the limit the product sets)').waitFor();
    await page.getByLabel('Access-token lifetime (seconds)').fill('600');
    await page.getByRole('checkbox', { name: /private_key_jwt/ }).uncheck();
    await expectAccessible('settings');
    await page.getByRole('button', { name: 'Save settings' }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.textContent()).resolves.toMatch(/private_key_jwt stop getting tokens/);
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Settings saved' }).waitFor();
    const settings = expectStatus(await api.get('/settings'), 200);
    expect(settings.access_token_ttl_seconds).toBe(600);
    expect(settings.allowed_credential_types).toEqual(['api_key', 'oauth_client']);
  });

  it('reads the audit trail with filters', async () => {
    await page.getByRole('link', { name: 'Audit trail' }).click();
    await page.locator('tr[data-action="settings.updated"]').first().waitFor();
    await page.getByLabel('Action').fill('credential.revoked');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const actions = () =>
      page.locator('tr[data-action]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
    await expect.poll(async () => new Set(await actions())).toEqual(new Set(['credential.revoked']));
    await expectAccessible('audit');
  });

  it('names the holders before a held role is marked not assignable, and takes it from them on request', async () => {
    const exporter = expectStatus(
      await api.post('/roles', { name: 'Exporter', permissions: ['items:read'] }),
      201,
    );
    const holder = expectStatus(
      await api.post('/service-accounts', {
        name: 'Nightly export',
        all_locations: true,
        roles: [{ role_id: exporter.id }],
      }),
      201,
    );
    await page.getByRole('link', { name: 'Roles' }).click();
    await page.getByRole('button', { name: 'Edit Exporter' }).click();
    await page.getByRole('checkbox', { name: 'Service accounts may hold this role' }).uncheck();
    await page.getByRole('button', { name: 'Save role' }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.textContent()).resolves.toMatch(
      /1 service account holds Exporter[\s\S]*Held by: Nightly export/,
    );
    await expectAccessible('confirm-role-holders');
    await dialog.getByRole('button', { name: 'Take it from them and save' }).click();
    await page.getByRole('status').filter({ hasText: 'Role Exporter saved' }).waitFor();
    const after = expectStatus(await api.get(`/service-accounts/${holder.id}`), 200);
    expect([after.status, after.roles]).toEqual(['disabled', []]);
  });

  it('searches the account list by name and filters it by status, role and location', async () => {
    await page.getByRole('link', { name: 'Service accounts' }).click();
    const names = () =>
      page
        .locator('tbody tr td:first-child a')
        .evaluateAll((links) => links.map((a) => a.textContent?.trim()));
    await expect.poll(names).toContain('Nightly export');
    await expect(
      page
        .locator('tr', { has: page.getByRole('link', { name: 'Bootstrap admin', exact: true }) })
        .textContent(),
    ).resolves.toMatch(/1 active/);
    await page.getByLabel('Name contains').fill('NIGHTLY');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(names).toEqual(['Nightly export']);
    await page.getByLabel('Name contains').fill('');
    await page.getByLabel('Status').selectOption('disabled');
    await expect
      .poll(async () => (await names()).sort())
      .toEqual(['Built-in integration account', 'Nightly export']);
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Role').selectOption({ label: 'Everything in the product' });
    await expect.poll(names).toEqual(['Bootstrap admin']);
    await page.getByLabel('Role').selectOption('');
    await page.getByLabel('Location').selectOption({ label: 'Berlin' });
    await expect.poll(async () => (await names()).includes('Nightly export')).toBe(true);
    await expectAccessible('accounts-filtered');
    await page.getByLabel('Location').selectOption('');
  });

  it('reads well at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.getByRole('link', { name: 'Service accounts' }).click();
      await page.getByRole('link', { name: 'Nightly export' }).waitFor();
      // Nothing but a table's own scroller is wider than the screen.
      await expect(page.evaluate('document.documentElement.scrollWidth <= innerWidth')).resolves.toBe(true);
      await expectAccessible('phone');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('shows a View-only admin no usable write control, each saying why', async () => {
    const viewer = expectStatus(
      await api.post('/roles', { name: 'Viewer', permissions: ['service_accounts:read'] }),
      201,
    );
    const account = expectStatus(
      await api.post('/service-accounts', {
        name: 'Auditor',
        all_locations: true,
        roles: [{ role_id: viewer.id }],
      }),
      201,
    );
    const credential = expectStatus(
      await api.post(`/service-accounts/${account.id}/credentials`, {
        name: 'console',
        type: 'oauth_client',
      }),
      201,
    );
    await signIn(credential.client_id, credential.client_secret);
    const writeControls = () =>
      page.locator('[data-write]').evaluateAll((elements) =>
        elements.map((e) => ({
          disabled: e.getAttribute('aria-disabled'),
          title: e.getAttribute('title'),
        })),
      );
    async function expectNoUsableWriteControl(screen: string) {
      const controls = await writeControls();
      expect(controls, screen).not.toEqual([]);
      for (const control of controls) {
        expect(control.disabled, screen).toBe('true');
        expect(control.title, screen).toMatch(
          /^Needs the [a-z_]+:[a-z]+ permission; your access to service accounts is View/,
        );
      }
    }
    await expectNoUsableWriteControl('accounts');
    await page.getByRole('link', { name: 'Auditor' }).click();
    await page.getByRole('heading', { name: 'Credentials' }).waitFor();
    await expect.poll(async () => (await writeControls()).length).toBeGreaterThan(2);
    await expectNoUsableWriteControl('account');
    await expectAccessible('view-only-account');
    for (const [link, heading] of [
      ['Roles', 'Roles'],
      ['Locations', 'Locations'],
      ['API security settings', 'API security settings'],
    ] as const) {
      await page.getByRole('link', { name: link }).click();
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      await page.locator('[data-write]').first().waitFor();
      await expectNoUsableWriteControl(link);
    }
    // The settings form is read-only, and the audit trail (audit:read) is not offered.
    await expect(page.getByLabel('Access-token lifetime (seconds)').isDisabled()).resolves.toBe(true);
    await expect(page.getByRole('link', { name: 'Audit trail' }).getAttribute('aria-disabled')).resolves.toBe(
      'true',
    );
    expect(pageErrors).toEqual([]);
  });

  it("mounts one component in the example host page, with the host's token function, refreshed before expiry", async () => {
    const host = await startEmbedExample({
      svcauthUrl: server.issuer,
      clientId: admin.clientId,
      clientSecret: admin.secret,
      // The host reports a short lifetime: the component must ask again before it runs out.
      reportedExpiresIn: 3,
    });
    const hostPage = await chromium.context.newPage();
    const hostErrors = collectPageErrors(hostPage);
    try {
      await hostPage.goto(`${host.url}/`);
      await hostPage.getByRole('heading', { name: 'Service accounts' }).waitFor();
      await hostPage.getByRole('link', { name: 'Built-in integration account' }).waitFor();
      await hostPage.getByRole('button', { name: 'New service account' }).click();
      await hostPage.getByLabel('Name').fill('Embedded import job');
      await hostPage.getByRole('checkbox', { name: /All locations/ }).check();
      await hostPage.getByRole('checkbox', { name: 'Item reader' }).check();
      await hostPage.getByRole('button', { name: 'Create service account' }).click();
      await hostPage.getByLabel(/API key of/).waitFor();
      await hostPage.getByRole('checkbox', { name: 'I have stored it' }).check();
      await hostPage.getByRole('button', { name: 'Done' }).click();
      await hostPage.getByRole('heading', { name: /Embedded import job/ }).waitFor();
      // The host's styles stay outside the component's shadow root.
      const fonts = await hostPage.evaluate(
        `[getComputedStyle(document.querySelector('h1')).fontFamily,
          getComputedStyle(document.querySelector('svcauth-accounts')).fontFamily]`,
      );
      expect(fonts).toEqual([expect.stringMatching(/Georgia/), expect.not.stringMatching(/Georgia/)]);
      await expect.poll(() => host.tokenRequests(), { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
      const audit = expectStatus(await api.get('/audit-events?action=service_account.created&limit=5'), 200);
      expect(audit.items[0].actor_account_id).toBe(admin.accountId);
      expect(hostErrors).toEqual([]);
      if (process.env.UPDATE_SCREENSHOTS === '1') {
        await hostPage.screenshot({ path: path.join(SCREENSHOTS, 'embedded.png'), fullPage: true });
      }
    } finally {
      await hostPage.close();
      await host.close();
    }
  });

  function fetchToken(clientId: string, secret: string) {
    return fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
    });
  }
});

interface AxeResults {
  violations: Array<{ id: string; impact?: string | null; help: string; nodes: Array<{ target: string[] }> }>;
}
