import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Fixtures, type TestCredential } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { postToken, type RawResponse, readResponse } from './token-helpers.ts';

/**
 * private_key_jwt assertions are short-lived proofs (issue 13, item 6): an assertion valid for years,
 * or issued in the future, is refused, so no replay marker has to be kept for longer than a few
 * minutes; and one assertion authenticates once, whichever endpoints it is presented to.
 */

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MINUTE = 60;
const YEAR = 365 * 24 * 60 * MINUTE;

let server: TestServer;
let fixtures: Fixtures;
let orgId: string;
let accountId: string;
/** A credential of its own for each test, so refusals in one test never lock out the next one's client. */
let jwtClient: TestCredential;

beforeAll(async () => {
  // Every refusal here comes from 127.0.0.1; the per-IP limit is not what this file is about.
  server = await startTestServer({ LOCKOUT_MAX_FAILURES_PER_IP: '100000' });
  fixtures = new Fixtures(server.database.db);
  orgId = (await fixtures.organization()).id;
  const role = await fixtures.role(orgId, ['items:read']);
  accountId = (await fixtures.account(orgId, { allLocations: true, roles: [{ roleId: role.id }] })).id;
}, 60_000);

beforeEach(async () => {
  jwtClient = await fixtures.credential(orgId, accountId, 'private_key_jwt');
});

afterAll(async () => {
  await server?.stop();
}, 60_000);

const now = () => Math.floor(Date.now() / 1000);

/** An assertion signed by the client's registered key, with the times given (epoch seconds). */
function assertion(times: { iat?: number; exp: number }, audience = server.issuer): Promise<string> {
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: jwtClient.kid! })
    .setIssuer(jwtClient.clientId)
    .setSubject(jwtClient.clientId)
    .setAudience(audience)
    .setJti(randomUUID())
    .setExpirationTime(times.exp);
  if (times.iat !== undefined) jwt.setIssuedAt(times.iat);
  return jwt.sign(jwtClient.privateKey!);
}

function assertionParams(clientAssertion: string): Record<string, string> {
  return {
    client_id: jwtClient.clientId,
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: clientAssertion,
  };
}

function tokenRequest(clientAssertion: string): Promise<RawResponse> {
  return postToken(server, { grant_type: 'client_credentials', ...assertionParams(clientAssertion) });
}

async function revokeRequest(clientAssertion: string): Promise<RawResponse> {
  const response = await fetch(`${server.issuer}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: 'not-a-token', ...assertionParams(clientAssertion) }).toString(),
  });
  return readResponse(response);
}

const endpoints = [
  ['/token', tokenRequest],
  ['/revoke', revokeRequest],
] as const;

function expectInvalidClient(response: RawResponse, description?: RegExp): void {
  expect(response.status).toBe(401);
  expect(response.json?.error).toBe('invalid_client');
  if (description) expect(response.json?.error_description).toMatch(description);
}

describe('private_key_jwt assertion lifetimes', () => {
  for (const [endpoint, send] of endpoints) {
    it(`${endpoint}: a short-lived assertion is accepted`, async () => {
      expect((await send(await assertion({ iat: now(), exp: now() + MINUTE }))).status).toBe(200);
    });

    it(`${endpoint}: an assertion that expires in ten years is invalid_client (401)`, async () => {
      expectInvalidClient(
        await send(await assertion({ iat: now(), exp: now() + 10 * YEAR })),
        /exp may be at most 300 seconds from now/,
      );
    });

    it(`${endpoint}: an assertion without iat that expires in an hour is invalid_client (401)`, async () => {
      expectInvalidClient(
        await send(await assertion({ exp: now() + 60 * MINUTE })),
        /exp may be at most 300 seconds from now/,
      );
    });

    it(`${endpoint}: an assertion issued an hour in the future is invalid_client (401)`, async () => {
      const iat = now() + 60 * MINUTE;
      expectInvalidClient(
        await send(await assertion({ iat, exp: iat + MINUTE })),
        /iat .* lies in the future/,
      );
    });

    it(`${endpoint}: an assertion valid for more than five minutes after its iat is invalid_client (401)`, async () => {
      // Issued ten minutes ago, still unexpired: a lifetime of fifteen minutes.
      expectInvalidClient(
        await send(await assertion({ iat: now() - 10 * MINUTE, exp: now() + 5 * MINUTE })),
        /exp - iat may be at most 300 seconds/,
      );
    });
  }
});

describe('one replay record per assertion, across endpoints', () => {
  it('an assertion used at /token is refused at /revoke', async () => {
    const jwt = await assertion({ iat: now(), exp: now() + MINUTE });
    expect((await tokenRequest(jwt)).status).toBe(200);
    expectInvalidClient(await revokeRequest(jwt));
  });

  it('an assertion used at /revoke is refused at /token', async () => {
    const jwt = await assertion({ iat: now(), exp: now() + MINUTE });
    expect((await revokeRequest(jwt)).status).toBe(200);
    expectInvalidClient(await tokenRequest(jwt));
  });

  it('an assertion used at /revoke is refused at /revoke', async () => {
    const jwt = await assertion({ iat: now(), exp: now() + MINUTE });
    expect((await revokeRequest(jwt)).status).toBe(200);
    expectInvalidClient(await revokeRequest(jwt));
  });
});
