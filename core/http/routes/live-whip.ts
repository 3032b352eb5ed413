/**
 * WHIP (RFC 9725) for lives: `POST /v1/live/{id}/whip` with `Authorization: Bearer
 * STREAM_KEY` and an SDP offer answers 201 with the SDP answer and a `Location` (the WHIP
 * session's resource); `DELETE` on that resource ends the broadcast. The peer itself runs in
 * the media process (core/live/whip-relay.ts): this route checks the key, relays, and keeps
 * the protocol's HTTP details (content types, CORS for browser publishers on other origins,
 * 405 for trickle ICE PATCHes, which are not supported: the answer carries every candidate).
 *
 * The stream key is the bearer token here, not an API token: the auth middleware leaves
 * these paths alone (`isWhipPath`). Wrong keys are counted per address like RTMP's
 * (`live.bad_key_limit` a minute, per HTTP process): past it the address gets 429.
 */
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import { isId } from '../../ids.js';
import {
  MAX_SDP_BYTES,
  relayToMediaProcess,
  WHIP_ADDRESS_HEADER,
  WHIP_KEY_HEADER,
  WHIP_SESSION_RE,
  whipSocketPath,
  type RelayResponse,
} from '../../live/whip-relay.js';
import { LiveStore } from '../../live/live-store.js';
import { TokenBucketLimiter } from '../../telemetry/rate-limit.js';
import type { Services } from '../../services.js';
import { readText } from '../body.js';
import type { AppContext, AppState } from '../context.js';

const WHIP_PATH = '/v1/live/:id/whip';
const SESSION_PATH = '/v1/live/:id/whip/:session';
const WHIP_PATH_RE = /^\/v1\/live\/[^/]+\/whip(?:\/[^/]+)?$/;
/** The media process has this long to answer an offer (ICE gathering included). */
const RELAY_TIMEOUT_MS = 15_000;

/** WHIP requests carry a stream key as bearer token, not an API token. */
export function isWhipPath(path: string): boolean {
  return WHIP_PATH_RE.test(path);
}

/** The URL a WHIP encoder publishes to: on `public_url` when set, else on the host the caller used. */
export function whipUrl(publicUrl: string, requestOrigin: string, liveId: string): string {
  return `${(publicUrl || requestOrigin).replace(/\/$/, '')}/v1/live/${liveId}/whip`;
}

/** Browser publishers run on other origins (an encoder page, a studio app). */
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Location, Link, Accept-Post',
};
const PREFLIGHT = {
  ...CORS,
  'Access-Control-Allow-Methods': 'POST, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
  'Access-Control-Max-Age': '600',
};

function bearer(ctx: AppContext): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
}

export function liveWhipRoutes(router: Router<AppState>, s: Services): void {
  const lives = new LiveStore(s.db.db);
  const socketPath = whipSocketPath(s.config.data_dir);
  const badKeys = new TokenBucketLimiter({ ratePerSecond: s.config.live.bad_key_limit / 60, burst: s.config.live.bad_key_limit });

  const relay = async (req: Parameters<typeof relayToMediaProcess>[1]): Promise<RelayResponse> => {
    try {
      return await relayToMediaProcess(socketPath, req);
    } catch (err) {
      s.logger.warn({ err }, 'whip: the media process could not be reached');
      throw new AppError('E_UNAVAILABLE', 'WHIP ingest is not running on this node (live role)');
    }
  };

  const refuse = (ctx: AppContext, message: string): never => {
    const verdict = badKeys.take(ctx.ip);
    ctx.set('WWW-Authenticate', 'Bearer');
    if (!verdict.allowed) {
      ctx.set('Retry-After', String(Math.ceil(verdict.retryAfterS)));
      throw new AppError('E_RATE_LIMITED', 'too many wrong stream keys from this address');
    }
    throw new AppError('E_UNAUTHORIZED', message);
  };

  for (const path of [WHIP_PATH, SESSION_PATH]) {
    router.options(path, (ctx) => {
      ctx.set(PREFLIGHT);
      if (path === WHIP_PATH) ctx.set('Accept-Post', 'application/sdp');
      ctx.status = 204;
    });
  }

  router.post(WHIP_PATH, async (ctx) => {
    ctx.set(CORS);
    const id = ctx.params.id ?? '';
    const key = bearer(ctx);
    if (!key) refuse(ctx, 'WHIP needs "Authorization: Bearer STREAM_KEY"');
    const row = isId(id) ? await lives.findByKey(key!) : undefined;
    if (!row || row.id !== id || row.revoked_at !== null) refuse(ctx, 'unknown or revoked stream key for this live');
    if (row!.status === 'ended') throw new AppError('E_CONFLICT', 'this live has ended');
    if (!/^application\/sdp\s*(;|$)/i.test(ctx.get('content-type'))) throw new AppError('E_UNSUPPORTED_MEDIA_TYPE', 'a WHIP offer is Content-Type: application/sdp');
    const offer = await readText(ctx, MAX_SDP_BYTES, 'SDP offer');
    if (!offer.startsWith('v=0')) throw new AppError('E_BAD_REQUEST', 'the body is not an SDP offer');
    const res = await relay({
      method: 'POST',
      path: `/lives/${id}/sessions`,
      headers: { [WHIP_KEY_HEADER]: key!, [WHIP_ADDRESS_HEADER]: ctx.ip },
      body: offer,
      timeoutMs: RELAY_TIMEOUT_MS,
    });
    if (res.status === 409) throw new AppError('E_CONFLICT', res.body || 'the live is already being published');
    if (res.status === 400) throw new AppError('E_BAD_REQUEST', res.body || 'the offer cannot be answered');
    if (res.status !== 201 || !res.session || !WHIP_SESSION_RE.test(res.session)) throw new AppError('E_INTERNAL', 'the media process could not answer the offer');
    ctx.status = 201;
    ctx.set('Location', `/v1/live/${id}/whip/${res.session}`);
    ctx.type = 'application/sdp';
    ctx.body = res.body;
  });

  router.delete(SESSION_PATH, async (ctx) => {
    ctx.set(CORS);
    const id = ctx.params.id ?? '';
    const session = ctx.params.session ?? '';
    // The session id is the resource's secret (RFC 9725 resource URLs are capabilities).
    if (!isId(id) || !WHIP_SESSION_RE.test(session)) throw new AppError('E_NOT_FOUND', 'no such WHIP session');
    const res = await relay({ method: 'DELETE', path: `/lives/${id}/sessions/${session}`, timeoutMs: RELAY_TIMEOUT_MS });
    if (res.status === 404) throw new AppError('E_NOT_FOUND', 'no such WHIP session');
    if (res.status !== 200) throw new AppError('E_INTERNAL', 'the media process could not end the session');
    ctx.status = 200;
    ctx.body = '';
  });
}
