import Router from '@koa/router';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { HttpProblem } from './problem.ts';

export interface Probe {
  name: string;
  check(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 2000;

/**
 * /healthz: the process answers. /readyz: every dependency answers, each within two seconds.
 * /metrics: Prometheus text format.
 */
export function healthRoutes(probes: Probe[], metrics: Metrics): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const results = await Promise.all(
      probes.map(async (probe) => {
        try {
          await withTimeout(probe.check(), PROBE_TIMEOUT_MS);
          return [probe.name, 'ok'] as const;
        } catch {
          metrics.dependencyErrors.inc({ dependency: probe.name });
          return [probe.name, 'unavailable'] as const;
        }
      }),
    );
    const ready = results.every(([, status]) => status === 'ok');
    ctx.set('Cache-Control', 'no-store');
    ctx.status = ready ? 200 : 503;
    if (!ready) ctx.set('Retry-After', '5');
    ctx.body = { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) };
  });
  router.get('/metrics', async (ctx) => {
    let rendered: { contentType: string; body: string };
    try {
      rendered = await metrics.render();
    } catch (error) {
      (ctx.state.log as Logger).warn({ err: error }, 'metrics unavailable');
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
