/**
 * `PUT /v1/multipart-parts/:upload_id/:number?expires=…&sig=…`: parts of a direct upload
 * sent to the node itself, on stores clients cannot reach (see direct-uploads.ts). Served
 * beside Koa like tus (no JSON body parsing, the upload idle timeout instead of the body
 * deadline), open to any origin (the signature is the credential) with the part's ETag
 * exposed, as a browser uploading to S3 needs it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { AppError, asAppError } from '../errors.js';
import { sendErrorBody } from '../http/raw-errors.js';
import type { Services } from '../services.js';
import { DirectUploads, NODE_PARTS_PATH } from './direct-uploads.js';

export { NODE_PARTS_PATH };

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'ETag',
};
const PREFLIGHT_HEADERS = {
  ...CORS_HEADERS,
  'Access-Control-Allow-Methods': 'PUT, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type, Content-MD5',
  'Access-Control-Max-Age': '86400',
};

export function createNodePartsHandler(s: Services): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const uploads = new DirectUploads(s);
  // A part is at most the part size of the largest upload allowed.
  const maxPartBytes = Math.max(s.config.uploads.multipart_part_bytes, Math.ceil(s.config.limits.max_upload_bytes / 10_000));
  return async (req, res) => {
    try {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, PREFLIGHT_HEADERS);
        res.end();
        return;
      }
      if (req.method !== 'PUT') throw new AppError('E_BAD_REQUEST', `${req.method} is not allowed on a part URL (PUT the part)`);
      const url = new URL(req.url ?? '/', 'http://node.invalid');
      let received = 0;
      const capped = new Transform({
        transform(chunk: Buffer, _enc, done) {
          received += chunk.length;
          done(received > maxPartBytes ? new AppError('E_TOO_LARGE', `a part may hold at most ${maxPartBytes} bytes`) : null, chunk);
        },
      });
      const part = await uploads.putNodePart(url.pathname, url.searchParams, req.pipe(capped));
      res.writeHead(200, { ...CORS_HEADERS, ETag: part.etag, 'Content-Length': 0 });
      res.end();
    } catch (err) {
      const known = asAppError(err);
      if (!known) s.logger.error({ err }, 'storing a part failed');
      if (res.headersSent) return void res.destroy();
      // The rest of a refused body is not read, so the connection cannot be reused: say so
      // (Connection: close) before closing it, or a client's pool hands it to its next request.
      const unread = !req.complete;
      sendErrorBody(res, known ?? new AppError('E_INTERNAL'), unread ? { ...CORS_HEADERS, Connection: 'close' } : CORS_HEADERS);
      if (unread) res.once('finish', () => req.destroy());
    }
  };
}
