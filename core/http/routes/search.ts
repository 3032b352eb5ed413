/**
 * GET /v1/search (API.md "Videos"): words over title, description and tags, newest first,
 * the same page shape and visibility rules as GET /v1/videos.
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import type { Services } from '../../services.js';
import type { Visibility } from '../../storage/metadata-db.js';
import { hasScope } from '../auth.js';
import type { AppState } from '../context.js';
import { videoViewer } from './videos.js';

const MAX_WORDS = 12;

const searchQuery = z.object({
  q: z
    .string({ error: 'q is required' })
    .max(500)
    .transform((q) => q.trim().split(/\s+/).filter(Boolean))
    .refine((words) => words.length > 0, 'q must contain at least one word')
    .refine((words) => words.length <= MAX_WORDS, `q may have at most ${MAX_WORDS} words`),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export function searchRoutes(router: Router<AppState>, s: Services): void {
  const view = videoViewer(s);
  router.get('/v1/search', async (ctx) => {
    const q = searchQuery.parse(ctx.query);
    const privileged = hasScope(ctx.state.principal, 'read');
    const page = await s.catalog.search({
      words: q.q,
      limit: q.limit,
      cursor: q.cursor,
      // Anonymous callers find ready public videos only: unlisted ones are never listed.
      status: privileged ? undefined : 'ready',
      visibilities: privileged ? undefined : (['public'] satisfies Visibility[]),
    });
    ctx.body = { items: await Promise.all(page.items.map((row) => view(row, ctx.ip))), next_cursor: page.next_cursor };
  });
}
