/**
 * What the scale rows of issue 19 ((j) restart storm, (l) feed fan-out, (m) the admin API at size) take
 * from bench/run.ts, and the HTTP helpers they share. They live in their own modules so that run.ts
 * only calls them.
 */
import http from 'node:http';
import type { SeededCredentials } from './seed.ts';
import { basic } from './load.ts';

/** One line of the bench table (the shape of run.ts's Row). */
export interface BenchRow {
  id: string;
  name: string;
  throughput: number | null;
  unit: string;
  p50: number | null;
  p99: number | null;
  baseline: string | null;
  ratio: number | null;
  target: string;
  met: boolean | null;
  notes?: string;
}

export interface ScaleContext {
  /** A private Postgres database (and Redis key prefix), migrated and seeded: run.ts's prepareBackend. */
  preparePostgres(
    accounts: number,
    credentialsPerAccount: number,
  ): Promise<{ env: Record<string, string>; seeded: SeededCredentials }>;
  cleanups: Array<() => Promise<void>>;
  log(message: string): void;
  /** The benchmark's resource server credential (RESOURCE_SERVERS of every backend). */
  resourceServer: { name: string; secret: string };
  bcryptCost: number;
  durationSeconds: number;
  connections: number;
  rounds: number;
}

export function fmt(n: number | null, digits = 1): string {
  return n === null || Number.isNaN(n) ? '-' : n.toFixed(digits);
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One request on `agent` (keep-alive pools), the whole answer read. Rejects only on a socket error. */
export function request(
  url: string,
  options: { method: string; headers?: Record<string, string>; body?: string; agent?: http.Agent },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method, headers: options.headers, agent: options.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Milliseconds after `answered` at which something `arrived` (0 if it came first). */
export function since(answered: number, arrived: number): number {
  return Math.max(0, arrived - answered);
}

/** A client_credentials token request's headers and body. */
export function tokenRequestOptions(clientId: string, secret: string, resource?: string) {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (resource) body.set('resource', resource);
  return {
    method: 'POST',
    headers: {
      authorization: basic(clientId, secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: body.toString(),
  };
}

/** An access token from `url`, or an error saying what the server answered. */
export async function obtainToken(
  url: string,
  clientId: string,
  secret: string,
  resource?: string,
): Promise<string> {
  const answer = await request(`${url}/token`, tokenRequestOptions(clientId, secret, resource));
  if (answer.status !== 200) throw new Error(`token request answered ${answer.status}: ${answer.body}`);
  return (JSON.parse(answer.body) as { access_token: string }).access_token;
}
