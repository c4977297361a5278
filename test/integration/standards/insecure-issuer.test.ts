import { afterEach, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

/**
 * RFC 8414 3 / RFC 6749 3.2 (issue 18.8): an http:// issuer outside loopback sends client secrets and
 * tokens in the clear. svcauth starts (a TLS-terminating proxy may front it on a private network) but
 * says so loudly at startup; a loopback issuer (development) starts silently.
 */

let server: TestServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
}, 60_000);

const warnings = (lines: string[]) =>
  lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((l) => l.level >= 40);

it('warns at startup about an http:// issuer on a non-loopback host', async () => {
  server = await startTestServer({ ISSUER: 'http://auth.example.com' });
  const warned = warnings(server.logLines).filter((l) => /ISSUER/.test(l.msg) && /https/.test(l.msg));
  expect(warned).toHaveLength(1);
}, 60_000);

it('starts silently with a loopback http:// issuer', async () => {
  server = await startTestServer();
  expect(warnings(server.logLines).filter((l) => /ISSUER/.test(l.msg))).toHaveLength(0);
}, 60_000);
