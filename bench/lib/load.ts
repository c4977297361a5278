import autocannon, { type Request } from 'autocannon';
import type { ServerProcess } from './processes.ts';

export interface LoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  throughput: number;
  p50: number;
  p99: number;
  /** Server CPU milliseconds per request (every thread, and the main thread), when a server was given. */
  cpuMsPerRequest?: { process: number; mainThread: number };
}

export interface LoadOptions {
  url: string;
  /** The server under load, to measure the CPU it spends per request (less noisy than throughput). */
  server?: ServerProcess;
  connections: number;
  durationSeconds: number;
  /** Called for every request: returns its headers and body (lets requests rotate credentials). */
  request: () => {
    path: string;
    method?: Request['method'];
    headers?: Record<string, string>;
    body?: string;
  };
}

/** Drives HTTP load from this process with autocannon; latencies in milliseconds. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const cpuBefore = options.server?.cpuSeconds();
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    requests: [
      {
        setupRequest: (request) => {
          const next = options.request();
          return {
            ...request,
            method: next.method ?? 'POST',
            path: next.path,
            headers: next.headers,
            body: next.body,
          };
        },
      },
    ],
  });
  const cpuAfter = options.server?.cpuSeconds();
  const perRequest = (seconds: number) => (seconds * 1000) / Math.max(1, result.requests.total);
  return {
    ...(cpuBefore && cpuAfter
      ? {
          cpuMsPerRequest: {
            process: perRequest(cpuAfter.process - cpuBefore.process),
            mainThread: perRequest(cpuAfter.mainThread - cpuBefore.mainThread),
          },
        }
      : {}),
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    throughput: result.requests.total / options.durationSeconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
