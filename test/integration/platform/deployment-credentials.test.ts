import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  resourceServerEntry,
} from '../../../src/domain/credential-format.ts';
import type { OpenApiResponseValidator } from '../../helpers/openapi-responses.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { basic, platformApi, servedDocument } from './platform-helpers.ts';

/**
 * Issue 15: every CLI operation has an API equivalent. `resource-server-credential`,
 * `operator-credential` and `keys rotate` through /platform/v1: made, used, revoked, audited.
 */
const OPERATOR = { name: 'ops-configured', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };

describe('the deployment through the platform API', () => {
  let server: TestServer;
  let documented: OpenApiResponseValidator;
  const asOperator = (authorization: string) => platformApi(server, authorization, documented);
  const configured = () => asOperator(basic(OPERATOR.name, OPERATOR.secret));

  const introspect = (authorization: string) =>
    fetch(`${server.issuer}/introspect`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'not-a-token' }).toString(),
    });

  beforeAll(async () => {
    server = await startTestServer({ OPERATORS: resourceServerEntry(OPERATOR.name, OPERATOR.secret) });
    documented = await servedDocument(server);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('makes a resource server whose secret works at once at /introspect and /revocations, until revoked', async () => {
    const made = await configured()('POST', '/resource-servers', { name: 'orders-api' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      name: 'orders-api',
      status: 'active',
      created_by_operator: OPERATOR.name,
    });
    const secret = made.body.secret as string;
    expect(secret).toMatch(/^svcrs_/);
    const authorization = basic('orders-api', secret);

    const answered = await introspect(authorization);
    expect(answered.status).toBe(200);
    expect(await answered.json()).toEqual({ active: false });
    const feed = await fetch(`${server.issuer}/revocations`, {
      headers: { authorization, accept: 'application/json' },
    });
    expect(feed.status).toBe(200);
    // The wrong secret under that name is refused like an unknown name.
    expect((await introspect(basic('orders-api', 'svcrs_wrong'))).status).toBe(401);

    // Listed without the secret; the name is taken while it lives.
    const listed = await configured()('GET', '/resource-servers');
    expect(listed.body.items).toContainEqual(
      expect.objectContaining({ id: made.body.id, name: 'orders-api' }),
    );
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    const again = await configured()('POST', '/resource-servers', { name: 'orders-api' });
    expect(again.status).toBe(409);
    expect(again.body.type).toMatch(/\/name_taken$/);

    // A stream it holds open is ended by the revocation, not left until it reconnects.
    const stream = await fetch(`${server.issuer}/revocations`, {
      headers: { authorization, accept: 'text/event-stream' },
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/event: snapshot/);
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return true;
    })();

    const revoked = await configured()('POST', `/resource-servers/${made.body.id}:revoke`, {});
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ status: 'revoked', revoked_by_operator: OPERATOR.name });
    expect((await introspect(authorization)).status).toBe(401);
    expect(await ended).toBe(true);
    // Revoking again changes nothing; the name is free again.
    expect((await configured()('POST', `/resource-servers/${made.body.id}:revoke`, {})).status).toBe(200);
    expect((await configured()('POST', '/resource-servers', { name: 'orders-api' })).status).toBe(201);
  });

  it('rotates operator credentials without downtime, and never revokes the one in use', async () => {
    const first = await configured()('POST', '/operator-credentials', { name: 'ops-2026-11' });
    expect(first.status).toBe(201);
    const firstAuth = basic('ops-2026-11', first.body.secret as string);
    expect((await asOperator(firstAuth)('GET', '/organizations')).status).toBe(200);
    // Bearer works too, like the configured operators.
    expect((await asOperator(`Bearer ${first.body.secret}`)('GET', '/organizations')).status).toBe(200);

    const second = await asOperator(firstAuth)('POST', '/operator-credentials', { name: 'ops-2026-12' });
    expect(second.status).toBe(201);
    const secondAuth = basic('ops-2026-12', second.body.secret as string);
    // Both work at once (the rotation window).
    for (const authorization of [firstAuth, secondAuth]) {
      expect((await asOperator(authorization)('GET', '/organizations')).status).toBe(200);
    }
    // The request's own credential cannot be revoked; another operator credential can.
    const own = await asOperator(firstAuth)('POST', `/operator-credentials/${first.body.id}:revoke`, {});
    expect(own.status).toBe(409);
    expect(own.body.type).toMatch(/\/own_operator_credential$/);
    expect(own.body.detail).toMatch(/authenticate with another operator credential/);
    const revoked = await asOperator(secondAuth)('POST', `/operator-credentials/${first.body.id}:revoke`, {});
    expect(revoked.status).toBe(200);
    expect((await asOperator(firstAuth)('GET', '/organizations')).status).toBe(401);
    expect((await asOperator(secondAuth)('GET', '/organizations')).status).toBe(200);

    // A configured name cannot be taken; an unknown or malformed id names nothing.
    expect((await configured()('POST', '/operator-credentials', { name: OPERATOR.name })).status).toBe(409);
    expect(
      (await configured()('POST', '/operator-credentials/00000000-0000-4000-8000-000000000000:revoke', {}))
        .status,
    ).toBe(404);
    expect((await configured()('POST', '/operator-credentials/nope:revoke', {})).status).toBe(404);
    const badName = await configured()('POST', '/operator-credentials', { name: 'has spaces' });
    expect(badName.status).toBe(400);
    expect(badName.body.type).toMatch(/\/validation_failed$/);
    expect(badName.body.detail).toMatch(/letters, digits/);

    expect((await configured()('GET', '/operator-credentials')).status).toBe(200);
    // Every change and every read is in the platform audit list, by operator name, and no secret is.
    const audit = await configured()('GET', '/audit?limit=50');
    expect(audit.status).toBe(200);
    const actions = (audit.body.items as Array<{ action: string }>).map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'operator_credential.created',
        'operator_credential.revoked',
        'operator_credentials.listed',
        'resource_server_credentials.listed',
      ]),
    );
    expect(JSON.stringify(audit.body)).not.toContain(second.body.secret as string);
  });

  it('rotates the signing keys: the new key is published at once and signs only after the /jwks cache lifetime', async () => {
    const before = await configured()('GET', '/signing-keys');
    expect(before.status).toBe(200);
    const signing = (before.body.items as Array<{ kid: string; state: string }>).find(
      (k) => k.state === 'signing',
    )!;
    expect(signing).toBeDefined();

    const tooSoon = await configured()('POST', '/signing-keys:rotate', { activate_in_seconds: 5 });
    expect(tooSoon.status).toBe(422);
    expect(tooSoon.body.type).toMatch(/\/invalid_settings$/);
    expect(tooSoon.body.detail).toMatch(/activate_in_seconds must be between 70/);

    const rotated = await configured()('POST', '/signing-keys:rotate', {});
    expect(rotated.status).toBe(201);
    expect(rotated.body.added).toMatchObject({ state: 'pending', retires_at: null });
    expect(Date.parse(rotated.body.added.activates_at) - Date.now()).toBeGreaterThan(60_000);
    expect(rotated.body.items).toContainEqual(
      expect.objectContaining({ kid: signing.kid, state: 'signing' }),
    );
    expect(JSON.stringify(rotated.body)).not.toMatch(/"d"|privateKey/);

    // Every instance polls the shared key file: /jwks publishes the new key within a few seconds.
    const deadline = Date.now() + 10_000;
    let kids: string[] = [];
    while (Date.now() < deadline) {
      const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
      kids = jwks.keys.map((k) => k.kid);
      if (kids.includes(rotated.body.added.kid as string)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(kids).toEqual(expect.arrayContaining([signing.kid, rotated.body.added.kid]));
    const audit = await configured()('GET', '/audit?limit=50');
    expect((audit.body.items as Array<{ action: string }>).map((e) => e.action)).toEqual(
      expect.arrayContaining(['signing_keys.listed', 'signing_keys.rotated']),
    );
  });
});
