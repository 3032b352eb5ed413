/**
 * /media/{id}/v{N}/…: a video's versioned outputs through the caching origin (core/origin).
 * A version that is still processing but already playable (instant publish) is served from
 * its staging prefix, with short-lived playlists. Private videos need a signed `?token=`;
 * the token is carried onto every child URI of the playlists, MPD and storyboard served.
 *
 * Object keys are built from the validated id, version and file name only: nothing from the
 * URL is concatenated unchecked, so no request reaches outside the version's prefix.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../../errors.js';
import { clientIpResolver } from '../client-ip.js';
import { BASE_SECURITY_HEADERS, setBaseSecurityHeaders } from '../security-headers.js';
import { ID_RE } from '../../ids.js';
import { MediaAccessCache } from '../../origin/access-cache.js';
import { isPlaylist, mediaType } from '../../origin/content-types.js';
import { ifNoneMatchHits } from '../../origin/conditional.js';
import { HotAnswers, hotRequestHeaders } from '../../origin/hot-answers.js';
import { MEDIA_CORS_HEADERS, MEDIA_PREFLIGHT_HEADERS, writeOriginResponse } from '../../origin/http-response.js';
import type { OriginRequest, OriginResponse } from '../../origin/origin.js';
import { playbackSigner, type TokenCheck } from '../../origin/signing.js';
import { rewritableFormat, rewriteChildUris } from '../../origin/token-rewrite.js';
import type { Services } from '../../services.js';
import { sendErrorBody } from '../raw-errors.js';
import { countInstantAnswer, instantAnswerTally, observeRawRequest, type InstantTally } from '../../telemetry/metrics.js';
import { objectKeys } from '../../storage/object-store.js';

const FILE_RE = /^(?:[A-Za-z0-9_-]{1,32}\/)?[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}$/;
const VERSION_RE = /^v(\d{1,6})$/;
/** Files redirect mode hands to the storage: immutable and heavy (playlists stay here). */
const REDIRECTABLE = /\.(m4s|mp4|jpg)$/;

const TOKEN_REFUSALS: Record<Exclude<TokenCheck, 'ok'>, string> = {
  missing: 'a signed playback token is required for this video',
  malformed: 'the playback token is malformed',
  invalid: 'the playback token is not valid for this video',
  expired: 'the playback token has expired',
};

/**
 * Cache-Control by how long the bytes behind a URL stay the same and servable: a replaced
 * version only until its grace period ends (`servedUntil`, epoch ms; Infinity otherwise).
 */
function cacheControl(privateVideo: boolean, immutable: boolean, tokenExpiresAt: number, servedUntil: number): string {
  if (!immutable) return privateVideo ? 'private, max-age=1' : 'public, max-age=1';
  const graceLeft = Math.max(0, Math.floor((servedUntil - Date.now()) / 1000));
  if (!privateVideo) return Number.isFinite(servedUntil) ? `public, max-age=${graceLeft}` : 'public, max-age=31536000, immutable';
  // Shared caches must not keep serving a private URL after its token expires.
  const remaining = Math.min(graceLeft, Math.max(0, Math.floor(tokenExpiresAt - Date.now() / 1000)));
  return `private, max-age=${remaining}, immutable`;
}

/** The parts of a media URL path (`/media/{id}/v{N}/{file}`), validated; undefined otherwise. */
export function parseMediaPath(pathname: string): { id: string; version: number; file: string; type: string } | undefined {
  const m = /^\/media\/([^/]+)\/([^/]+)\/(.+)$/.exec(pathname);
  if (!m) return undefined;
  const [, id = '', versionPart = '', file = ''] = m;
  const version = VERSION_RE.exec(versionPart);
  const type = mediaType(file);
  if (!ID_RE.test(id) || !version || !FILE_RE.test(file) || file.includes('..') || !type) return undefined;
  return { id, version: Number(version[1]), file, type };
}

/** One media request, independent of the HTTP framework. */
export interface MediaRequest {
  method: string;
  pathname: string;
  token: string | undefined;
  /** Client address, as the signer binds tokens to it. */
  ip: string;
  headers: OriginRequest['headers'];
}

/** Resolves and serves media requests; throws AppError for what cannot be served. */
export type MediaService = (req: MediaRequest) => Promise<OriginResponse>;

export function createMediaService(s: Services): MediaService {
  const origin = s.origin;
  const access = new MediaAccessCache(s.catalog, s.config.origin.lookup_ttl_ms);
  const signer = playbackSigner(s);
  const redirect = s.config.origin.mode === 'redirect' && s.store.presign ? s.store.presign.bind(s.store) : undefined;
  if (s.config.origin.mode === 'redirect' && !redirect) {
    s.logger.warn({ storage: s.store.name }, 'origin.mode redirect needs a storage that can presign; serving instead');
  }

  return async (req) => {
    const media = parseMediaPath(req.pathname);
    if (!media) throw new AppError('E_NOT_FOUND', 'no such media');
    const { id, version: versionNo, file, type } = media;

    const video = await access.video(id);
    if (!video) throw new AppError('E_NOT_FOUND', 'no such media');
    const privateVideo = video.visibility === 'private';
    const { token } = req;
    if (privateVideo) {
      const check = signer.check(id, token, { ip: req.ip });
      if (check !== 'ok') throw new AppError('E_FORBIDDEN', TOKEN_REFUSALS[check]);
    }
    const version = await access.version(id, versionNo);
    if (!version || (!version.ready && !version.playable)) throw new AppError('E_NOT_FOUND', 'no such media');
    // A replaced version plays on for the grace period only (its media is swept after it).
    const servedUntil = version.supersededAt === null ? Infinity : version.supersededAt + s.config.versions.grace_s * 1000;
    if (Date.now() >= servedUntil) throw new AppError('E_NOT_FOUND', 'this version was replaced by a newer one');
    if (s.plugins.has('filter:playback.authorize')) {
      await s.plugins.filter(
        'filter:playback.authorize',
        { video_id: id, version: versionNo, file, visibility: video.visibility, ip: req.ip, token: token ?? null },
        { method: req.method },
      );
    }

    const format = privateVideo ? rewritableFormat(file) : undefined;
    const tokenExpiresAt = token ? Number(token.split('.')[0]) : 0;
    const request = (key: string, mutable: boolean): OriginRequest => ({
      key,
      mutable,
      contentType: type,
      cacheControl: cacheControl(privateVideo, !mutable || !isPlaylist(file), tokenExpiresAt, servedUntil),
      method: req.method,
      headers: req.headers,
      rewrite: format && token ? { id: token, apply: (text) => rewriteChildUris(format, text, token) } : undefined,
    });
    const finalKey = objectKeys.media(id, versionNo) + file;
    // Redirect mode: the storage serves the heavy immutable files itself (presigned, short-lived).
    if (redirect && version.ready && REDIRECTABLE.test(file)) {
      const location = await redirect(finalKey, s.config.origin.redirect_ttl_s);
      return {
        status: 302,
        length: 0,
        headers: { Location: location, 'Cache-Control': `private, max-age=${Math.max(0, s.config.origin.redirect_ttl_s - 60)}` },
      };
    }
    let res = await origin.serve(version.ready ? request(finalKey, false) : request(objectKeys.staging(id, versionNo) + file, true));
    // The version may have been published (staging moved) since its state was read.
    if (!res && !version.ready) res = await origin.serve(request(finalKey, false));
    if (!res) throw new AppError('E_NOT_FOUND', 'no such media');
    // The same answer may go to anyone asking for this URL until the access checks above
    // would run again: public media only, immutable objects only (a growing playlist keeps
    // its own short TTL in the origin), not a replaced version (its Cache-Control counts
    // down its grace period, which ends to the millisecond), no plugin deciding per viewer.
    if (res.cached && !privateVideo && version.ready && version.supersededAt === null && !s.plugins.has('filter:playback.authorize')) {
      res.shareableForMs = access.freshForMs(id, versionNo);
    }
    return res;
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The route pattern media requests are counted under in /metrics. */
const MEDIA_ROUTE = '/media/{id}/{version}/{file}';

/** Distinct media URLs whose whole answers one process keeps (core/origin/hot-answers.ts). */
const HOT_URLS = 20_000;

/**
 * The media fast path: GET/HEAD/OPTIONS under /media/ answered straight from the node
 * request, without Koa's middleware and router (a playlist hit costs a fraction of a
 * millisecond, so the framework's per-request work would dominate it). A URL answered from
 * memory a moment ago is answered again from its prepared answer, before any parsing.
 */
export function createMediaHandler(s: Services): (req: IncomingMessage, res: ServerResponse) => void {
  const serve = createMediaService(s);
  const clientIp = clientIpResolver(s.config.http.trust_proxy);
  const metrics = s.origin.metrics;
  const hot = new HotAnswers(HOT_URLS, Object.entries({ ...BASE_SECURITY_HEADERS, ...MEDIA_CORS_HEADERS }).flat());
  const sendError = (res: ServerResponse, err: AppError) => sendErrorBody(res, err, MEDIA_CORS_HEADERS);
  // A prepared answer is a 200 or a 304, to a GET or a HEAD.
  const tallies = Object.fromEntries(
    (['GET', 'HEAD'] as const).map((m) => [m, { ok: instantAnswerTally(m, MEDIA_ROUTE, 200), notModified: instantAnswerTally(m, MEDIA_ROUTE, 304) }]),
  ) as Record<'GET' | 'HEAD', { ok: InstantTally; notModified: InstantTally }>;

  const fullPath = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    setBaseSecurityHeaders(res);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, MEDIA_PREFLIGHT_HEADERS);
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, OPTIONS');
      return sendError(res, new AppError('E_BAD_REQUEST', `${req.method} is not allowed on media`));
    }
    try {
      const url = new URL(req.url ?? '/', 'http://origin.invalid');
      const answer = await serve({
        method: req.method,
        pathname: url.pathname,
        token: url.searchParams.get('token') ?? undefined,
        ip: clientIp(req),
        headers: {
          range: header(req, 'range'),
          ifNoneMatch: header(req, 'if-none-match'),
          ifRange: header(req, 'if-range'),
          acceptEncoding: header(req, 'accept-encoding'),
        },
      });
      if (answer.shareableForMs && answer.cached && req.url) hot.remember(req.url, answer.cached, answer.shareableForMs, performance.now());
      writeOriginResponse(res, answer, req.method === 'HEAD');
    } catch (err) {
      if (err instanceof AppError) return sendError(res, err);
      s.logger.error({ err, url: req.url }, 'media request failed');
      if (!res.headersSent) sendError(res, new AppError('E_INTERNAL'));
      else res.destroy();
    }
  };

  return (req, res) => {
    const method = req.method;
    const headers = method === 'GET' || method === 'HEAD' ? hotRequestHeaders(req.rawHeaders) : undefined;
    if ((method === 'GET' || method === 'HEAD') && headers !== undefined && !headers.ranged) {
      const now = performance.now();
      const prepared = hot.lookup(req.url!, headers.acceptEncoding, now);
      if (prepared !== undefined) {
        metrics.hits++;
        const ifNoneMatch = headers.ifNoneMatch;
        if (ifNoneMatch !== undefined && ifNoneMatchHits(ifNoneMatch, prepared.etag)) {
          metrics.notModified++;
          prepared.notModified.write(res, 304);
          res.end();
          countInstantAnswer(tallies[method].notModified, now);
        } else {
          prepared.head.write(res, 200);
          if (method === 'HEAD') res.end();
          else {
            metrics.bytesServed += prepared.body.length;
            if (prepared.text !== undefined) res.end(prepared.text, 'latin1');
            else res.end(prepared.body);
          }
          countInstantAnswer(tallies[method].ok, now);
        }
        return;
      }
    }
    observeRawRequest(req, res, MEDIA_ROUTE);
    void fullPath(req, res);
  };
}
