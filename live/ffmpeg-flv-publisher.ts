/**
 * An `IngestPublisher` (core/live/ingest.ts) whose media comes from an ffmpeg that reads a
 * non-FLV ingest (SRT's MPEG-TS; an RTP session) and writes FLV to its stdout: the bytes go
 * through an FlvFeed, which gives the broadcast and restream targets the replay the seam
 * promises. The publisher is gone when that ffmpeg exits (the peer ended, timed out, or
 * `disconnect()` killed it).
 */
import { randomBytes } from 'node:crypto';
import type { IngestProtocol, IngestPublisher } from '../core/live/ingest.js';
import type { Logger } from '../core/logger.js';
import { FfmpegError, runFfmpeg } from '../core/media/ffmpeg.js';
import { FlvFeed } from './flv-feed.js';

export interface FfmpegPublisherOptions {
  protocol: IngestProtocol;
  key: string;
  address: string;
  ffmpegPath: string;
  /** The input side (a protocol whitelist and `-i URL`; options such as a read timeout). */
  inputArgs: string[];
  /** The codec side; default copies the first video and audio stream (H.264 + AAC). */
  codecArgs?: string[];
  logger: Logger;
}

export interface FfmpegPublisher extends IngestPublisher {
  /** Resolves when the ffmpeg has exited: undefined on a clean end, else why it failed. */
  readonly exited: Promise<FfmpegError | undefined>;
}

const COPY = ['-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy'];

export function ffmpegFlvPublisher(opts: FfmpegPublisherOptions): FfmpegPublisher {
  const feed = new FlvFeed();
  const abort = new AbortController();
  const closeCallbacks: (() => void)[] = [];
  let closed = false;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    ...opts.inputArgs,
    ...(opts.codecArgs ?? COPY),
    // Every packet goes out at once: the avio buffer would hold ~32 KB (a second of a small stream).
    '-flush_packets', '1', '-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1',
  ];
  const exited = runFfmpeg(opts.ffmpegPath, args, { signal: abort.signal, onStdout: (chunk) => feed.push(chunk) }).then(
    () => undefined,
    (err: unknown) => (err instanceof FfmpegError ? err : new FfmpegError(String(err), 'spawn', '', null)),
  );
  void exited.then((failure) => {
    closed = true;
    // Query strings may hold secrets (a passphrase, a stream id): they stay out of the log.
    const why = failure?.message.replace(/(\w+:\/\/[^\s?]*)\?\S*/g, '$1?…');
    if (failure && failure.reason !== 'aborted') opts.logger.info({ protocol: opts.protocol, address: opts.address, err: why }, 'live: ingest remux ended');
    for (const cb of closeCallbacks.splice(0)) cb();
  });
  return {
    id: `${opts.protocol}-${randomBytes(6).toString('hex')}`,
    protocol: opts.protocol,
    key: opts.key,
    address: opts.address,
    exited,
    metadata: () => feed.metadata(),
    attach: (onData) => feed.attach(onData),
    onClose(callback) {
      if (closed) callback();
      else closeCallbacks.push(callback);
    },
    disconnect() {
      abort.abort();
    },
  };
}
