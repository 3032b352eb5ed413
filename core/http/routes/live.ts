/**
 * Lives (API.md "Live"): /v1/live (create, read, list, revoke), the live media under
 * /live/{id}/… through the caching origin, and the /live/{id} page.
 *
 * Media: the packager (live/, in the media process) publishes segments and playlists into
 * the object store under `live/{id}/`; this route serves them with the shared origin, live
 * playlists as mutable objects (`max-age=1`, cached in memory for at most
 * origin.mutable_ttl_ms) and segments as immutable ones. Object keys are built from the
 * validated id and file name only.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Router } from '@koa/router';
import { z } from 'zod';
import { liveObjectKey } from '../../../live/live-packager.js';
import { LiveStore, liveView } from '../../../live/live-store.js';
import { publicRtmpUrl } from '../../../live/ingest-server.js';
import { AppError } from '../../errors.js';
import { isId } from '../../ids.js';
import { isPlaylist, mediaType } from '../../origin/content-types.js';
import { MEDIA_CORS_HEADERS, MEDIA_PREFLIGHT_HEADERS, writeOriginResponse } from '../../origin/http-response.js';
import type { Services } from '../../services.js';
import { canManage, ownerOf, requireScope } from '../auth.js';
import { readJson } from '../body.js';
import type { AppContext, AppState } from '../context.js';

const LIVE_FILE_RE = /^(?:[A-Za-z0-9_-]{1,32}\/)?[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}$/;
const LIVE_MEDIA_PATH = '/live/:id/{*path}';

const createBody = z.object({
  title: z.string().trim().min(1).max(500),
  record: z.boolean().optional(),
});

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

/** `live.public_rtmp_url`, else `rtmp://HOST:PORT/live` with the host clients reach this node by (public_url, else the request's). */
function rtmpUrl(s: Services, requestHost: string): string {
  return publicRtmpUrl(s.config.live, s.config.public_url ? new URL(s.config.public_url).hostname : requestHost);
}

export function liveRoutes(router: Router<AppState>, s: Services): void {
  const lives = new LiveStore(s.db.db);
  const origin = s.origin;
  const page = livePage();

  const load = async (id: string) => {
    const row = isId(id) ? await lives.find(id) : undefined;
    if (!row) throw new AppError('E_NOT_FOUND', `live ${id} not found`);
    return row;
  };

  router.post('/v1/live', async (ctx) => {
    requireScope(ctx.state.principal, 'upload');
    const parsed = createBody.safeParse(await readJson(ctx));
    if (!parsed.success) throw new AppError('E_BAD_REQUEST', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    const { row, streamKey } = await lives.create({ title: parsed.data.title, record: parsed.data.record ?? true, owner: ownerOf(ctx.state.principal) });
    ctx.status = 201;
    ctx.body = { ...liveView(row, s.config.public_url), stream_key: streamKey, rtmp_url: rtmpUrl(s, ctx.hostname) };
  });

  router.get('/v1/live', async (ctx) => {
    const q = listQuery.safeParse(ctx.query);
    if (!q.success) throw new AppError('E_BAD_REQUEST', q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const before = q.data.cursor ? await lives.find(q.data.cursor) : undefined;
    if (q.data.cursor && !before) throw new AppError('E_BAD_REQUEST', 'invalid cursor');
    const rows = await lives.list({ limit: q.data.limit + 1, status: q.data.status, before });
    const page = rows.slice(0, q.data.limit);
    ctx.body = {
      items: page.map((r) => liveView(r, s.config.public_url)),
      next_cursor: rows.length > q.data.limit ? page[page.length - 1]!.id : null,
    };
  });

  router.get('/v1/live/:id', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...liveView(await load(ctx.params.id ?? ''), s.config.public_url), rtmp_url: rtmpUrl(s, ctx.hostname) };
  });

  router.delete('/v1/live/:id', async (ctx) => {
    requireScope(ctx.state.principal, 'upload');
    const row = await load(ctx.params.id ?? '');
    if (!canManage(ctx.state.principal, row.owner)) throw new AppError('E_FORBIDDEN', 'this token may not manage this live');
    ctx.body = liveView(await lives.revoke(row.id), s.config.public_url);
  });

  const media = async (ctx: AppContext) => {
    ctx.set(MEDIA_CORS_HEADERS);
    const id = typeof ctx.params.id === 'string' ? ctx.params.id : '';
    const raw = ctx.params.path ?? '';
    const file = Array.isArray(raw) ? raw.join('/') : raw;
    const type = mediaType(file);
    if (!isId(id) || !LIVE_FILE_RE.test(file) || file.includes('..') || !type) throw new AppError('E_NOT_FOUND', 'no such media');
    const mutable = isPlaylist(file);
    const res = await origin.serve({
      key: liveObjectKey(id, file),
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
