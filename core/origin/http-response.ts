/**
 * Writing origin answers through Koa, and the CORS policy of media: players on other
 * origins may GET and HEAD anything (with Range) and read the headers they need.
 */
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
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

/** Writes an origin answer to a node response (media bypasses Koa). */
export function writeOriginResponse(res: ServerResponse, answer: OriginResponse, head: boolean): void {
  const headers: Record<string, string | number> = { ...MEDIA_CORS_HEADERS, ...answer.headers };
  if (answer.status === 416) {
    const body = JSON.stringify(new AppError('E_BAD_REQUEST', 'range not satisfiable').toBody());
    res.writeHead(416, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(head ? undefined : body);
    return;
  }
  if (answer.status === 200 || answer.status === 206) headers['Content-Length'] = answer.length;
  res.writeHead(answer.status, headers);
  const body = answer.body;
  if (head || answer.status === 304 || !body) {
    if (body && !Buffer.isBuffer(body)) body.destroy();
    res.end();
  } else if (Buffer.isBuffer(body)) {
    res.end(body);
  } else {
    // A client that goes away must not leave the storage stream open.
    pipeline(body, res).catch(() => undefined);
  }
}
