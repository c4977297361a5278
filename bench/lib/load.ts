import autocannon, { type Request } from 'autocannon';

export interface LoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  throughput: number;
  p50: number;
  p99: number;
}

export interface LoadOptions {
  url: string;
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
  return {
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
