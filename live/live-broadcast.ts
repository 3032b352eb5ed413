/*
 * One live's lifecycle in the media process:
 *
 *   waiting ──publish──▶ publishing ──publisher gone──▶ reconnecting ──window passed──▶ ended
 *                          ▲                                 │                           │
 *                          └────────── same key again ───────┘                    archive (record)
 *
 * Each publish is one packager run (live-packager.ts). A run starts on the first video
 * keyframe of its feed, so ffmpeg always begins with the sequence headers and a keyframe;
 * the ladder is fixed by the first run (live-ladder.ts). A run that falls behind real time
 * is replaced by one without its top encoded rung (the feed is re-attached: NMS replays the
 * headers and the current GOP); a run whose ffmpeg dies while the publisher stays is
 * restarted a few times, then the publisher is dropped. A live on air when its media process
 * stopped is taken over by the next one in `reconnecting` (takeOver).
 */
import type { WatermarkSpec } from '../core/media/watermark.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { VideoEncoder } from '../core/media/types.js';
import type { LiveHookValue } from '../core/plugins/hooks.js';
import type { PluginManager } from '../core/plugins/plugin-manager.js';
import type { LiveRow } from '../core/storage/metadata-db.js';
import { liveMetrics } from '../core/telemetry/metrics.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import type { IngestPublisher } from '../core/live/ingest.js';
import type { LiveRung } from './live-command.js';
import { isFlvVideoKeyframe } from './flv-tags.js';
import { GopBitrate } from './gop-bitrate.js';
import { FLV_CODEC_H264, firstLiveLadder, laterLiveLadder } from './live-ladder.js';
import { LivePackager, packagerOptions, type PackagerRun } from './live-packager.js';
import { LivePoster } from './live-poster.js';
import { LiveRestream } from './live-restream.js';
import type { LiveRendition, LiveStore } from '../core/live/live-store.js';
import { configTargets, parseJsonList, type RestreamTarget } from '../core/live/restream-targets.js';

/** Waiting this long for a first video keyframe, the run starts anyway (e.g. a late keyframe). */
const KEYFRAME_WAIT_MS = 10_000;
/** Unexpected ffmpeg exits tolerated per publish before the publisher is dropped. */
const MAX_RESTARTS = 3;

export type BroadcastState = 'waiting' | 'publishing' | 'reconnecting' | 'ended';

/** What a broadcast needs from the media process. */
export interface BroadcastDeps {
  lives: LiveStore;
  objects: ObjectStore;
  config: Readonly<Pick<Config, 'live' | 'transcode' | 'data_dir'>>;
  logger: Logger;
  ffmpegPath: string;
  encoder: VideoEncoder;
  /** `transcode.watermark` on its checked image; null: none. */
  watermark: WatermarkSpec | null;
  workDir: string;
  /**
   * Queues the archive of the ended live's recording (a `live.archive` job, live-archive.ts);
   * resolves with the id of the video it becomes.
   */
  archive(row: LiveRow): Promise<string>;
  plugins: Pick<PluginManager, 'action'>;
}

/** A live as plugins see it. */
export function liveHookValue(row: LiveRow): LiveHookValue {
  const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());
  return {
    id: row.id,
    title: row.title,
    status: row.status,
    started_at: iso(row.started_at),
    ended_at: iso(row.ended_at),
    vod_video_id: row.vod_video_id ?? undefined,
  };
}

/** Broadcasts on air in this process (the live_streams gauge). */
let onAir = 0;


export class LiveBroadcast {
  state: BroadcastState = 'waiting';
  readonly packager: LivePackager;
  /** Copies of the ingest to other platforms while a publisher is on air (live-restream.ts). */
  private readonly restream: LiveRestream;
  private readonly poster: LivePoster;
  private publisher: IngestPublisher | undefined;
  private detach: (() => void) | undefined;
  private run: PackagerRun | undefined;
  /** A run being replaced or finished: the next one waits for it. */
  private settling: Promise<unknown> = Promise.resolve();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private ladder: LiveRung[] | undefined;
  private readonly dropped: string[] = [];
  private restarts = 0;
  /** The current publisher's measured video bitrate, when it declares none (gop-bitrate.ts). */
  private bitrate: { pub: IngestPublisher; gop: GopBitrate } | undefined;
  private ending: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly row: LiveRow,
    private readonly deps: BroadcastDeps,
  ) {
    this.log = deps.logger.child({ live_id: row.id });
    this.packager = new LivePackager(
      packagerOptions(deps.config, {
        liveId: row.id,
        store: deps.objects,
        workDir: deps.workDir,
        ffmpegPath: deps.ffmpegPath,
        encoder: deps.encoder,
        watermark: deps.watermark,
        record: row.record === 1,
        logger: this.log,
      }),
    );
    this.restream = new LiveRestream({
      liveId: row.id,
      ffmpegPath: deps.ffmpegPath,
      logger: this.log,
      onChange: (states) => {
        void deps.lives.update(row.id, { restream_status: JSON.stringify(states) }).catch((err: unknown) => this.log.warn({ err }, 'live: saving the restream state failed'));
      },
    });
    this.restream.setTargets(this.targetsOf(row));
    this.poster = new LivePoster({ liveId: row.id, store: deps.objects, workDir: deps.workDir, ffmpegPath: deps.ffmpegPath, intervalS: deps.config.live.poster_interval_s, logger: this.log });
  }

  private targetsOf(row: LiveRow): RestreamTarget[] {
    return [...configTargets(this.deps.config.live.restream), ...parseJsonList<RestreamTarget>(row.restream_targets)];
  }

  /** The live's row as it is now (polled): restream targets changed through the API are followed. */
  followRow(row: LiveRow): void {
    if (this.state !== 'ended') this.restream.setTargets(this.targetsOf(row));
  }

  get id(): string {
    return this.row.id;
  }

  isPublishing(): boolean {
    return this.publisher !== undefined;
  }

  /** An admitted publisher for this live: a first publish or a return within the window. */
  async publisherJoined(pub: IngestPublisher): Promise<void> {
    if (this.state === 'ended' || this.publisher) {
      pub.disconnect();
      return;
    }
    clearTimeout(this.reconnectTimer);
    this.publisher = pub;
    this.restarts = 0;
    const returning = this.state === 'reconnecting';
    this.state = 'publishing';
    this.log.info({ address: pub.address, returning }, returning ? 'live: publisher returned within the window' : 'live: publisher connected');
    pub.onClose(() => void this.publisherGone(pub));
    const first = this.row.started_at === null;
    await this.deps.lives.update(this.row.id, {
      status: 'live',
      publishing: 1,
      ...(first ? { started_at: Date.now() } : {}),
    });
    this.row.started_at ??= Date.now();
    if (first) {
      this.row.status = 'live';
      liveMetrics.onAir(++onAir);
      this.deps.plugins.action('action:live.started', liveHookValue(this.row), { live_id: this.row.id });
    }
    this.feedNewRun(pub);
    this.restream.start(pub);
    this.poster.start(pub);
  }

  /** Revoked while on air: the publisher is dropped and the live ends now. */
  revoke(): Promise<void> {
    return this.end('stream key revoked');
  }

  /** Process shutdown: ffmpeg goes, the live's row stays as it is. */
  async stop(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.restream.close();
    const posterStopped = this.poster.stop();
    this.detach?.();
    this.publisher?.disconnect();
    await Promise.all([posterStopped, this.packager.stop()]);
  }

  private feedNewRun(pub: IngestPublisher): void {
    const pending: Buffer[] = [];
    let run: PackagerRun | undefined;
    let starting = false;
    const start = () => {
      if (starting) return;
      starting = true;
      clearTimeout(waitTimer);
      void this.startRun(pub).then((r) => {
        run = r;
        if (!r) return;
        for (const chunk of pending.splice(0)) r.write(chunk);
      });
    };
    const waitTimer = setTimeout(start, KEYFRAME_WAIT_MS);
    this.detach?.();
    // Decided at the first keyframe: the metadata comes before it, not always before the publish.
    let gop: GopBitrate | undefined;
    let decided = false;
    const detach = pub.attach((chunk) => {
      if (run) {
        run.write(chunk);
        return;
      }
      pending.push(chunk);
      // An undeclared bitrate is measured first (one GOP): the run then starts with all of it.
      const keyframe = isFlvVideoKeyframe(chunk);
      if (keyframe && !decided) {
        decided = true;
        gop = this.bitrateOf(pub);
      }
      const measuring = gop !== undefined && gop.measured === undefined && gop.push(chunk) === undefined;
      if (keyframe && !measuring) start();
    });
    this.detach = () => {
      clearTimeout(waitTimer);
      detach();
      if (run) run.end();
      else if (!starting) pending.length = 0;
    };
  }

  /**
   * The bitrate measurement of an SRT ingest (MPEG-TS declares no bitrate); undefined for
   * the others. An RTMP publisher that declares none (ffmpeg in CRF mode) keeps today's
   * ladder: its top rung is encoded, as players and recordings of it expect. WHIP is left
   * out: a WebRTC encoder sends keyframes only when asked (PLI), too irregular for a copied
   * rung's segments.
   */
  private bitrateOf(pub: IngestPublisher): GopBitrate | undefined {
    const meta = pub.metadata();
    if (pub.protocol !== 'srt' || meta.videoKbps > 0 || meta.videoCodecId !== FLV_CODEC_H264) return undefined;
    if (this.bitrate?.pub !== pub) this.bitrate = { pub, gop: new GopBitrate() };
    return this.bitrate.gop;
  }

  private async startRun(pub: IngestPublisher): Promise<PackagerRun | undefined> {
    await this.settling;
    if (this.publisher !== pub || this.state !== 'publishing') return undefined;
    const declared = pub.metadata();
    const measured = this.bitrate?.pub === pub ? this.bitrate.gop.measured : undefined;
    const meta = declared.videoKbps === 0 && measured !== undefined ? { ...declared, videoKbps: measured } : declared;
    if (meta !== declared) this.log.info({ video_kbps: measured }, 'live: the ingest declares no bitrate; measured over its first GOP');
    const { live, transcode } = this.deps.config;
    // A copied rung would carry no watermark: with one, every rung is encoded.
    const copyRatio = this.deps.watermark ? 0 : live.passthrough_max_ratio;
    const ladder = this.ladder
      ? laterLiveLadder(this.ladder, meta, copyRatio).filter((r) => !this.dropped.includes(r.name))
      : firstLiveLadder(meta, transcode.ladder, copyRatio);
    this.ladder ??= ladder;
    const run = await this.packager.startRun(
      { ladder, hasAudio: meta.audioCodecId > 0, fps: meta.fps, ingestKbps: Math.round(meta.videoKbps) },
      () => void this.fellBehind(run),
    );
    this.run = run;
    await this.deps.lives.update(this.row.id, { renditions: JSON.stringify(ladder.map(renditionOf)) });
    void run.done.then((failure) => this.runExited(run, pub, failure));
    return run;
  }

  private runExited(run: PackagerRun, pub: IngestPublisher, failure: unknown): void {
    if (this.run !== run || this.publisher !== pub || this.state !== 'publishing') return;
    // ffmpeg stopped although the publisher is still there.
    this.restarts++;
    this.log.warn({ err: failure, restarts: this.restarts }, 'live: packager exited while publishing');
    if (this.restarts > MAX_RESTARTS) {
      pub.disconnect();
      return;
    }
    this.run = undefined;
    this.settling = this.packager.finishRun();
    this.feedNewRun(pub);
  }

  /** The packager is behind real time: the top encoded rung goes, the rest continues. */
  private fellBehind(run: PackagerRun): void {
    const pub = this.publisher;
    if (this.run !== run || !pub || this.state !== 'publishing') return;
    const current = run.spec.ladder;
    const encoded = current.filter((r) => !r.passthrough);
    const victim = encoded[encoded.length - 1];
    if (!victim || current.length <= 1) {
      this.log.warn({ lag_ms: run.lagMs() }, 'live: packager behind real time with nothing left to drop');
      return;
    }
    const below = current.filter((r) => r.height < victim.height);
    const standIn = below[below.length - 1] ?? current.find((r) => r !== victim)!;
    this.dropped.push(victim.name);
    this.packager.dropRendition(victim.name, standIn.name);
    this.log.warn({ lag_ms: run.lagMs(), dropped: victim.name, continued_by: standIn.name }, 'live: packager behind real time; dropping a rendition');
    void this.deps.lives.update(this.row.id, { dropped_renditions: JSON.stringify(this.dropped) });
    this.run = undefined;
    this.detach?.();
    this.settling = this.packager.finishRun();
    this.feedNewRun(pub);
  }

  private async publisherGone(pub: IngestPublisher): Promise<void> {
    if (this.publisher !== pub) return;
    this.publisher = undefined;
    this.restream.stop();
    void this.poster.stop();
    this.detach?.();
    this.detach = undefined;
    this.run = undefined;
    if (this.state !== 'publishing') return;
    if (pub.finished?.()) {
      await this.end('the publisher ended the broadcast');
      return;
    }
    this.settling = this.packager.finishRun();
    this.log.info({ window_s: this.deps.config.live.reconnect_window_s }, 'live: publisher gone; waiting for it to return');
    await this.waitForReturn();
  }

  /**
   * Takes over a live an earlier media process was running when it stopped (its packager's
   * journal, live-journal.ts): the live waits for its publisher as after a disconnect, for
   * `live.reconnect_window_s`, and continues if it returns (encoders such as OBS reconnect
   * by themselves); otherwise it ends, and a recording becomes its VOD. False when the
   * earlier process left nothing to continue.
   */
  async takeOver(): Promise<boolean> {
    if (!(await this.packager.resume())) return false;
    this.ladder = this.packager.firstLadder();
    this.dropped.push(...this.packager.droppedRenditions());
    liveMetrics.onAir(++onAir);
    this.log.info({ runs: this.packager.runCount, window_s: this.deps.config.live.reconnect_window_s }, 'live: taken over from a media process that stopped; waiting for the publisher');
    await this.waitForReturn();
    return true;
  }

  private async waitForReturn(): Promise<void> {
    this.state = 'reconnecting';
    this.reconnectTimer = setTimeout(() => void this.end('the publisher did not return'), this.deps.config.live.reconnect_window_s * 1000);
    await this.deps.lives.update(this.row.id, { publishing: 0 });
  }

  /** Ends the live (idempotent): final playlists, then the VOD when it records. */
  end(reason: string): Promise<void> {
    this.ending ??= this.finish(reason);
    return this.ending;
  }

  private async finish(reason: string): Promise<void> {
    this.state = 'ended';
    clearTimeout(this.reconnectTimer);
    this.restream.close();
    const posterStopped = this.poster.stop();
    this.detach?.();
    this.publisher?.disconnect();
    this.publisher = undefined;
    await posterStopped;
    await this.settling;
    await this.packager.end();
    const endedAt = Date.now();
    await this.deps.lives.update(this.row.id, { status: 'ended', publishing: 0, ended_at: endedAt });
    this.log.info({ reason }, 'live ended');
    if (this.row.started_at !== null) {
      liveMetrics.onAir(Math.max(0, --onAir));
      liveMetrics.ended(this.row.id);
    }
    this.deps.plugins.action('action:live.ended', liveHookValue({ ...this.row, status: 'ended', ended_at: endedAt }), { live_id: this.row.id, reason });
    if (this.row.record !== 1) {
      await this.packager.discard();
      return;
    }
    if (this.packager.timelines().size === 0) return;
    // A queued job, not work of this process: a restart during the archive does not lose it.
    try {
      const videoId = await this.deps.archive(this.row);
      this.log.info({ video_id: videoId }, 'live: archive to a VOD queued');
    } catch (err) {
      // The live is ended: the next media process start queues it again (live-archive.ts).
      this.log.error({ err }, 'live: queueing the archive failed');
    }
  }
}

function renditionOf(r: LiveRung): LiveRendition {
  return { name: r.name, width: r.width, height: r.height, bitrate_kbps: r.video_kbps, passthrough: r.passthrough };
}
