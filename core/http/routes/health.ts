/** /healthz (the node serves) and /readyz (DB, storage and, for workers, ffmpeg are usable). */
import type { Router } from '@koa/router';
import type { Services } from '../../services.js';
import type { AppState } from '../context.js';

export interface ReadinessProbe {
  /** Name of what is checked (db, storage, ffmpeg). */
  name: string;
  check(): Promise<boolean>;
}

export function healthRoutes(router: Router<AppState>, s: Services, extra: ReadinessProbe[] = []): void {
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const probes: ReadinessProbe[] = [
      { name: 'db', check: () => s.db.ping() },
      { name: 'storage', check: () => s.store.ping() },
      ...extra,
    ];
    const results = await Promise.all(probes.map(async (p) => [p.name, await p.check().catch(() => false)] as const));
    const missing = results.filter(([, ok]) => !ok).map(([name]) => name);
    ctx.status = missing.length === 0 ? 200 : 503;
    ctx.body = missing.length === 0 ? { status: 'ok' } : { status: 'unavailable', missing };
  });
}
