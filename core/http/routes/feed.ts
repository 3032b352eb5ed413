/**
 * GET /v1/feed (API.md "Videos"): ready videos ranked by recent engagement (trending, see
 * core/catalog/feed.ts), the same page shape as GET /v1/videos. Anonymous callers get ready
 * public videos only; callers with the read scope get every visibility.
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { TrendingFeed } from '../../catalog/feed.js';
import type { Services } from '../../services.js';
import type { Visibility } from '../../storage/metadata-db.js';
import { ensureSigningSecret, hasScope } from '../auth.js';
import type { AppState } from '../context.js';
import { videoViewer } from './videos.js';

const feedQuery = z.object({
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

const feeds = new WeakMap<Services, TrendingFeed>();

/** The process's one trending feed (its ranking cache is shared by the feed and related videos). */
export function trendingFeed(s: Services): TrendingFeed {
  let feed = feeds.get(s);
  if (!feed) {
    feed = new TrendingFeed(s.db.db, { bucketMs: s.config.catalog.feed_refresh_s * 1000, secret: ensureSigningSecret(s.config) });
    feeds.set(s, feed);
  }
  return feed;
}

export function feedRoutes(router: Router<AppState>, s: Services): void {
  const view = videoViewer(s);
  const feed = trendingFeed(s);
  router.get('/v1/feed', async (ctx) => {
    const q = feedQuery.parse(ctx.query);
    const privileged = hasScope(ctx.state.principal, 'read');
    const page = await feed.page({ limit: q.limit, cursor: q.cursor, visibilities: privileged ? undefined : (['public'] satisfies Visibility[]) });
    ctx.body = { items: await Promise.all(page.items.map((row) => view(row, ctx.ip))), next_cursor: page.next_cursor };
  });
}
