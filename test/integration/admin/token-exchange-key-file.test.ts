import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import type * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MANAGEMENT_PERMISSIONS } from '../../../config/permissions.ts';
import {
  generateDeploymentSecret,
  OPERATOR_SECRET_PREFIX,
  resourceServerEntry,
} from '../../../src/domain/credential-format.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import {
  basic,
  delegatingClient,
  exchange,
  PRODUCT_ISSUER,
  type ProductKey,
  productKey,
  subjectToken,
} from './exchange-helpers.ts';

/**
 * The product's keys from a file (SUBJECT_TOKEN_JWKS_FILE, e.g. a mounted secret) rather than a URL:
 * read at start, and read again when a subject token names a key the file did not hold, so a rotated
 * file is picked up without a restart.
 */
const OPERATOR = { name: 'ops', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };

describe('token exchange with the product keys in a file', () => {
  let server: TestServer;
  let dir: string;
  let keyFile: string;
  let first: ProductKey;
  let config: client.Configuration;

  async function platform(method: string, route: string, body: unknown) {
    const response = await fetch(`${server.issuer}/platform/v1${route}`, {
      method,
      headers: { authorization: basic(OPERATOR.name, OPERATOR.secret), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as Record<string, string>;
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-product-keys-'));
    keyFile = path.join(dir, 'jwks.json');
    first = await productKey();
    fs.writeFileSync(keyFile, JSON.stringify({ keys: [first.jwk] }));
    server = await startTestServer({
      OPERATORS: resourceServerEntry(OPERATOR.name, OPERATOR.secret),
      SUBJECT_TOKEN_ISSUER: PRODUCT_ISSUER,
      SUBJECT_TOKEN_JWKS_FILE: keyFile,
    });
    const productOrg = await platform('POST', '/organizations', { external_id: 'product', name: 'Product' });
    const admin = await platform('POST', `/organizations/${productOrg.id}/admins`, {});
    await platform('POST', '/delegations', {
      client_id: admin.client_id,
      max_permissions: [...MANAGEMENT_PERMISSIONS],
    });
    await platform('POST', '/organizations', { external_id: 'tenant-file', name: 'Tenant' });
    config = await delegatingClient(server, admin.client_id!, admin.client_secret!);
  });

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const sign = (key: ProductKey) =>
    subjectToken(key, { tenant_id: 'tenant-file', permissions: ['audit:read'] }, {}, server.issuer);

  it('exchanges a subject token signed with a key of the file', async () => {
    const response = await exchange(config, await sign(first));
    expect(decodeJwt(response.access_token)).toMatchObject({ sub: 'person:person-1', scope: 'audit:read' });
  });

  it('picks up a key added to the file later', async () => {
    const rotated = await productKey();
    fs.writeFileSync(keyFile, JSON.stringify({ keys: [first.jwk, rotated.jwk] }));
    // An unknown kid re-reads the file at most every 2 s: a fresh subject token per attempt.
    await vi.waitFor(
      async () => {
        const response = await exchange(config, await sign(rotated));
        expect(response.access_token).toBeTruthy();
      },
      { timeout: 10_000, interval: 500 },
    );
  });
});
