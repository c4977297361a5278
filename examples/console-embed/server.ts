/**
 * A product's page embedding one svcauth console screen. This server stands for the product: it serves
 * its settings page (index.html, host.js, host.css), gives the signed-in person's page a management
 * token (POST /session/svcauth-token), and relays /admin/v1 to svcauth so that the page calls its own
 * origin (a product may instead let the browser call svcauth directly).
 *
 * The token here comes from an admin service account's client id and secret with the client-credentials
 * grant; a product with people signed in exchanges their session for a token of their own instead
 * (RFC 8693 token exchange), so that their rights apply and the audit trail names them.
 *
 *   SVCAUTH_URL=http://localhost:3000 SVCAUTH_CLIENT_ID=... SVCAUTH_CLIENT_SECRET=... PORT=4100 \
 *     node examples/console-embed/server.ts
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface EmbedExampleOptions {
  svcauthUrl: string;
  clientId: string;
  clientSecret: string;
  port?: number;
  /** Lifetime the token function reports to the page (default: the token's own). */
  reportedExpiresIn?: number;
}

export interface EmbedExample {
  url: string;
  /** How many tokens the page has asked for. */
  tokenRequests(): number;
  close(): Promise<void>;
}

const FILES: Record<string, string> = {
  '/': 'index.html',
  '/host.js': 'host.js',
  '/host.css': 'host.css',
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export async function startEmbedExample(options: EmbedExampleOptions): Promise<EmbedExample> {
  const svcauth = options.svcauthUrl.replace(/\/+$/, '');
  let tokenRequests = 0;

  async function managementToken(): Promise<{ access_token: string; expires_in: number }> {
    const basic = Buffer.from(
      `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
    ).toString('base64');
    const response = await fetch(`${svcauth}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${svcauth}/admin` }),
    });
    if (!response.ok) throw new Error(`svcauth refused the token request: ${response.status}`);
    const grant = (await response.json()) as { access_token: string; expires_in: number };
    return { access_token: grant.access_token, expires_in: options.reportedExpiresIn ?? grant.expires_in };
  }

  async function relay(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'accept']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const response = await fetch(`${svcauth}${req.url}`, {
      method: req.method,
      headers,
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
    });
    const relayed: Record<string, string> = {};
    for (const name of ['content-type', 'cache-control', 'www-authenticate', 'retry-after']) {
      const value = response.headers.get(name);
      if (value) relayed[name] = value;
    }
    res.writeHead(response.status, relayed);
    res.end(Buffer.from(await response.arrayBuffer()));
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://host');
    const handle = async () => {
      if (url.pathname.startsWith('/admin/v1/')) return relay(req, res);
      if (url.pathname === '/session/svcauth-token' && req.method === 'POST') {
        tokenRequests += 1;
        const grant = await managementToken();
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        return res.end(JSON.stringify(grant));
      }
      const file = FILES[url.pathname];
      if (!file || req.method !== 'GET') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('not found');
      }
      const text = fs
        .readFileSync(path.join(import.meta.dirname, file), 'utf8')
        .replaceAll('{{SVCAUTH_URL}}', svcauth);
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)]!,
        // The host's own policy: its scripts, svcauth's module, and the API through its own origin.
        'content-security-policy': `default-src 'self'; script-src 'self' ${svcauth}; img-src 'self' data:`,
      });
      res.end(text);
    };
    handle().catch(() => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('svcauth did not answer');
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tokenRequests: () => tokenRequests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

if (import.meta.main) {
  const required = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const example = await startEmbedExample({
    svcauthUrl: process.env.SVCAUTH_URL ?? 'http://localhost:3000',
    clientId: required('SVCAUTH_CLIENT_ID'),
    clientSecret: required('SVCAUTH_CLIENT_SECRET'),
    port: Number(process.env.PORT ?? 4100),
  });
  process.stdout.write(`the example product page: ${example.url}/\n`);
}
