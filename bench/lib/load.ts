import type { EventEmitter } from 'node:events';
import autocannon, { type Request } from 'autocannon';
import { waitForQuietMachine } from './machine.ts';
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

/** One thing to put under load: where, which server process (for its CPU time), and each request. */
export interface LoadTarget {
  url: string;
  /** The server under load, to measure the CPU it spends per request (less noisy than throughput). */
  server?: ServerProcess;
  /** Called for every request: returns its headers and body (lets requests rotate credentials). */
  request: () => {
    path: string;
    method?: Request['method'];
    headers?: Record<string, string>;
    body?: string;
  };
  /**
   * Started just before each of this target's slices (after the machine went quiet) and stopped when
   * the slice ends: work that must run alongside this target's load only, not its baseline's.
   */
  alongside?: () => { stop(): Promise<void> };
}

export interface LoadOptions extends LoadTarget {
  connections: number;
  durationSeconds: number;
}

/** Drives HTTP load from this process with autocannon; latencies in milliseconds. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const [result] = await runInterleaved([options], { ...options, rounds: 1 });
  return result!;
}

/**
 * Loads several targets in turn, `rounds` slices each (A B A B ...), every target for
 * `durationSeconds` in all. A row and its baseline measured this way share whatever the machine was
 * doing meanwhile (other tenants, a slower CPU minute), so their ratio holds even when their
 * absolute figures drift; measured one after the other, the ratio drifted by up to a third.
 */
export async function runInterleaved(
  targets: LoadTarget[],
  options: { connections: number; durationSeconds: number; rounds: number },
): Promise<LoadResult[]> {
  const totals = targets.map(() => ({
    requests: 0,
    non2xx: 0,
    errors: 0,
    latencies: [] as number[],
    cpu: { process: 0, mainThread: 0 },
  }));
  const slice = options.durationSeconds / options.rounds;
  for (let round = 0; round < options.rounds; round++) {
    for (const [index, target] of targets.entries()) {
      const total = totals[index]!;
      await settle();
      const alongside = target.alongside?.();
      const cpuBefore = target.server?.cpuSeconds();
      // Without a callback autocannon returns its instance, an event emitter that is also a promise.
      const instance = autocannon({
        url: target.url,
        connections: options.connections,
        duration: slice,
        requests: [
          {
            setupRequest: (request) => {
              const next = target.request();
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
      }) as unknown as Promise<autocannon.Result> & EventEmitter;
      // Listened to as the emitter it also is (its `on` returns the promise, which is awaited below).
      const events: EventEmitter = instance;
      events.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
        total.latencies.push(responseTime);
      });
      const result = await instance;
      const cpuAfter = target.server?.cpuSeconds();
      await alongside?.stop();
      if (cpuBefore && cpuAfter) {
        total.cpu.process += cpuAfter.process - cpuBefore.process;
        total.cpu.mainThread += cpuAfter.mainThread - cpuBefore.mainThread;
      }
      total.requests += result.requests.total;
      total.non2xx += result.non2xx;
      total.errors += result.errors;
    }
  }
  return targets.map((target, index) => {
    const total = totals[index]!;
    const sorted = total.latencies.sort((a, b) => a - b);
    const perRequest = (seconds: number) => (seconds * 1000) / Math.max(1, total.requests);
    return {
      requests: total.requests,
      non2xx: total.non2xx,
      errors: total.errors,
      throughput: total.requests / options.durationSeconds,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      ...(target.server
        ? {
            cpuMsPerRequest: {
              process: perRequest(total.cpu.process),
              mainThread: perRequest(total.cpu.mainThread),
            },
          }
        : {}),
    };
  });
}

async function settle(): Promise<void> {
  const settled = await waitForQuietMachine();
  if (!settled.quiet) {
    process.stderr.write(
      `[bench] the machine stayed ${Math.round(settled.busy * 100)}% busy before a load slice; its figures will be low\n`,
    );
  }
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
