/**
 * A tus upload of a file from disk with tus-js-client, streamed (never read into memory):
 * a path-based fs.ReadStream lets tus-js-client open a fresh stream for the range it sends,
 * and without `chunkSize` (the key must be absent, see FACTS.md) the whole file goes in one
 * PATCH request.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as tus from 'tus-js-client';

export interface FileUploadOptions {
  headers?: Record<string, string>;
  metadata?: Record<string, string>;
}

/** Timings of a finished upload (epoch ms) and what the server said. */
export interface FileUploadResult {
  bytes: number;
  startedAt: number;
  completedAt: number;
  uploadUrl: string | null;
  /** Framecast's `Framecast-Video-Id` response header, when the server sent one. */
  videoId: string | null;
}

export async function uploadFile(endpoint: string, file: string, opts: FileUploadOptions = {}): Promise<FileUploadResult> {
  const { size } = await stat(file);
  const source = createReadStream(file);
  return new Promise((resolve, reject) => {
    let videoId: string | null = null;
    const startedAt = Date.now();
    // tus-js-client's typings omit the Node stream inputs it supports.
    const upload = new tus.Upload(source as unknown as Buffer, {
      endpoint,
      uploadSize: size,
      metadata: opts.metadata ?? { filename: 'bench.bin' },
      headers: opts.headers ?? {},
      retryDelays: [],
      onAfterResponse(_req, res) {
        videoId = res.getHeader('Framecast-Video-Id') || videoId;
      },
      onError: reject,
      onSuccess() {
        resolve({ bytes: size, startedAt, completedAt: Date.now(), uploadUrl: upload.url, videoId });
      },
    });
    upload.start();
  });
}
