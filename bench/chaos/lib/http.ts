/**
 * The chaos run's HTTP client: a minimal load balancer in front of the svcauth instances. A request
 * goes to the instance asked for; a refused connection (the instance is down) goes to the other one,
 * as a load balancer would route around a dead backend. A reset or a timeout is an answer of its own:
 * the request was sent and may have been processed.
 */
import type { ChaosInstance } from './services.ts';

export type Failure = 'refused' | 'reset' | 'timeout';

export interface Answer {
  /** The instance that answered (or failed last). */
  instance: string;
  status: number | Failure;
  retryAfter: boolean;
  /** performance.now() before the request was handed to fetch. */
  startedAt: number;
  /** performance.now() when the response headers arrived (or the request failed). */
  endedAt: number;
  body: unknown;
}

function failureOf(error: unknown): Failure {
  const name = (error as { name?: string }).name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNREFUSED' ? 'refused' : 'reset';
}

export class Balancer {
  readonly instances: ChaosInstance[];
  private next = 0;

  constructor(instances: ChaosInstance[]) {
    this.instances = instances;
  }

  /** Round-robin index of the instance to prefer for the next request. */
  pick(): number {
    return this.next++ % this.instances.length;
  }

  /**
   * Sends `path` to instance `preferred`, or to the next one if it refuses the connection. With
   * `fallback: false` only the preferred instance is tried.
   */
  async send(
    preferred: number,
    path: string,
    init: RequestInit,
    options: { timeoutMs?: number; fallback?: boolean } = {},
  ): Promise<Answer> {
    const { timeoutMs = 10_000, fallback = true } = options;
    const startedAt = performance.now();
    const tries = fallback ? this.instances.length : 1;
    let last: Answer | null = null;
    for (let k = 0; k < tries; k++) {
      const instance = this.instances[(preferred + k) % this.instances.length]!;
      try {
        const response = await fetch(`${instance.url}${path}`, {
          ...init,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const endedAt = performance.now();
        const text = await response.text().catch(() => '');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        return {
          instance: instance.name,
          status: response.status,
          retryAfter: response.headers.has('retry-after'),
          startedAt,
          endedAt,
          body,
        };
      } catch (error) {
        last = {
          instance: instance.name,
          status: failureOf(error),
          retryAfter: false,
          startedAt,
          endedAt: performance.now(),
          body: null,
        };
        if (last.status !== 'refused') return last;
      }
    }
    return last!;
  }

  /**
   * A fetch for the resource-server kit: requests to `issuer` go to an instance (round robin, past a
   * refused connection), as they would through the load balancer that ISSUER names.
   */
  kitFetch(issuer: string): (input: string | URL, init?: RequestInit) => Promise<Response> {
    return async (input, init) => {
      const url = String(input);
      if (!url.startsWith(issuer)) throw new Error(`the kit asked for ${url}, outside ${issuer}`);
      const preferred = this.pick();
      let lastError: unknown;
      for (let k = 0; k < this.instances.length; k++) {
        const instance = this.instances[(preferred + k) % this.instances.length]!;
        try {
          return await fetch(`${instance.url}${url.slice(issuer.length)}`, init);
        } catch (error) {
          lastError = error;
          if (failureOf(error) !== 'refused') throw error;
        }
      }
      throw lastError;
    };
  }
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export function is5xxFailure(answer: Pick<Answer, 'status' | 'retryAfter'>): boolean {
  // 503 with Retry-After is the documented answer while a dependency is down; any other 5xx is a bug.
  return (
    typeof answer.status === 'number' && answer.status >= 500 && !(answer.status === 503 && answer.retryAfter)
  );
}

export function isUnavailable(answer: Pick<Answer, 'status' | 'retryAfter'>): boolean {
  return answer.status === 503 && answer.retryAfter;
}
