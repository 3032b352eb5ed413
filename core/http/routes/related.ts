/**
 * GET /v1/videos/:id/related (API.md "related, embed"): videos to watch next, in the page
 * shape of GET /v1/videos. The list is one bounded page (`next_cursor` is always null): ready
 * public videos sharing the video's tags and title words, then trending ones (core/catalog/
 * related.ts). The video itself must be visible to the caller.
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { RelatedVideos } from '../../catalog/related.js';
import type { Services } from '../../services.js';
import type { AppState } from '../context.js';
import { trendingFeed } from './feed.js';
import { loadVisibleVideo, videoViewer } from './videos.js';

const relatedQuery = z.object({ limit: z.coerce.number().int().min(1).max(50).default(10) });

export function relatedRoutes(router: Router<AppState>, s: Services): void {
  const view = videoViewer(s);
  const related = new RelatedVideos(s.catalog, trendingFeed(s));
  router.get('/v1/videos/:id/related', async (ctx) => {
    const q = relatedQuery.parse(ctx.query);
    const video = await loadVisibleVideo(s, ctx.params.id!, ctx.state.principal);
    const rows = await related.list(video, q.limit);
    ctx.body = { items: await Promise.all(rows.map((row) => view(row, ctx.ip))), next_cursor: null };
  });
}
