/**
 * Issue 12, defect 6: on shutdown, keep-alive connections must not keep being served for the whole
 * grace period and then be reset under requests in flight. A request in flight when close() starts is
 * answered in full with `Connection: close`, the connection then ends cleanly (no reset), idle
 * keep-alive connections are closed at once, and close() finishes as soon as nothing is in flight,
 * long before the grace period (30 s here, longer than this test may take).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ SHUTDOWN_GRACE_MS: '30000' });
});
afterAll(async () => {
  await server?.stop();
});

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

function get(agent: http.Agent, path: string): Promise<Answer & { socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${server.url}${path}`, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, connection: res.headers.connection, body, socket: req.socket! }),
      );
    });
    req.on('error', reject);
  });
}

it('answers a request in flight in full with Connection: close, closes idle connections, and finishes before the grace', async () => {
  const busyAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const idleAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    // Two keep-alive connections, each used once.
    const warm = await get(busyAgent, '/healthz');
    expect(warm.connection).toBe('keep-alive');
    const idle = await get(idleAgent, '/healthz');
    expect(idle.connection).toBe('keep-alive');
    const idleClosed = new Promise<boolean>((resolve) => idle.socket.once('close', resolve));

    // On the first connection, a request the server has started on: `Expect: 100-continue` makes it
    // answer "100 Continue" once it has the headers, and the body is held back until close() started.
    const body = 'token=abc';
    const errors: Error[] = [];
    const req = http.request(`${server.url}/revoke`, {
      method: 'POST',
      agent: busyAgent,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(Buffer.byteLength(body)),
        authorization: `Basic ${Buffer.from('svcc_nobody:wrong').toString('base64')}`,
        expect: '100-continue',
      },
    });
    req.on('error', (error) => errors.push(error));
    const continued = new Promise<void>((resolve) => req.once('continue', resolve));
    const answered = new Promise<Answer & { socketClosed: Promise<boolean> }>((resolve) => {
      req.once('response', (res) => {
        // Registered before the body is read: the server may close right after the last byte.
        const socketClosed = new Promise<boolean>((done) => req.socket!.once('close', done));
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, connection: res.headers.connection, body: text, socketClosed }),
        );
      });
    });
    req.flushHeaders();
    await continued;
    expect(req.reusedSocket).toBe(true);

    const closed = server.close();
    req.end(body);

    const answer = await answered;
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_client' });
    // The client is told to move away, and the server ends the connection after the answer.
    expect(answer.connection).toBe('close');
    const hadError = await answer.socketClosed;
    expect(hadError).toBe(false);
    expect(errors).toEqual([]);
    // The idle connection was closed without waiting for the grace period.
    await idleClosed;
    // Nothing in flight any more: close() is done well before the 30 s grace.
    await closed;
  } finally {
    busyAgent.destroy();
    idleAgent.destroy();
  }
}, 20_000);
