import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readSigningKeyFile } from '../../../src/keys/signing-keys.ts';
import { Fixtures, type TestCredential } from '../../helpers/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { grant, verifyAccessToken } from './token-helpers.ts';

/**
 * `svcauth keys rotate` against a running server sharing its KEYS_DIR: the new key is published in
 * /jwks before it signs anything, then signs, and tokens signed by the old key keep verifying.
 */

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');

let server: TestServer;
let credential: TestCredential;
let audience: string;

beforeAll(async () => {
  server = await startTestServer();
  audience = `${server.issuer}/api`;
  const fixtures = new Fixtures(server.database.db);
  const org = await fixtures.organization();
  const role = await fixtures.role(org.id, ['items:read']);
  const account = await fixtures.account(org.id, { allLocations: true, roles: [{ roleId: role.id }] });
  credential = await fixtures.credential(org.id, account.id, 'oauth_client');
}, 60_000);

afterAll(async () => {
  await server?.stop();
}, 60_000);

async function svcauth(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(NODE, ['bin/svcauth.js', ...args], {
    cwd: ROOT,
    env: { ...process.env, KEYS_DIR: server.config.keysDir },
  });
  return stdout;
}

async function publishedKids(): Promise<string[]> {
  const response = await fetch(`${server.issuer}/jwks`);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { keys: Array<Record<string, unknown>> };
  for (const key of body.keys) {
    // Public members only.
    expect(key).not.toHaveProperty('d');
  }
  return body.keys.map((k) => String(k.kid)).sort();
}

/** Polls `probe` until it returns a value, for at most `timeoutMs` (the server polls the key file every 2 s). */
function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await probe();
      if (value === undefined) throw new Error(`gave up waiting for ${what}`);
      return value;
    },
    { timeout: timeoutMs, interval: 200 },
  );
}

async function token(): Promise<{ token: string; kid: string; iat: number }> {
  const value = await grant(server, credential);
  return { token: value, kid: String(decodeProtectedHeader(value).kid), iat: decodeJwt(value).iat! };
}

function keyFile() {
  return readSigningKeyFile(server.config.keysDir)!;
}

describe('signing key rotation without downtime', () => {
  it('publishes, then signs with the new key; tokens signed before keep verifying', async () => {
    const before = await token();
    const oldKid = before.kid;
    expect(await publishedKids()).toEqual([oldKid]);

    const stdout = await svcauth('keys', 'rotate', '--activate-in', '2');
    const added = keyFile().keys.find((k) => k.kid !== oldKid)!;
    expect(added).toBeDefined();
    expect(stdout).toContain(added.kid);
    const newKid = added.kid;
    const activatesAt = Date.parse(added.activates_at);

    // A token issued right after the rotation: never signed by the new key before its activation.
    const early = await token();
    expect([oldKid, newKid]).toContain(early.kid);
    if (early.kid === newKid) expect(early.iat).toBeGreaterThanOrEqual(Math.floor(activatesAt / 1000));

    // Published in /jwks (next to the old key) once the server has read the file.
    await eventually('the new key in /jwks', async () => {
      const published = await publishedKids();
      return published.includes(newKid) ? published : undefined;
    });
    expect(await publishedKids()).toEqual([oldKid, newKid].sort());

    // After activation, new tokens carry the new kid.
    const after = await eventually('a token signed by the new key', async () => {
      const next = await token();
      return next.kid === newKid ? next : undefined;
    });
    expect(after.iat).toBeGreaterThanOrEqual(Math.floor(activatesAt / 1000));
    const { payload } = await verifyAccessToken(server, after.token, audience);
    expect(payload.client_id).toBe(credential.clientId);

    // Tokens signed by the old key still verify against /jwks.
    const verified = await verifyAccessToken(server, before.token, audience);
    expect(verified.protectedHeader.kid).toBe(oldKid);
    await verifyAccessToken(server, early.token, audience);

    // Once switched, signing stays on the new key.
    expect((await token()).kid).toBe(newKid);

    // The old key is scheduled for removal after the longest token lifetime, not removed.
    const old = keyFile().keys.find((k) => k.kid === oldKid)!;
    expect(Date.parse(old.retires_at!)).toBe(activatesAt + (3600 + 60) * 1000);
  }, 60_000);

  it('a published key does not sign before its activation', async () => {
    const signing = (await token()).kid;
    const kidsBefore = await publishedKids();
    await svcauth('keys', 'rotate', '--activate-in', '3600');
    const pending = keyFile().keys.find((k) => !kidsBefore.includes(k.kid))!;
    expect(pending).toBeDefined();

    await eventually('the pending key in /jwks', async () =>
      (await publishedKids()).includes(pending.kid) ? true : undefined,
    );
    expect(await publishedKids()).toEqual([...kidsBefore, pending.kid].sort());
    // The server knows the key, but it activates in an hour: tokens are still signed by the current one.
    const next = await token();
    expect(next.kid).toBe(signing);
    await verifyAccessToken(server, next.token, audience);
  }, 60_000);

  it('the server logged the change of published keys', () => {
    const changes = server.logLines.filter((line) => line.includes('published signing keys changed'));
    expect(changes.length).toBeGreaterThanOrEqual(2);
  });
});
