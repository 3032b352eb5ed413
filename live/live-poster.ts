/**
 * The poster of a live on air (`live/{id}/poster.jpg`, GET /v1/live/:id
 * `playback.poster_url`), refreshed every `live.poster_interval_s`.
 *
 * Each refresh attaches to the publisher's FLV tags for a moment: the attach replays the
 * headers and the current GOP, which starts on a keyframe, so a short ffmpeg decodes that
 * one picture (`-frames:v 1`) and exits; nothing decodes the stream between refreshes. The
 * picture is written to the work dir, then put in the store under the same key (the origin
 * serves it as a mutable object).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { IngestPublisher } from '../core/live/ingest.js';
import { LIVE_POSTER, liveObjectKey } from '../core/live/live-locations.js';
import type { Logger } from '../core/logger.js';
import { runFfmpeg } from '../core/media/ffmpeg.js';
import type { ObjectStore } from '../core/storage/object-store.js';

/** A poster that takes longer than this is abandoned (the next refresh tries again). */
const CAPTURE_TIMEOUT_MS = 15_000;
/** Posters are at most this tall (the library's cards and the player's poster). */
const POSTER_HEIGHT = 720;

export interface LivePosterOptions {
  liveId: string;
  store: ObjectStore;
  workDir: string;
  ffmpegPath: string;
  intervalS: number;
  logger: Logger;
}

export class LivePoster {
  private timer: NodeJS.Timeout | undefined;
  private capturing: Promise<void> | undefined;
  /** Aborts the capture in flight (its ffmpeg is killed). */
  private abort: AbortController | undefined;

  constructor(private readonly opts: LivePosterOptions) {}

  /** A publisher is on air: a first poster as soon as a keyframe is there, then every interval. */
  start(pub: IngestPublisher): void {
    void this.stop();
    const tick = () => {
      if (this.capturing) return;
      const abort = new AbortController();
      this.abort = abort;
      this.capturing = this.capture(pub, abort.signal)
        .catch((err: unknown) => {
          if (!abort.signal.aborted) this.opts.logger.warn({ err: (err as Error).message }, 'live: poster refresh failed');
        })
        .finally(() => (this.capturing = undefined));
    };
    const again = () => {
      tick();
      this.timer = setTimeout(again, this.opts.intervalS * 1000);
    };
    // The first keyframe usually arrives within a GOP (≤ 2 s for OBS's defaults).
    this.timer = setTimeout(again, 2000);
  }

  /**
   * No more refreshes; a capture in flight is abandoned (its ffmpeg killed, its file
   * removed). Resolves when it is gone: on shutdown nothing writes into the data dir after.
   */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    await this.capturing;
  }

  private async capture(pub: IngestPublisher, signal: AbortSignal): Promise<void> {
    // A new file each time: the fs store hard-links what it is given, so rewriting one would change the stored poster in place.
    await mkdir(this.opts.workDir, { recursive: true });
    const file = join(this.opts.workDir, `poster-${Date.now()}.jpg`);
    const feed = new PassThrough();
    const detach = pub.attach((tag) => feed.write(tag));
    try {
      await runFfmpeg(
        this.opts.ffmpegPath,
        [
          '-hide_banner', '-loglevel', 'error', '-nostats',
          '-protocol_whitelist', 'pipe', '-f', 'flv', '-i', 'pipe:0',
          '-map', '0:v:0', '-frames:v', '1', '-vf', `scale=-2:'min(${POSTER_HEIGHT},ih)'`, '-q:v', '3',
          '-f', 'image2', '-update', '1', '-y', file,
        ],
        { stdin: feed, timeoutMs: CAPTURE_TIMEOUT_MS, signal },
      );
      signal.throwIfAborted();
      await this.opts.store.putFile(liveObjectKey(this.opts.liveId, LIVE_POSTER), file);
    } finally {
      detach();
      feed.end();
      await rm(file, { force: true });
    }
  }
}
