import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, consoleRoutes } from '../../../src/http/console-routes.ts';
import { problemErrors } from '../../../src/http/middleware.ts';

describe('/console routes', () => {
  const built = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-console-'));
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'svcauth-console-empty-'));
  let base: string;
  let unbuilt: string;
  const servers: Array<ReturnType<Koa['listen']>> = [];

  function serve(dir: string): Promise<string> {
    const app = new Koa();
    app.use(async (ctx, next) => {
      ctx.state = { requestId: 'test', log: console };
      await next();
    });
    app.use(problemErrors(() => false));
    app.use(consoleRoutes(dir).routes());
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    return new Promise((resolve) =>
      server.once('listening', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
    );
  }

  beforeAll(async () => {
    fs.writeFileSync(path.join(built, 'index.html'), '<!doctype html><title>x</title>');
    fs.writeFileSync(path.join(built, 'svcauth-console.js'), 'export {};');
    fs.writeFileSync(path.join(built, 'svcauth-console.js.gz'), zlib.gzipSync('export {};'));
    [base, unbuilt] = await Promise.all([serve(built), serve(empty)]);
  });

  afterAll(() => {
    for (const server of servers) server.close();
    for (const dir of [built, empty]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('redirects /console to /console/ and serves the page with a strict CSP', async () => {
    const redirect = await fetch(`${base}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/console/');
    const page = await fetch(`${base}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).not.toMatch(/unsafe/);
  });

  it('sends the module gzipped when accepted, to any origin, with an ETag that answers 304', async () => {
    const module = await fetch(`${base}/console/svcauth-console.js`);
    expect(module.status).toBe(200);
    expect(module.headers.get('content-encoding')).toBe('gzip');
    expect(module.headers.get('access-control-allow-origin')).toBe('*');
    expect(await module.text()).toBe('export {};');
    const again = await fetch(`${base}/console/svcauth-console.js`, {
      headers: { 'if-none-match': module.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
  });

  it('answers 404 for any other file and 503 naming the fix while the console is not built', async () => {
    const other = await fetch(`${base}/console/..%2fpackage.json`);
    expect(other.status).toBe(404);
    const missing = await fetch(`${unbuilt}/console/`);
    expect(missing.status).toBe(503);
    expect(((await missing.json()) as { detail: string }).detail).toMatch(/npm install/);
  });
});
