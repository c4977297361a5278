import type { Context, Next } from 'koa';
import { ClusterMetricsClient } from './cluster-metrics.ts';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Route labels are a closed set so a scanner probing random paths cannot grow the metric space. */
const ROUTE_PATTERNS: Array<[RegExp, string]> = [
  [/^\/token$/, '/token'],
  [/^\/introspect$/, '/introspect'],
  [/^\/revoke$/, '/revoke'],
  [/^\/revocations$/, '/revocations'],
  [/^\/jwks$/, '/jwks'],
  [/^\/\.well-known\//, '/.well-known'],
  [/^\/admin\/v1\//, '/admin/v1'],
  [/^\/(healthz|readyz|metrics)$/, '/ops'],
];

export function routeLabel(path: string): string {
  for (const [pattern, label] of ROUTE_PATTERNS) if (pattern.test(path)) return label;
  return 'other';
}

export interface CacheStats {
  hits: number;
  misses: number;
  size: number;
}

/**
 * Every Prometheus metric svcauth exposes at /metrics, in one registry per server (tests run several
 * servers in one process).
 */
export class Metrics {
  readonly registry = new Registry();
  /** Set in a cluster worker: /metrics then reports every worker (see aggregateAcrossWorkers). */
  #cluster: ClusterMetricsClient | undefined;
  readonly httpDuration = new Histogram({
    name: 'svcauth_http_request_duration_seconds',
    help: 'HTTP request latency by route and status class',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly tokenRequests = new Counter({
    name: 'svcauth_token_requests_total',
    help: 'Token requests by outcome (issued or the OAuth error) and client authentication method',
    labelNames: ['outcome', 'auth_method'] as const,
    registers: [this.registry],
  });
  readonly lockouts = new Counter({
    name: 'svcauth_lockouts_total',
    help: 'Lockouts after repeated failed authentications, by kind: pair (one client id from one source) or source',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly dependencyErrors = new Counter({
    name: 'svcauth_dependency_errors_total',
    help: 'Errors talking to a dependency (database, state store)',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'svcauth_process_' });
  }

  /**
   * Secret checks this instance's memory could not answer, by how they were decided: a verified-secret
   * record shared by the instances (hit or miss), or a bcrypt compare. A restart storm shows here.
   */
  observeSecretChecks(
    checks: () => { records: { hits: number; misses: number }; bcryptCompares: number },
  ): void {
    new Gauge({
      name: 'svcauth_shared_secret_record_lookups',
      help: 'Reads of shared verified-secret records since start, by result (hit: no bcrypt needed)',
      labelNames: ['result'] as const,
      registers: [this.registry],
      collect() {
        const { records } = checks();
        this.set({ result: 'hit' }, records.hits);
        this.set({ result: 'miss' }, records.misses);
      },
    });
    new Gauge({
      name: 'svcauth_bcrypt_compares',
      help: 'bcrypt compares of presented secrets since start (decoys for failures not included)',
      registers: [this.registry],
      collect() {
        this.set(checks().bcryptCompares);
      },
    });
  }

  /** Hit ratios of the hot-path caches, read at scrape time. */
  observeCaches(caches: Record<string, () => CacheStats>): void {
    const entries = new Gauge({
      name: 'svcauth_cache_entries',
      help: 'Entries held by each cache',
      labelNames: ['cache'] as const,
      registers: [this.registry],
      collect() {
        for (const [name, stats] of Object.entries(caches)) this.set({ cache: name }, stats().size);
      },
    });
    const lookups = new Gauge({
      name: 'svcauth_cache_lookups',
      help: 'Cache lookups since start, by result (hit or miss); hit ratio = hit / (hit + miss)',
      labelNames: ['cache', 'result'] as const,
      registers: [this.registry],
      collect() {
        for (const [name, stats] of Object.entries(caches)) {
          const { hits, misses } = stats();
          this.set({ cache: name, result: 'hit' }, hits);
          this.set({ cache: name, result: 'miss' }, misses);
        }
      },
    });
    void entries;
    void lookups;
  }

  /** Open /revocations streams on this instance, read at scrape time. */
  observeFeedSubscribers(count: () => number): void {
    new Gauge({
      name: 'svcauth_revocation_feed_subscribers',
      help: 'Open /revocations streams on this instance',
      registers: [this.registry],
      collect() {
        this.set(count());
      },
    });
  }

  /** Koa middleware timing every request by route label. */
  middleware() {
    return async (ctx: Context, next: Next) => {
      const end = this.httpDuration.startTimer({ route: routeLabel(ctx.path), method: ctx.method });
      try {
        await next();
      } finally {
        const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
        end({ status: `${Math.floor(status / 100)}xx` });
      }
    };
  }

  /** In a cluster worker: /metrics answers with every worker's metrics (see cluster-metrics.ts). */
  aggregateAcrossWorkers(): void {
    this.#cluster ??= new ClusterMetricsClient(this.registry);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    if (this.#cluster) return { contentType: this.#cluster.contentType, body: await this.#cluster.render() };
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
