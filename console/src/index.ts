/**
 * svcauth's admin console as web components. The page at /console uses <svcauth-console>; a product
 * embeds any screen (e.g. <svcauth-accounts>) with a token function:
 *
 *   <script type="module" src="https://auth.example.com/console/svcauth-console.js"></script>
 *   <svcauth-accounts api-base="https://auth.example.com"></svcauth-accounts>
 *   document.querySelector('svcauth-accounts').tokenFunction = () => fetch('/my-token').then((r) => r.json());
 */
export { ConsoleApp } from './components/console-app.js';
export { Accounts } from './components/accounts.js';
export { AuditPage } from './components/audit-page.js';
export { LocationsPage } from './components/locations-page.js';
export { RolesPage } from './components/roles-page.js';
export { SettingsPage } from './components/settings-page.js';
export { Connection } from './connection.js';
export { Session, type TokenFunction, type TokenGrant } from './session.js';
