/** GET /v1/jobs?status= (admin): the processing jobs with stage, attempts and last error. */
import type { Router } from '@koa/router';
import { z } from 'zod';
import type { Services } from '../../services.js';
import { requireScope } from '../auth.js';
import type { AppState } from '../context.js';

const query = z.object({
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'dead']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export function jobRoutes(router: Router<AppState>, s: Services): void {
  router.get('/v1/jobs', async (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    const q = query.parse(ctx.query);
    const jobs = await s.queue.list({ status: q.status, limit: q.limit });
    const stages = new Map<string, { stage: string | null; percent: number | null }>();
    for (const j of jobs) {
      if (j.video_id && j.version) {
        const v = await s.catalog.version(j.video_id, j.version);
        if (v) stages.set(`${j.video_id}/${j.version}`, { stage: v.stage, percent: v.percent });
      }
    }
    ctx.body = {
      items: jobs.map((j) => ({
        id: j.id,
        type: j.type,
        status: j.status,
        video_id: j.video_id,
        version: j.version,
        attempts: j.attempts,
        max_attempts: j.max_attempts,
        last_error: j.last_error,
        ...(stages.get(`${j.video_id}/${j.version}`) ?? { stage: null, percent: null }),
        created_at: new Date(j.created_at).toISOString(),
        run_after: new Date(j.run_after).toISOString(),
      })),
    };
  });
}
