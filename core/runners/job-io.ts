/**
 * The job I/O seam: how a stage that runs away from the node gets its input and hands over
 * its outputs. The transcode stage needs nothing else from the node, so it runs the same on
 * a remote runner (signed URLs, below) and can be reused by other remote job kinds (chunk
 * jobs) that only need other keys signed.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { AppError } from '../errors.js';

export interface JobIo {
  /** Writes the job's input (the source) to `localPath`. */
  fetchSource(localPath: string, signal: AbortSignal): Promise<void>;
  /** Stores every output (paths relative to `outDir`) where the node will publish it from. */
  storeOutputs(outDir: string, files: { path: string; size: number }[], signal: AbortSignal): Promise<void>;
}

/** Asks the node for signed upload URLs of the named outputs. */
export type SignUploads = (files: { path: string; size: number }[]) => Promise<{ path: string; url: string }[]>;

/** Uploads run this many at a time: segments are small, round trips dominate. */
const UPLOAD_CONCURRENCY = 4;

async function expectOk(res: Response, what: string): Promise<void> {
  if (res.ok) return;
  const text = await res.text().catch(() => '');
  throw new AppError('E_TRANSCODE_FAILED', `${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
}

/**
 * Job I/O over signed URLs: the source comes from a signed GET, outputs go by signed PUTs
 * (presigned S3, or the node's own /v1/objects/). Relative URLs are the node's, resolved
 * against `baseUrl`.
 */
export function signedUrlJobIo(opts: { baseUrl: string; sourceUrl: string; signUploads: SignUploads }): JobIo {
  const abs = (u: string) => new URL(u, opts.baseUrl).href;
  return {
    async fetchSource(localPath, signal) {
      const res = await fetch(abs(opts.sourceUrl), { signal });
      await expectOk(res, 'downloading the source');
      if (!res.body) throw new AppError('E_TRANSCODE_FAILED', 'downloading the source: empty body');
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(localPath), { signal });
    },
    async storeOutputs(outDir, files, signal) {
      const urls = await opts.signUploads(files);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < urls.length; i = next++) {
          signal.throwIfAborted();
          const { path, url } = urls[i]!;
          // Whole-file bodies carry Content-Length, which presigned S3 PUTs require.
          const res = await fetch(abs(url), { method: 'PUT', body: await readFile(join(outDir, path)), signal });
          await expectOk(res, `uploading ${path}`);
        }
      };
      await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, urls.length) }, worker));
    },
  };
}
