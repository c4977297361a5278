import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { openDatabase } from '../../../src/persistence/database.ts';
import { Fixtures } from '../../helpers/fixtures.ts';
import { startTestServer } from '../../helpers/test-server.ts';
import { RESOURCE_SERVER } from './revocation-helpers.ts';

it('an API key checked at /introspect counts as a use: last_used_at moves, the last address stays', async () => {
  const server = await startTestServer({
    RESOURCE_SERVERS: `${RESOURCE_SERVER.name}:${createHash('sha256').update(RESOURCE_SERVER.secret).digest('hex')}`,
  });
  try {
    const fixtures = new Fixtures(server.database.db);
    const org = await fixtures.organization();
    const role = await fixtures.role(org.id, ['items:read']);
    const account = await fixtures.account(org.id, { allLocations: true, roles: [{ roleId: role.id }] });
    const key = await fixtures.credential(org.id, account.id, 'api_key');
    const basic = Buffer.from(`${RESOURCE_SERVER.name}:${RESOURCE_SERVER.secret}`).toString('base64');
    const answer = await fetch(`${server.issuer}/introspect`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: key.secret! }).toString(),
    });
    expect(await answer.json()).toMatchObject({ active: true, client_id: key.clientId });

    // Usage is written in batches; shutting down writes what is pending.
    await server.close();
    const database = await openDatabase(server.config.database);
    try {
      const row = await database.db
        .selectFrom('credentials')
        .select(['last_used_at', 'last_used_ip'])
        .where('id', '=', key.id)
        .executeTakeFirstOrThrow();
      expect(row.last_used_at).toBeInstanceOf(Date);
      // The caller of /introspect is the resource server, whose address says nothing about the key.
      expect(row.last_used_ip).toBeNull();
    } finally {
      await database.close();
    }
  } finally {
    await server.stop();
  }
}, 30_000);
