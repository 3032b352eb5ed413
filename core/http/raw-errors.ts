/** API.md's error body on a raw node response (the paths served beside Koa: tus, media, parts). */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AppError } from '../errors.js';

/** Writes `err` as `{"error": {code, message}}` with `headers`; `status` when a protocol prescribes another than the code's. */
export function sendErrorBody(res: ServerResponse, err: AppError, headers: OutgoingHttpHeaders, status = err.status): void {
  const body = JSON.stringify(err.toBody());
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}
