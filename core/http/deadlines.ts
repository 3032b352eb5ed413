/**
 * How long a client may take to send a request, per kind of route.
 *
 * Node's whole-request timeout (`requestTimeout`) is off: a tus PATCH may rightly take
 * hours. Instead:
 *  - headers must arrive within `http.headers_timeout_ms` (Node's `headersTimeout`, 408);
 *  - the body of any other request (JSON) must arrive within `http.body_timeout_ms` of its
 *    headers, or the request is answered 408 and the connection closed: a client trickling
 *    a byte a second cannot hold a connection and a handler forever;
 *  - a tus request is cut only when no byte moves for `http.upload_idle_timeout_ms`: an
 *    upload that keeps sending is never cut, one that stalls is (tus resumes it later).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';

/** Whether a request carries a body at all (GETs and bodiless POSTs need no deadline). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Gives the body of a non-upload request `ms` to arrive in full. When it does not, answers
 * 408 (unless an answer has started) and closes the connection, whose rest is unreadable.
 */
export function enforceBodyDeadline(req: IncomingMessage, res: ServerResponse, ms: number, logger: Logger): void {
  if (ms <= 0 || !hasBody(req)) return;
  const timer = setTimeout(() => {
    if (req.complete) return;
    logger.info({ method: req.method, url: req.url, timeout_ms: ms }, 'request body too slow; connection closed');
    if (!res.headersSent) {
      const body = JSON.stringify({ error: { code: 'E_BAD_REQUEST', message: `the request body did not arrive within ${ms} ms` } });
      res.writeHead(408, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
      res.end(body, () => req.socket.destroy());
    } else {
      req.socket.destroy();
    }
  }, ms);
  const clear = () => clearTimeout(timer);
  req.once('end', clear);
  req.once('close', clear);
}

/**
 * Cuts an upload request whose connection moves no byte for `ms`. Once the body is in, the
 * answer may wait on storage (completing a multipart upload) without a limit.
 */
export function enforceUploadIdleTimeout(req: IncomingMessage, ms: number, logger: Logger): void {
  if (ms <= 0 || !hasBody(req)) return;
  // After the answer, Node resets the socket's timeout to keepAliveTimeout for the next request.
  req.setTimeout(ms, () => {
    logger.info({ method: req.method, url: req.url, idle_timeout_ms: ms }, 'upload stalled; connection closed (the client may resume)');
    req.socket.destroy();
  });
  req.once('end', () => req.socket.setTimeout(0));
}
