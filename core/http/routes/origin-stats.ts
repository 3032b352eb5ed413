/** GET /v1/origin/stats (admin): this process's origin cache occupancy and counters. */
import type { Router } from '@koa/router';
import type { Services } from '../../services.js';
import { requireScope } from '../auth.js';
import type { AppState } from '../context.js';

export function originStatsRoutes(router: Router<AppState>, s: Services): void {
  router.get('/v1/origin/stats', (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { pid: process.pid, ...s.origin.stats() };
  });
}
