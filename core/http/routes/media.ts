/**
 * /media/{id}/v{N}/…: versioned outputs from the object-storage seam with Range, HEAD and
 * ETag/If-None-Match. A version that is still processing but already playable (instant
 * publish) is served from its staging prefix with short-lived playlists. The full caching
 * origin (LRU, coalescing, compression) is core/origin's job in a later issue.
 *
 * Object keys are built from the validated id, version and file name only: nothing from the
 * URL is concatenated unchecked, so no request reaches outside the version's prefix.
 */
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import { ID_RE } from '../../ids.js';
import { isPlaylist, mediaType } from '../../origin/content-types.js';
import { parseRange } from '../../origin/range.js';
import type { Services } from '../../services.js';
import { objectKeys, type ObjectInfo } from '../../storage/object-store.js';
import type { AppState } from '../context.js';

const FILE_RE = /^(?:[A-Za-z0-9_-]{1,32}\/)?[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';
const GROWING = 'public, max-age=1';

export function mediaRoutes(router: Router<AppState>, s: Services): void {
  const handler = async (ctx: Parameters<Parameters<typeof router.get>[1]>[0]) => {
    const id = ctx.params.id ?? '';
    const versionParam = /^v(\d{1,6})$/.exec(ctx.params.version ?? '');
    const file = (ctx.params.path as string | string[] | undefined) ?? '';
    const rel = Array.isArray(file) ? file.join('/') : file;
    const type = mediaType(rel);
    if (!ID_RE.test(id) || !versionParam || !FILE_RE.test(rel) || rel.includes('..') || !type) {
      throw new AppError('E_NOT_FOUND', 'no such media');
    }
    const versionNo = Number(versionParam[1]);
    const video = await s.catalog.find(id);
    if (!video) throw new AppError('E_NOT_FOUND', 'no such media');
    if (video.visibility === 'private' && !s.signer.verify(id, typeof ctx.query.token === 'string' ? ctx.query.token : undefined)) {
      throw new AppError('E_FORBIDDEN', 'a valid playback token is required for this video');
    }
    const version = await s.catalog.version(id, versionNo);
    if (!version || (version.status !== 'ready' && !version.playable)) throw new AppError('E_NOT_FOUND', 'no such media');

    const ready = version.status === 'ready';
    const finalKey = objectKeys.media(id, versionNo) + rel;
    let key = ready ? finalKey : objectKeys.staging(id, versionNo) + rel;
    let info: ObjectInfo | undefined = await s.store.head(key);
    // The version may have been published between the DB read and the storage read.
    if (!info && !ready) info = await s.store.head((key = finalKey));
    if (!info) throw new AppError('E_NOT_FOUND', 'no such media');

    ctx.set('Content-Type', type);
    ctx.set('ETag', info.etag);
    ctx.set('Accept-Ranges', 'bytes');
    ctx.set('Cache-Control', ready || !isPlaylist(rel) ? IMMUTABLE : GROWING);
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Access-Control-Expose-Headers', 'Content-Length, Content-Range, ETag');
    if (ctx.get('if-none-match') === info.etag) {
      ctx.status = 304;
      return;
    }
    const range = parseRange(ctx.get('range') || undefined, info.size);
    if (range === 'unsatisfiable') {
      ctx.set('Content-Range', `bytes */${info.size}`);
      ctx.status = 416;
      ctx.body = new AppError('E_BAD_REQUEST', 'range not satisfiable').toBody();
      return;
    }
    if (ctx.method !== 'HEAD') {
      const obj = await s.store.get(key, range);
      if (!obj) throw new AppError('E_NOT_FOUND', 'no such media');
      ctx.body = obj.body;
    }
    // Koa sends headers only for HEAD; the status and length are the same as for GET.
    ctx.status = range ? 206 : 200;
    ctx.length = range ? range.end - range.start + 1 : info.size;
    if (range) ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${info.size}`);
  };
  router.get('/media/:id/:version/{*path}', handler);
}
