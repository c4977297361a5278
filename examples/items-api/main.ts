/**
 * Starts the items API from the environment:
 *
 *   SVCAUTH_ISSUER             svcauth's issuer (required)
 *   AUDIENCE                   this API's audience (default <SVCAUTH_ISSUER>/api)
 *   PORT                       default 4000
 *   RESOURCE_SERVER_NAME/SECRET  the credential listed in svcauth's RESOURCE_SERVERS; without it the
 *                              API trusts tokens until they expire and refuses API keys
 *   ITEMS_FILE                 a JSON array of { id, org_id, location_id, title, private }; without it,
 *   DEMO_ORG_ID,               demo items (three per location) for this organization and these
 *   DEMO_LOCATION_IDS          comma-separated location ids
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVerifier } from '../../src/resource-server/index.ts';
import { createItemsApi } from './app.ts';
import { demoItems, type Item } from './items.ts';

function loadItems(env: NodeJS.ProcessEnv): Item[] {
  if (env.ITEMS_FILE) {
    const rows = JSON.parse(fs.readFileSync(env.ITEMS_FILE, 'utf8')) as Array<Record<string, unknown>>;
    return rows.map((row) => ({
      id: String(row.id),
      orgId: String(row.org_id),
      locationId: String(row.location_id),
      title: String(row.title),
      private: row.private === true,
    }));
  }
  return demoItems(env.DEMO_ORG_ID ?? '', (env.DEMO_LOCATION_IDS ?? '').split(',').filter(Boolean));
}

async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const issuer = env.SVCAUTH_ISSUER;
  if (!issuer) throw new Error('SVCAUTH_ISSUER is required (svcauth issuer URL)');
  const name = env.RESOURCE_SERVER_NAME;
  const secret = env.RESOURCE_SERVER_SECRET;
  const verifier = createVerifier({
    issuer,
    audience: env.AUDIENCE || `${issuer.replace(/\/$/, '')}/api`,
    ...(name && secret ? { credentials: { name, secret } } : { revocation: { mode: 'none' as const } }),
    onError: (error) => process.stderr.write(`items-api: ${error.message}\n`),
  });
  await verifier.ready();
  const server = http.createServer(createItemsApi({ verifier, items: loadItems(env) }).callback());
  await new Promise<void>((resolve) => server.listen(Number(env.PORT ?? 4000), resolve));
  process.stdout.write(`items-api listening on port ${(server.address() as AddressInfo).port}\n`);
  const stop = () => {
    server.close();
    server.closeIdleConnections();
    void verifier.close();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main(process.env).catch((error: Error) => {
  console.error(`items-api: ${error.message}`);
  process.exitCode = 1;
});
