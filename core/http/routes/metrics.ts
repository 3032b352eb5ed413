/** GET /metrics: Prometheus text for the whole node (core/telemetry/metrics.ts). */
import type { Router } from '@koa/router';
import type { Services } from '../../services.js';
import { METRICS_CONTENT_TYPE, metricsText, setMetricSources } from '../../telemetry/metrics.js';
import type { AppState } from '../context.js';

export function metricsRoutes(router: Router<AppState>, s: Services): void {
  setMetricSources({ origin: () => s.origin.stats(), queue: () => s.queue.depth() });
  router.get('/metrics', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = METRICS_CONTENT_TYPE;
    ctx.body = await metricsText();
  });
}
