/**
 * How a WHIP request reaches the WebRTC peer. WHIP is HTTP on the API's port, answered by the
 * HTTP processes; the peer connection and its ffmpeg live in the media process, beside the
 * broadcast they feed (live/ingest-whip.ts). The HTTP process checks the stream key, then
 * relays the offer (or the DELETE) over a Unix socket under `data_dir/run/` that only the
 * media process of the same node listens on: no port to configure, nothing reachable from
 * outside. A node without the live role has no socket: its WHIP requests get 503.
 *
 * The internal requests:
 *   POST   /lives/{live_id}/sessions             body: SDP offer; headers WHIP_KEY_HEADER,
 *                                                WHIP_ADDRESS_HEADER → 201 SDP answer and
 *                                                WHIP_SESSION_HEADER; 409 refused (busy,
 *                                                ended, a plugin said no); 400 unusable offer
 *   DELETE /lives/{live_id}/sessions/{session}   → 200; 404 unknown session
 */
import { request } from 'node:http';
import { join } from 'node:path';

export const WHIP_KEY_HEADER = 'x-framecast-stream-key';
export const WHIP_ADDRESS_HEADER = 'x-framecast-address';
export const WHIP_SESSION_HEADER = 'x-framecast-whip-session';

/** Largest SDP offer taken (a browser's is 3–8 KiB). */
export const MAX_SDP_BYTES = 64 * 1024;

/** WHIP session ids: 32 hex characters (random, the resource URL's only secret part). */
export const WHIP_SESSION_RE = /^[0-9a-f]{32}$/;

/** The media process's WHIP socket on this node. */
export function whipSocketPath(dataDir: string): string {
  return join(dataDir, 'run', 'whip.sock');
}

export interface RelayResponse {
  status: number;
  session: string | undefined;
  body: string;
}

/** Sends one internal request to the media process; rejects when nothing listens (no live role here). */
export function relayToMediaProcess(
  socketPath: string,
  req: { method: 'POST' | 'DELETE'; path: string; headers?: Record<string, string>; body?: string; timeoutMs: number },
): Promise<RelayResponse> {
  return new Promise((resolve, reject) => {
    const r = request({ socketPath, method: req.method, path: req.path, headers: { 'content-type': 'application/sdp', ...req.headers }, timeout: req.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const session = res.headers[WHIP_SESSION_HEADER];
        resolve({ status: res.statusCode ?? 500, session: typeof session === 'string' ? session : undefined, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    r.on('timeout', () => r.destroy(new Error('the media process did not answer in time')));
    r.on('error', reject);
    r.end(req.body ?? '');
  });
}
