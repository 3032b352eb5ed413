/**
 * Writing origin answers through Koa, and the CORS policy of media: players on other
 * origins may GET and HEAD anything (with Range) and read the headers they need.
 */
import type { Context } from 'koa';
import { AppError } from '../errors.js';
import type { OriginResponse } from './origin.js';

/** CORS headers on every media answer, errors included (a player must read the status). */
export const MEDIA_CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Accept-Ranges, Content-Encoding, Content-Length, Content-Range, ETag',
  'Timing-Allow-Origin': '*',
};

/** The answer to a CORS preflight (OPTIONS) for media: GET/HEAD with Range allowed. */
export const MEDIA_PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range, If-None-Match, If-Range',
  'Access-Control-Max-Age': '86400',
};

export function answerMediaPreflight(ctx: Context): void {
  ctx.set(MEDIA_PREFLIGHT_HEADERS);
  ctx.status = 204;
}

export function sendOriginResponse(ctx: Context, res: OriginResponse): void {
  ctx.set(res.headers);
  ctx.status = res.status;
  if (res.status === 416) {
    ctx.type = 'application/json';
    ctx.body = new AppError('E_BAD_REQUEST', 'range not satisfiable').toBody();
    return;
  }
  if (res.body) ctx.body = res.body;
  // Koa sends headers only for HEAD; the status and length are the same as for GET.
  if (res.status === 200 || res.status === 206) ctx.length = res.length;
}
