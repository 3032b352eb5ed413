/**
 * Restreaming of one live: while a publisher is on air, its ingest is copied (no re-encode)
 * to each target (core/live/restream-targets.ts) by one ffmpeg per target, fed from the
 * publisher's FLV tags like the packager (an attach replays the headers and the GOP, so
 * every connection starts on a keyframe).
 *
 * A target is isolated from the live and from the others: its ffmpeg has its own feed; a
 * feed it cannot drain (a slow or stuck target) is cut at MAX_BUFFERED_BYTES and counts as
 * a failure; a failure is retried after 1, 2, 4 … 30 s (back to 1 s after a run that stayed
 * up a minute) for as long as the publisher is on air. States: connecting (ffmpeg started,
 * nothing sent yet), live (frames are going out), failed (with the reason, URLs masked),
 * idle (no publisher). Target URLs hold keys: only target ids are logged.
 */
import { PassThrough } from 'node:stream';
import type { IngestPublisher } from '../core/live/ingest.js';
import { maskUrlsIn, type RestreamState, type RestreamStateName, type RestreamTarget } from '../core/live/restream-targets.js';
import type { Logger } from '../core/logger.js';
import { FfmpegError, runFfmpeg } from '../core/media/ffmpeg.js';
import { liveMetrics } from '../core/telemetry/metrics.js';

const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** A run up this long resets the backoff. */
const STABLE_MS = 60_000;
/** A run asked to end (the publisher left) is killed if it has not closed by then. */
const FINISH_GRACE_MS = 5000;
/** ffmpeg's socket timeout towards a target (µs): a target that stops reading fails. */
const TARGET_RW_TIMEOUT_US = 10_000_000;

export interface RestreamOptions {
  liveId: string;
  ffmpegPath: string;
  logger: Logger;
  /** Called on every state change of any target (the caller persists them). */
  onChange(states: RestreamState[]): void;
}

/** One target: its runs while a publisher is on air. */
class TargetRunner {
  state: RestreamState;
  private publisher: IngestPublisher | undefined;
  private abort: AbortController | undefined;
  /** Ends the current run cleanly: the feed ends, ffmpeg flushes and closes the target's stream. */
  private finish: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = RETRY_MIN_MS;

  constructor(
    readonly target: RestreamTarget,
    private readonly opts: RestreamOptions,
    private readonly changed: () => void,
  ) {
    this.state = { id: target.id, state: 'idle', attempts: 0, since: new Date().toISOString() };
  }

  private set(state: RestreamStateName, reason?: string): void {
    liveMetrics.restreamState(this.opts.liveId, this.target.id, state);
    this.state = { id: this.target.id, state, attempts: this.state.attempts, since: new Date().toISOString(), ...(reason ? { reason } : {}) };
    this.changed();
  }

  start(pub: IngestPublisher): void {
    this.stop();
    this.publisher = pub;
    this.state.attempts = 0;
    this.backoffMs = RETRY_MIN_MS;
    this.run(pub);
  }

  stop(): void {
    this.publisher = undefined;
    clearTimeout(this.retryTimer);
    this.abort = undefined;
    this.finish?.();
    this.finish = undefined;
    if (this.state.state !== 'idle') this.set('idle');
  }

  /** The target is gone from the live: its metric series goes too. */
  remove(): void {
    this.stop();
    liveMetrics.restreamState(this.opts.liveId, this.target.id, undefined);
  }

  private run(pub: IngestPublisher): void {
    const abort = new AbortController();
    this.abort = abort;
    this.state.attempts++;
    this.set('connecting');
    const log = this.opts.logger.child({ target: this.target.id, attempt: this.state.attempts });
    const feed = new PassThrough({ highWaterMark: 1024 * 1024 });
    let overflow = false;
    const detach = pub.attach((tag) => {
      if (feed.writableLength > MAX_BUFFERED_BYTES) {
        overflow = true;
        abort.abort();
        return;
      }
      feed.write(tag);
    });
    this.finish = () => {
      detach();
      feed.end();
      setTimeout(() => abort.abort(), FINISH_GRACE_MS).unref();
    };
    const startedAt = Date.now();
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostats',
      '-protocol_whitelist', 'pipe', '-f', 'flv', '-i', 'pipe:0',
      '-map', '0', '-c', 'copy',
      '-rw_timeout', String(TARGET_RW_TIMEOUT_US),
      '-progress', 'pipe:1', '-stats_period', '0.5',
      '-f', 'flv', '-flvflags', 'no_duration_filesize', this.target.url,
    ];
    void runFfmpeg(this.opts.ffmpegPath, args, {
      stdin: feed,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.frame > 0 && this.abort === abort && this.state.state === 'connecting') {
          log.info('restream: target live');
          this.set('live');
        }
      },
    })
      .then(
        () => 'the target closed the connection',
        (err: unknown) => (err instanceof FfmpegError ? err.stderrTail.trim().split('\n').slice(-2).join(' | ') || err.message : String(err)),
      )
      .then((why) => {
        detach();
        feed.destroy();
        if (this.abort !== abort) return;
        if (this.publisher !== pub) return;
        const reason = maskUrlsIn(overflow ? 'the target does not take the stream fast enough' : why).slice(0, 300);
        if (Date.now() - startedAt > STABLE_MS) this.backoffMs = RETRY_MIN_MS;
        log.warn({ reason, retry_in_ms: this.backoffMs }, 'restream: target failed; retrying');
        liveMetrics.restreamFailed();
        this.set('failed', reason);
        this.retryTimer = setTimeout(() => {
          if (this.publisher === pub && this.abort === abort) this.run(pub);
        }, this.backoffMs);
        this.backoffMs = Math.min(RETRY_MAX_MS, this.backoffMs * 2);
      });
  }
}

export class LiveRestream {
  private readonly runners = new Map<string, TargetRunner>();
  private publisher: IngestPublisher | undefined;

  constructor(private readonly opts: RestreamOptions) {}

  /** Follows the live's current targets: new ones start (when on air), removed ones stop. */
  setTargets(targets: readonly RestreamTarget[]): void {
    const wanted = new Map(targets.map((t) => [t.id, t]));
    let changed = false;
    for (const [id, runner] of this.runners) {
      if (wanted.get(id)?.url === runner.target.url) continue;
      runner.remove();
      this.runners.delete(id);
      changed = true;
    }
    for (const t of targets) {
      if (this.runners.has(t.id)) continue;
      changed = true;
      const runner = new TargetRunner(t, this.opts, () => this.opts.onChange(this.states()));
      this.runners.set(t.id, runner);
      if (this.publisher) runner.start(this.publisher);
    }
    if (changed) this.opts.onChange(this.states());
  }

  /** A publisher is on air: every target connects. */
  start(pub: IngestPublisher): void {
    this.publisher = pub;
    for (const r of this.runners.values()) r.start(pub);
  }

  /** The publisher is gone (or the live ends): every target stops. */
  stop(): void {
    this.publisher = undefined;
    for (const r of this.runners.values()) r.stop();
  }

  /** The live ended: targets stop and their metric series go. */
  close(): void {
    this.publisher = undefined;
    for (const r of this.runners.values()) r.remove();
  }

  states(): RestreamState[] {
    return [...this.runners.values()].map((r) => r.state);
  }
}
