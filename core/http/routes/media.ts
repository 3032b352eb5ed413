/**
 * /media/{id}/v{N}/…: a video's versioned outputs through the caching origin (core/origin).
 * A version that is still processing but already playable (instant publish) is served from
 * its staging prefix, with short-lived playlists. Private videos need a signed `?token=`;
 * the token is carried onto every child URI of the playlists, MPD and storyboard served.
 *
 * Object keys are built from the validated id, version and file name only: nothing from the
 * URL is concatenated unchecked, so no request reaches outside the version's prefix.
 */
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import { ID_RE } from '../../ids.js';
import { MediaAccessCache } from '../../origin/access-cache.js';
import { isPlaylist, mediaType } from '../../origin/content-types.js';
import { answerMediaPreflight, MEDIA_CORS_HEADERS, sendOriginResponse } from '../../origin/http-response.js';
import { sharedOrigin, type OriginRequest } from '../../origin/origin.js';
import { playbackSigner, type TokenCheck } from '../../origin/signing.js';
import { rewritableFormat, rewriteChildUris } from '../../origin/token-rewrite.js';
import type { Services } from '../../services.js';
import { objectKeys } from '../../storage/object-store.js';
import type { AppContext, AppState } from '../context.js';

const FILE_RE = /^(?:[A-Za-z0-9_-]{1,32}\/)?[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}$/;
const VERSION_RE = /^v(\d{1,6})$/;
const MEDIA_PATH = '/media/:id/:version/{*path}';

const TOKEN_REFUSALS: Record<Exclude<TokenCheck, 'ok'>, string> = {
  missing: 'a signed playback token is required for this video',
  malformed: 'the playback token is malformed',
  invalid: 'the playback token is not valid for this video',
  expired: 'the playback token has expired',
};

/** Cache-Control by how long the bytes behind a URL stay the same. */
function cacheControl(privateVideo: boolean, immutable: boolean, tokenExpiresAt: number): string {
  if (!immutable) return privateVideo ? 'private, max-age=1' : 'public, max-age=1';
  if (!privateVideo) return 'public, max-age=31536000, immutable';
  // Shared caches must not keep serving a private URL after its token expires.
  const remaining = Math.max(0, Math.floor(tokenExpiresAt - Date.now() / 1000));
  return `private, max-age=${remaining}, immutable`;
}

/** The parts of a media URL, validated; undefined for anything that is not a media file. */
function parseMediaPath(params: Record<string, string | string[] | undefined>): { id: string; version: number; file: string; type: string } | undefined {
  const id = typeof params.id === 'string' ? params.id : '';
  const version = VERSION_RE.exec(typeof params.version === 'string' ? params.version : '');
  const raw = params.path ?? '';
  const file = Array.isArray(raw) ? raw.join('/') : raw;
  const type = mediaType(file);
  if (!ID_RE.test(id) || !version || !FILE_RE.test(file) || file.includes('..') || !type) return undefined;
  return { id, version: Number(version[1]), file, type };
}

export function mediaRoutes(router: Router<AppState>, s: Services): void {
  const origin = sharedOrigin(s);
  const access = new MediaAccessCache(s.catalog, s.config.origin.lookup_ttl_ms);
  const signer = playbackSigner(s);

  const handler = async (ctx: AppContext) => {
    ctx.set(MEDIA_CORS_HEADERS);
    const media = parseMediaPath(ctx.params);
    if (!media) throw new AppError('E_NOT_FOUND', 'no such media');
    const { id, version: versionNo, file, type } = media;

    const video = await access.video(id);
    if (!video) throw new AppError('E_NOT_FOUND', 'no such media');
    const privateVideo = video.visibility === 'private';
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : undefined;
    if (privateVideo) {
      const check = signer.check(id, token, { ip: ctx.ip });
      if (check !== 'ok') {
        ctx.set('Cache-Control', 'no-store');
        throw new AppError('E_FORBIDDEN', TOKEN_REFUSALS[check]);
      }
    }
    const version = await access.version(id, versionNo);
    if (!version || (!version.ready && !version.playable)) throw new AppError('E_NOT_FOUND', 'no such media');

    const format = privateVideo ? rewritableFormat(file) : undefined;
    const tokenExpiresAt = token ? Number(token.split('.')[0]) : 0;
    const request = (key: string, mutable: boolean): OriginRequest => ({
      key,
      mutable,
      contentType: type,
      cacheControl: cacheControl(privateVideo, !mutable || !isPlaylist(file), tokenExpiresAt),
      method: ctx.method,
      headers: {
        range: ctx.get('range') || undefined,
        ifNoneMatch: ctx.get('if-none-match') || undefined,
        ifRange: ctx.get('if-range') || undefined,
        acceptEncoding: ctx.get('accept-encoding') || undefined,
      },
      rewrite: format && token ? { id: token, apply: (text) => rewriteChildUris(format, text, token) } : undefined,
    });
    const finalKey = objectKeys.media(id, versionNo) + file;
    let res = await origin.serve(version.ready ? request(finalKey, false) : request(objectKeys.staging(id, versionNo) + file, true));
    // The version may have been published (staging moved) since its state was read.
    if (!res && !version.ready) res = await origin.serve(request(finalKey, false));
    if (!res) throw new AppError('E_NOT_FOUND', 'no such media');
    sendOriginResponse(ctx, res);
  };
  router.options(MEDIA_PATH, answerMediaPreflight);
  router.get(MEDIA_PATH, handler);
}
