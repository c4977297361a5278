import Router from '@koa/router';
import type { Metrics } from '../observability/metrics.ts';
import type { RequestState } from './middleware.ts';
import { HttpProblem } from './problem.ts';

export interface Probe {
  name: string;
  check(): Promise<void>;
  /**
   * Whether the instance can still answer correctly without this dependency. The state store is: while
   * it is down, caches are bypassed and every answer comes from the database (slower, still right), so
   * the instance reports itself degraded and stays in the load balancer. Without the database it cannot.
   */
  optional?: boolean;
}

const PROBE_TIMEOUT_MS = 2000;

/**
 * /healthz: the process answers. /readyz: 200 `ready` when every dependency answers (each within two
 * seconds), 200 `degraded` naming the optional ones that do not, 503 when a required one does not.
 * /metrics: Prometheus text format.
 */
export function healthRoutes(probes: Probe[], metrics: Metrics): Router {
  const router = new Router<RequestState>();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const results = await Promise.all(
      probes.map(async (probe) => {
        try {
          await withTimeout(probe.check(), PROBE_TIMEOUT_MS);
          return { probe, ok: true };
        } catch {
          metrics.dependencyErrors.inc({ dependency: probe.name });
          return { probe, ok: false };
        }
      }),
    );
    const failed = results.filter((result) => !result.ok);
    const unavailable = failed.some((result) => !result.probe.optional);
    const checks = Object.fromEntries(
      results.map(({ probe, ok }) => [probe.name, ok ? 'ok' : 'unavailable'] as const),
    );
    ctx.set('Cache-Control', 'no-store');
    if (unavailable) {
      ctx.status = 503;
      ctx.set('Retry-After', '5');
      ctx.body = { status: 'unavailable', checks };
    } else if (failed.length > 0) {
      ctx.body = { status: 'degraded', degraded: failed.map((result) => result.probe.name), checks };
    } else {
      ctx.body = { status: 'ready', checks };
    }
  });
  router.get('/metrics', async (ctx) => {
    let rendered: { contentType: string; body: string };
    try {
      rendered = await metrics.render();
    } catch (error) {
      ctx.state.log.warn({ err: error }, 'metrics unavailable');
      throw new HttpProblem(503, 'metrics_unavailable', 'the metrics could not be gathered; retry shortly', {
        headers: { 'Retry-After': '5' },
      });
    }
    const { contentType, body } = rendered;
    ctx.set('Cache-Control', 'no-store');
    ctx.type = contentType;
    ctx.body = body;
  });
  return router;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
