/** Small API client for tests: JSON calls, tus uploads with tus-js-client, waiting on status. */
import { readFile } from 'node:fs/promises';
import * as tus from 'tus-js-client';

export interface Api {
  json<T = any>(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: T; headers: Headers }>;
}

export function api(baseUrl: string, defaultToken: string | null): Api {
  return {
    async json(method, path, body, token = defaultToken) {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const r = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      let parsed: any = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON */
      }
      return { status: r.status, body: parsed, headers: r.headers };
    },
  };
}

export interface UploadOptions {
  token: string;
  metadata?: Record<string, string>;
  chunkSize?: number;
  /** Called with bytes sent; return true to abort the upload there (for resume tests). */
  onProgress?: (sent: number, total: number) => boolean | void;
  headers?: Record<string, string>;
  /** Resume this existing upload instead of creating one. */
  uploadUrl?: string;
}

export interface UploadResult {
  videoId: string | null;
  uploadUrl: string | null;
  aborted: boolean;
}

/** Uploads a file (or buffer) with tus-js-client. Rejects with the server's error. */
export async function tusUpload(baseUrl: string, file: string | Buffer, opts: UploadOptions): Promise<UploadResult> {
  const data = typeof file === 'string' ? await readFile(file) : file;
  return new Promise((resolve, reject) => {
    let videoId: string | null = null;
    let done = false;
    const upload = new tus.Upload(data, {
      endpoint: `${baseUrl}/v1/uploads`,
      metadata: opts.metadata ?? { filename: 'clip.mp4' },
      headers: { authorization: `Bearer ${opts.token}`, ...opts.headers },
      retryDelays: [],
      ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
      ...(opts.uploadUrl ? { uploadUrl: opts.uploadUrl } : {}),
      onAfterResponse(_req, res) {
        const id = res.getHeader('Framecast-Video-Id');
        if (id) videoId = id;
      },
      onProgress(sent, total) {
        if (done) return;
        if (opts.onProgress?.(sent, total) === true) {
          done = true;
          void upload.abort(false).then(() => resolve({ videoId, uploadUrl: upload.url, aborted: true }));
        }
      },
      onError(err) {
        if (!done) reject(err);
      },
      onSuccess() {
        if (!done) resolve({ videoId, uploadUrl: upload.url, aborted: false });
      },
    });
    upload.start();
  });
}

/** Polls GET /v1/videos/:id until `until` says yes (default: ready or failed). */
export async function waitForVideo(
  a: Api,
  id: string,
  until: (v: any) => boolean = (v) => v.status === 'ready' || v.status === 'failed',
  timeoutMs = 120_000,
  intervalMs = 200,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    const r = await a.json('GET', `/v1/videos/${id}`);
    last = r.body;
    if (r.status === 200 && until(r.body)) return r.body;
    await new Promise((res) => setTimeout(res, intervalMs));
  }
  throw new Error(`video ${id} did not reach the expected state: ${JSON.stringify(last)}`);
}
