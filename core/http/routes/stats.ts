/** GET /v1/videos/:id/stats: QoE figures of one video, for callers who may see it (API.md "Telemetry"). */
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import { isId } from '../../ids.js';
import type { Services } from '../../services.js';
import { EventStore } from '../../telemetry/event-store.js';
import type { AppState } from '../context.js';
import { canSee } from './videos.js';

export function statsRoutes(router: Router<AppState>, s: Services): void {
  const store = new EventStore(s.db.db);

  router.get('/v1/videos/:id/stats', async (ctx) => {
    const id = ctx.params.id!;
    const row = isId(id) ? await s.catalog.find(id) : undefined;
    // As for GET /v1/videos/:id: a private video is invisible, not forbidden, to others.
    if (!row || !canSee(ctx.state.principal, row)) throw new AppError('E_NOT_FOUND', `video ${id} not found`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await store.stats(row.id);
  });
}
