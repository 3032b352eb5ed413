/**
 * Lives (API.md "Live"): /v1/live (create, read, list, revoke), the live media under
 * /live/{id}/… through the caching origin, and the /live/{id} page.
 *
 * Media: the packager (live/, in the media process) publishes segments and playlists into
 * the object store under `live/{id}/`; this route serves them with the shared origin, live
 * playlists as mutable objects (`max-age=1`, cached in memory for at most
 * origin.mutable_ttl_ms) and segments as immutable ones. Object keys are built from the
 * validated id and file name only.
 *
 * Live media playlists are LL-HLS: `?_HLS_msn=&_HLS_part=` holds the request until that part
 * is published (core/origin/blocking-reload.ts), woken by the packager's notification
 * (core/origin/live-updates.ts), which also drops this process's cached copy of the playlist.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Router } from '@koa/router';
import { z } from 'zod';
import { LIVE_POSTER, liveObjectKey, publicRtmpUrl, publicSrtUrl, srtPublishUrl } from '../../live/live-locations.js';
import { configTargets, newTargets, parseJsonList, restreamInput } from '../../live/restream-targets.js';
import type { LiveRow } from '../../storage/metadata-db.js';
import { LiveStore, liveView } from '../../live/live-store.js';
import { AppError } from '../../errors.js';
import { isId } from '../../ids.js';
import { reloadWant, waitForHintedPart, waitForPlaylist } from '../../origin/blocking-reload.js';
import { MEDIA_PLAYLIST } from '../../media/transcode-command.js';
import { isPlaylist, mediaType } from '../../origin/content-types.js';
import { liveUpdates } from '../../origin/live-updates.js';
import { MEDIA_CORS_HEADERS, MEDIA_PREFLIGHT_HEADERS, writeOriginResponse } from '../../origin/http-response.js';
import type { Services } from '../../services.js';
import { canManage, ownerOf, requireScope } from '../auth.js';
import { readJson } from '../body.js';
import type { AppContext, AppState } from '../context.js';
import { whipUrl } from './live-whip.js';

const LIVE_FILE_RE = /^(?:[A-Za-z0-9_-]{1,32}\/)?[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}$/;
const LIVE_MEDIA_PATH = '/live/:id/{*path}';

const createBody = z.object({
  title: z.string().trim().min(1).max(500),
  record: z.boolean().optional(),
  restream: restreamInput.optional(),
});

const patchBody = z
  .object({
    title: z.string().trim().min(1).max(500).optional(),
    /** Replaces the live's own targets (config targets stay); the media process follows within a second. */
    restream: restreamInput.optional(),
  })
  .strict();

function badRequest(error: z.ZodError): AppError {
  return new AppError('E_BAD_REQUEST', error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
}

const listQuery = z.object({
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  status: z.enum(['idle', 'live', 'ended']).optional(),
});

/** The live page: web/live.html with the shared header (assets by their unversioned URLs). */
function livePage(): Buffer {
  const here = dirname(fileURLToPath(import.meta.url));
  const web = here.includes('/dist/') ? resolve(here, '../../../../web') : resolve(here, '../../../web');
  const header = readFileSync(resolve(web, 'partials/header.html'), 'utf8').trim();
  return Buffer.from(readFileSync(resolve(web, 'live.html'), 'utf8').replace('<!-- site-header -->', header));
}

/**
 * The ingest URLs (`live.public_rtmp_url` / `live.public_srt_url`, else built with the host
 * clients reach this node by: public_url's, else the request's). `srt_url` is null with SRT off;
 * `whip_url` is on the API itself (public_url, else the origin the caller used).
 */
function ingestUrls(s: Services, ctx: AppContext, liveId: string): { rtmp_url: string; srt_url: string | null; whip_url: string } {
  const host = s.config.public_url ? new URL(s.config.public_url).hostname : ctx.hostname;
  return {
    rtmp_url: publicRtmpUrl(s.config.live, host),
    srt_url: publicSrtUrl(s.config.live, host),
    whip_url: whipUrl(s.config.public_url, `${ctx.protocol}://${ctx.host}`, liveId),
  };
}

export function liveRoutes(router: Router<AppState>, s: Services): void {
  const lives = new LiveStore(s.db.db);
  const origin = s.origin;
  const page = livePage();
  // A playlist the packager rewrote is read anew, not served from memory until its TTL ends.
  liveUpdates.onEvery((key) => origin.forget(key));
  /** A blocked reload answers within three target durations (RFC 8216bis 6.2.5.2). */
  const maxBlockMs = 3 * s.config.transcode.segment_s * 1000;

  const configured = configTargets(s.config.live.restream);
  const view = (row: LiveRow) => liveView(row, s.config.public_url, configured);

  const load = async (id: string) => {
    const row = isId(id) ? await lives.find(id) : undefined;
    if (!row) throw new AppError('E_NOT_FOUND', `live ${id} not found`);
    return row;
  };

  router.post('/v1/live', async (ctx) => {
    requireScope(ctx.state.principal, 'upload');
    const parsed = createBody.safeParse(await readJson(ctx));
    if (!parsed.success) throw badRequest(parsed.error);
    const { row, streamKey } = await lives.create({
      title: parsed.data.title,
      record: parsed.data.record ?? true,
      owner: ownerOf(ctx.state.principal),
      restream: newTargets(parsed.data.restream ?? []),
    });
    ctx.status = 201;
    const urls = ingestUrls(s, ctx, row.id);
    ctx.body = { ...view(row), stream_key: streamKey, ...urls, ...(urls.srt_url ? { srt_publish_url: srtPublishUrl(urls.srt_url, streamKey) } : {}) };
  });

  router.get('/v1/live', async (ctx) => {
    const q = listQuery.safeParse(ctx.query);
    if (!q.success) throw badRequest(q.error);
    const before = q.data.cursor ? await lives.find(q.data.cursor) : undefined;
    if (q.data.cursor && !before) throw new AppError('E_BAD_REQUEST', 'invalid cursor');
    const rows = await lives.list({ limit: q.data.limit + 1, status: q.data.status, before });
    const page = rows.slice(0, q.data.limit);
    ctx.body = {
      items: page.map((r) => view(r)),
      next_cursor: rows.length > q.data.limit ? page[page.length - 1]!.id : null,
    };
  });

  router.get('/v1/live/:id', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const row = await load(ctx.params.id ?? '');
    ctx.body = { ...view(row), ...ingestUrls(s, ctx, row.id) };
  });

  router.patch('/v1/live/:id', async (ctx) => {
    requireScope(ctx.state.principal, 'upload');
    const row = await load(ctx.params.id ?? '');
    if (!canManage(ctx.state.principal, row.owner)) throw new AppError('E_FORBIDDEN', 'this token may not manage this live');
    const parsed = patchBody.safeParse(await readJson(ctx));
    if (!parsed.success) throw badRequest(parsed.error);
    const { title, restream } = parsed.data;
    await lives.update(row.id, {
      ...(title !== undefined ? { title } : {}),
      ...(restream !== undefined ? { restream_targets: JSON.stringify(newTargets(restream, parseJsonList(row.restream_targets))) } : {}),
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...view(await lives.get(row.id)), ...ingestUrls(s, ctx, row.id) };
  });

  router.delete('/v1/live/:id', async (ctx) => {
    requireScope(ctx.state.principal, 'upload');
    const row = await load(ctx.params.id ?? '');
    if (!canManage(ctx.state.principal, row.owner)) throw new AppError('E_FORBIDDEN', 'this token may not manage this live');
    ctx.body = view(await lives.revoke(row.id));
  });

  const media = async (ctx: AppContext) => {
    ctx.set(MEDIA_CORS_HEADERS);
    const id = typeof ctx.params.id === 'string' ? ctx.params.id : '';
    const raw = ctx.params.path ?? '';
    const file = Array.isArray(raw) ? raw.join('/') : raw;
    const type = mediaType(file);
    if (!isId(id) || !LIVE_FILE_RE.test(file) || file.includes('..') || !type) throw new AppError('E_NOT_FOUND', 'no such media');
    // The poster of a live on air is replaced every live.poster_interval_s.
    const mutable = isPlaylist(file) || file === LIVE_POSTER;
    const key = liveObjectKey(id, file);
    const want = isPlaylist(file) ? reloadWant(new URLSearchParams(ctx.querystring)) : undefined;
    if (want) await waitForPlaylist(liveUpdates, key, () => origin.peekText(key), want, maxBlockMs);
    const serve = () =>
      origin.serve({
        key,
        mutable,
        contentType: type,
        cacheControl: mutable ? 'public, max-age=1' : 'public, max-age=31536000, immutable',
        method: ctx.method,
        headers: {
          range: ctx.get('range') || undefined,
          ifNoneMatch: ctx.get('if-none-match') || undefined,
          ifRange: ctx.get('if-range') || undefined,
          acceptEncoding: ctx.get('accept-encoding') || undefined,
        },
      });
    let res = await serve();
    const slash = file.lastIndexOf('/');
    if (!res && !mutable && slash > 0) {
      // The part the rendition's preload hint names is held until it is published.
      const playlistKey = liveObjectKey(id, `${file.slice(0, slash)}/${MEDIA_PLAYLIST}`);
      await waitForHintedPart(liveUpdates, playlistKey, () => origin.peekText(playlistKey), file.slice(slash + 1), maxBlockMs);
      res = await serve();
    }
    if (!res) throw new AppError('E_NOT_FOUND', 'no such media');
    ctx.respond = false;
    writeOriginResponse(ctx.res, res, ctx.method === 'HEAD');
  };
  router.options(LIVE_MEDIA_PATH, (ctx) => {
    ctx.set(MEDIA_PREFLIGHT_HEADERS);
    ctx.status = 204;
  });
  router.get(LIVE_MEDIA_PATH, media);

  router.get('/live/:id', async (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = page;
  });
}
