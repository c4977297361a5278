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
 * Failed operator authentications at /platform/v1 count toward the brute-force lockout like failed
 * client authentications at /token: per (operator name, source) and per source. Each test speaks from
 * its own source (X-Forwarded-For, trusted here), so their counts stay apart.
 */
const OPERATOR = { name: 'ops', secret: generateDeploymentSecret(OPERATOR_SECRET_PREFIX) };
const MAX_FAILURES = 3;
const MAX_FAILURES_PER_IP = 6;

describe('operator lockout', () => {
  let server: TestServer;
  let documented: OpenApiResponseValidator;
  const from = (ip: string, authorization: string) =>
    platformApi(server, authorization, documented, { 'x-forwarded-for': ip });
  const right = basic(OPERATOR.name, OPERATOR.secret);
  const wrong = () => basic(OPERATOR.name, generateDeploymentSecret(OPERATOR_SECRET_PREFIX));

  beforeAll(async () => {
    server = await startTestServer({
      OPERATORS: resourceServerEntry(OPERATOR.name, OPERATOR.secret),
      TRUST_PROXY: 'true',
      LOCKOUT_MAX_FAILURES: String(MAX_FAILURES),
      LOCKOUT_MAX_FAILURES_PER_IP: String(MAX_FAILURES_PER_IP),
    });
    documented = await servedDocument(server);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('locks an operator name out of one source after repeated wrong secrets, not out of others', async () => {
    for (let i = 0; i < MAX_FAILURES; i += 1) {
      expect((await from('198.51.100.1', wrong())('GET', '/organizations')).status).toBe(401);
    }
    // Even the right secret is refused from that source, before it is compared.
    const locked = await from('198.51.100.1', right)('GET', '/organizations');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(locked.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(locked.body.detail).toMatch(/too many failed authentications; retry after \d+ seconds/);
    // The operator elsewhere is not stopped by what one source did.
    expect((await from('198.51.100.2', right)('GET', '/organizations')).status).toBe(200);
  });

  it('locks a source out after repeated wrong secrets under any name or none', async () => {
    for (let i = 0; i < MAX_FAILURES_PER_IP; i += 1) {
      const authorization =
        i % 2 === 0
          ? `Bearer ${generateDeploymentSecret(OPERATOR_SECRET_PREFIX)}`
          : basic(`guess-${i}`, generateDeploymentSecret(OPERATOR_SECRET_PREFIX));
      expect((await from('203.0.113.9', authorization)('GET', '/organizations')).status).toBe(401);
    }
    const locked = await from('203.0.113.9', `Bearer ${OPERATOR.secret}`)('GET', '/organizations');
    expect(locked.status).toBe(429);
    expect((await from('203.0.113.10', `Bearer ${OPERATOR.secret}`)('GET', '/organizations')).status).toBe(
      200,
    );
  });

  it('does not count successes', async () => {
    for (let i = 0; i < MAX_FAILURES * 3; i += 1) {
      expect((await from('192.0.2.44', right)('GET', '/organizations')).status).toBe(200);
    }
  });
});
