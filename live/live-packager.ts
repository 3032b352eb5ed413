/*
 * The packager of one live: a sequence of ffmpeg runs (one per publish) writing CMAF HLS into
 * local run directories, and the publishing of what they finish into the object store, where
 * the origin serves it under /live/{id}/.
 *
 *   data_dir/live/{id}/r{run}/{rendition}/seg-NNNNN.m4s   what ffmpeg writes (its own playlists too)
 *   live/{id}/{rendition}/r{run}-seg-NNNNN.m4s            published segments (object keys)
 *   live/{id}/{rendition}/r{run}-init.mp4                 published init segments
 *   live/{id}/{rendition}/index.m3u8, live/{id}/master.m3u8   our playlists (live-playlists.ts)
 *
 * A poll (every 200 ms) reads ffmpeg's playlists of the current run; a segment index is
 * published once every rendition has it (segments stay aligned across the ladder), files
 * first, then the media playlists, then the master, so a player never sees a URI that is
 * not there yet. Without recording, segments that left the window (plus a margin for slow
 * players) are deleted; with it every segment stays for the VOD. What is published is also
 * journaled (live-journal.ts), so that a successor process can take the live over.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { FfmpegError, runFfmpeg } from '../core/media/ffmpeg.js';
import { parseMediaPlaylist } from '../core/media/playlists.js';
import { AUDIO_RENDITION, MASTER_PLAYLIST, MEDIA_PLAYLIST } from '../core/media/transcode-command.js';
import type { VideoEncoder } from '../core/media/types.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { buildLiveArgs, type LiveInput, type LiveRung } from './live-command.js';
import { LiveJournal, type JournaledRun } from './live-journal.js';
import {
  codecOfInit,
  liveMediaPlaylist,
  masterPlaylist,
  runInitName,
  runSegmentName,
  targetDurationOf,
  type MasterEntry,
  type TimelineSegment,
} from './live-playlists.js';

const POLL_MS = 200;
/** Segments kept behind the window for players that are a little late (no recording). */
const DELETE_MARGIN = 4;
/** Consecutive polls over the lag limit before a run counts as behind real time (1 s). */
const BEHIND_CHECKS = 5;

/** Object key of a live's file. */
export function liveObjectKey(liveId: string, file: string): string {
  return `live/${liveId}/${file}`;
}

export interface PackagerOptions {
  liveId: string;
  store: ObjectStore;
  /** Local directory for the ffmpeg runs (data_dir/live/{id}). */
  workDir: string;
  ffmpegPath: string;
  encoder: VideoEncoder;
  segmentSeconds: number;
  window: number;
  preset: string;
  audioKbps: number;
  record: boolean;
  /** Lag (ingest time − packaged time) above which a run is behind real time. */
  maxLagMs: number;
  logger: Logger;
}

/** The options of a live's packager from the `live.*` and `transcode.*` config keys. */
export function packagerOptions(
  config: Readonly<Pick<Config, 'live' | 'transcode'>>,
  of: Pick<PackagerOptions, 'liveId' | 'store' | 'workDir' | 'ffmpegPath' | 'encoder' | 'record' | 'logger'>,
): PackagerOptions {
  return {
    ...of,
    segmentSeconds: config.transcode.segment_s,
    window: config.live.window_segments,
    preset: config.live.preset,
    audioKbps: config.transcode.audio_kbps,
    maxLagMs: config.live.max_lag_s * 1000,
  };
}

/** The ffmpeg side of one publish. */
export interface RunSpec {
  ladder: LiveRung[];
  hasAudio: boolean;
  fps: number;
  /** Declared video bitrate of the ingest, kbps (for the copied rung's BANDWIDTH). */
  ingestKbps: number;
  /** Default: FLV written with `write()`. */
  input?: LiveInput;
}

/** One ffmpeg run fed with FLV tags. */
export class PackagerRun {
  readonly feed = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  readonly done: Promise<FfmpegError | undefined>;
  private readonly abort = new AbortController();
  private firstTagMs: number | undefined;
  private ingestMs = 0;
  private packagedMs = 0;
  private overLimit = 0;
  /** Segments of this run already published, per rendition directory. */
  readonly published = new Map<string, number>();
  /** Seconds of media of this run already published, per rendition directory. */
  readonly publishedSeconds = new Map<string, number>();

  constructor(
    readonly run: number,
    readonly dir: string,
    readonly spec: RunSpec,
    args: string[],
    ffmpegPath: string,
    private readonly maxLagMs: number,
    private readonly onBehind: () => void,
  ) {
    this.done = runFfmpeg(ffmpegPath, args, { stdin: this.feed, signal: this.abort.signal }).then(
      () => undefined,
      (err: unknown) => (err instanceof FfmpegError ? err : new FfmpegError(String(err), 'spawn', '', null)),
    );
  }

  /**
   * Media time every rendition of this run has published. ffmpeg's own out_time is no
   * measure of lag: it follows the fastest stream (a copied rung), not the slowest encoder.
   */
  notePackaged(ms: number): void {
    this.packagedMs = ms;
    this.overLimit = this.lagMs() > this.maxLagMs ? this.overLimit + 1 : 0;
    if (this.overLimit === BEHIND_CHECKS) this.onBehind();
  }

  /** Passes one FLV chunk (header or tag) to ffmpeg, noting the media time it carries. */
  write(chunk: Buffer): void {
    const type = chunk[0];
    // Media frames only: sequence headers keep timestamp 0 when NMS shifts a resumed publish.
    if ((type === 8 || type === 9) && chunk.length > 12 && chunk[12] !== 0) {
      const ts = ((chunk[7]! << 24) | (chunk[4]! << 16) | (chunk[5]! << 8) | chunk[6]!) >>> 0;
      this.firstTagMs ??= ts;
      this.ingestMs = Math.max(this.ingestMs, ts - this.firstTagMs);
    }
    if (!this.feed.writableEnded) this.feed.write(chunk);
  }

  /** How far ffmpeg is behind what the publisher has sent. */
  lagMs(): number {
    return Math.max(0, this.ingestMs - this.packagedMs);
  }

  /** No more input: ffmpeg finishes its last segments and exits. */
  end(): void {
    if (!this.feed.writableEnded) this.feed.end();
  }

  kill(): void {
    this.abort.abort();
  }

  renditionDirs(): string[] {
    return [...this.spec.ladder.map((r) => r.name), ...(this.spec.hasAudio ? [AUDIO_RENDITION] : [])];
  }
}

/** A rendition of the live as served (its timeline spans every run). */
interface ServedRendition {
  timeline: TimelineSegment[];
  /** Index in `timeline` before which files were deleted (no recording). */
  deletedBefore: number;
}

export class LivePackager {
  private readonly renditions = new Map<string, ServedRendition>();
  /** Rendition → the lower one that continues it after it was dropped. */
  private readonly standIns = new Map<string, string>();
  /** Every run of the live, this process's and (after a takeover) its predecessor's. */
  private history: JournaledRun[] = [];
  /** The runs this process started (ffmpeg children to stop). */
  private runs: PackagerRun[] = [];
  private readonly journal: LiveJournal;
  private current: PackagerRun | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private masterText = '';
  private targetDuration: number;
  private ended = false;
  /** Wall time when the first segment became playable. */
  firstPlayableAt: number | undefined;

  constructor(private readonly opts: PackagerOptions) {
    this.targetDuration = opts.segmentSeconds;
    this.journal = new LiveJournal(opts.workDir, (err) => opts.logger.warn({ err }, 'live: journaling a published segment failed'));
  }

  get runCount(): number {
    return this.history.length;
  }

  /** The ladder of the newest run. */
  ladder(): LiveRung[] {
    return this.history[this.history.length - 1]?.ladder ?? [];
  }

  /** The ladder the first run fixed (later runs keep its rungs). */
  firstLadder(): LiveRung[] | undefined {
    return this.history[0]?.ladder;
  }

  /** Renditions dropped for falling behind, continued by a lower one. */
  droppedRenditions(): string[] {
    return [...this.standIns.keys()];
  }

  /**
   * Takes over the live from the journal an earlier process left (see live-journal.ts):
   * its runs, timeline and dropped renditions, as they were published. False when there
   * is nothing to take over. The next run continues after the last one journaled.
   */
  async resume(): Promise<boolean> {
    for (const entry of await this.journal.read()) {
      if (entry.t === 'run') this.history.push(entry.run);
      else if (entry.t === 'dropped') this.standIns.set(entry.name, entry.standIn);
      else this.append(entry.dir, entry.segment);
    }
    for (const r of this.renditions.values()) {
      this.targetDuration = Math.max(this.targetDuration, targetDurationOf(this.opts.segmentSeconds, r.timeline.map((seg) => seg.duration)));
      // What the earlier process had deleted already (no recording), give or take a margin.
      if (!this.opts.record) r.deletedBefore = Math.max(0, r.timeline.length - this.opts.window - DELETE_MARGIN);
    }
    return this.history.length > 0;
  }

  /** Starts the next run (the previous one must have finished). */
  async startRun(spec: RunSpec, onBehind: () => void): Promise<PackagerRun> {
    const runNo = this.history.length + 1;
    const dir = join(this.opts.workDir, `r${runNo}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const args = buildLiveArgs({
      input: spec.input ?? { kind: 'pipe' },
      outDir: dir,
      ladder: spec.ladder,
      hasAudio: spec.hasAudio,
      fps: spec.fps,
      segmentSeconds: this.opts.segmentSeconds,
      preset: this.opts.preset,
      audioKbps: this.opts.audioKbps,
      encoder: this.opts.encoder,
    });
    const run = new PackagerRun(runNo, dir, spec, args, this.opts.ffmpegPath, this.opts.maxLagMs, onBehind);
    this.runs.push(run);
    const journaled: JournaledRun = { run: runNo, ladder: spec.ladder, hasAudio: spec.hasAudio, fps: spec.fps, ingestKbps: spec.ingestKbps };
    this.history.push(journaled);
    this.journal.append({ t: 'run', run: journaled });
    this.current = run;
    this.timer ??= setInterval(() => void this.poll(), POLL_MS);
    this.opts.logger.info({ run: runNo, ladder: spec.ladder.map((r) => `${r.name}${r.passthrough ? ' (copy)' : ''}`) }, 'live packager run started');
    return run;
  }

  /** Ends the current run's input and waits until everything it wrote is published. */
  async finishRun(): Promise<FfmpegError | undefined> {
    const run = this.current;
    if (!run) return undefined;
    run.end();
    const failure = await run.done;
    await this.poll(true);
    if (this.current === run) this.current = undefined;
    return failure;
  }

  /**
   * `name` is no longer encoded from now on (the packager fell behind): its viewers are
   * continued by `standIn`, and new viewers do not see it in the master.
   */
  dropRendition(name: string, standIn: string): void {
    this.standIns.set(name, standIn);
    this.journal.append({ t: 'dropped', name, standIn });
  }

  /** The live is over: playlists get ENDLIST; without recording every file goes. */
  async end(): Promise<void> {
    await this.finishRun();
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    await this.writePlaylists();
  }

  /** Removes everything of this live: its objects and its local runs. */
  async discard(): Promise<void> {
    await this.opts.store.deletePrefix(liveObjectKey(this.opts.liveId, ''));
    await rm(this.opts.workDir, { recursive: true, force: true });
  }

  /** Stops without ending the live (process shutdown): ffmpeg is killed. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const run of this.runs) run.kill();
    await Promise.all(this.runs.map((r) => r.done));
    await this.polling;
  }

  /** The timeline of every rendition that is not a stand-in alias (for the archive). */
  timelines(): Map<string, TimelineSegment[]> {
    const out = new Map<string, TimelineSegment[]>();
    for (const [name, r] of this.renditions) if (!this.standIns.has(name)) out.set(name, r.timeline);
    return out;
  }

  /** Local file of a timeline segment. */
  localFile(seg: TimelineSegment, which: 'segment' | 'init'): string {
    const name = which === 'init' ? seg.init : seg.file;
    // `r3-seg-00012.m4s` ← r3/{dir}/seg-00012.m4s; `r3-init.mp4` ← r3/{dir}/init_{dir}.mp4
    const local = which === 'init' ? `init_${seg.dir}.mp4` : name.slice(name.indexOf('-') + 1);
    return join(this.opts.workDir, `r${seg.run}`, seg.dir, local);
  }

  masterVariants(): MasterEntry[] {
    return this.variants;
  }

  private variants: MasterEntry[] = [];

  private poll(final = false): Promise<void> {
    this.polling = this.polling.then(() => this.publish(final)).catch((err: unknown) => this.opts.logger.warn({ err }, 'live: publishing segments failed; retrying'));
    return this.polling;
  }

  private async publish(final: boolean): Promise<void> {
    const run = this.current;
    if (!run) return;
    const dirs = run.renditionDirs();
    const lists = await Promise.all(
      dirs.map(async (d) => {
        try {
          return parseMediaPlaylist(await readFile(join(run.dir, d, MEDIA_PLAYLIST), 'utf8')).segments;
        } catch {
          return [];
        }
      }),
    );
    // Aligned while running; at the end of a run every rendition publishes all it has.
    const ready = Math.min(...lists.map((l) => l.length));
    let changed = false;
    for (const [i, dir] of dirs.entries()) {
      const segments = lists[i]!;
      const upTo = final ? segments.length : ready;
      let done = run.published.get(dir) ?? 0;
      if (done >= upTo) continue;
      if (done === 0) await this.opts.store.putFile(liveObjectKey(this.opts.liveId, `${dir}/${runInitName(run.run)}`), join(run.dir, dir, `init_${dir}.mp4`));
      for (; done < upTo; done++) {
        const seg = segments[done]!;
        const file = runSegmentName(run.run, seg.uri);
        await this.opts.store.putFile(liveObjectKey(this.opts.liveId, `${dir}/${file}`), join(run.dir, dir, seg.uri));
        const published = { run: run.run, dir, file, init: runInitName(run.run), duration: seg.duration };
        this.append(dir, published);
        this.journal.append({ t: 'segment', dir, segment: published });
        run.publishedSeconds.set(dir, (run.publishedSeconds.get(dir) ?? 0) + seg.duration);
        this.targetDuration = Math.max(this.targetDuration, targetDurationOf(this.opts.segmentSeconds, [seg.duration]));
      }
      run.published.set(dir, done);
      changed = true;
    }
    if (!final) run.notePackaged(Math.min(...dirs.map((d) => run.publishedSeconds.get(d) ?? 0)) * 1000);
    if (!changed) return;
    // Journaled before the playlists list them: a successor never knows less than viewers.
    await this.journal.flush();
    await this.writePlaylists();
    if (!this.opts.record) await this.deleteOld();
  }

  private append(dir: string, seg: TimelineSegment): void {
    const own = this.renditions.get(dir) ?? { timeline: [], deletedBefore: 0 };
    own.timeline.push(seg);
    this.renditions.set(dir, own);
    for (const [dropped, standIn] of this.standIns) {
      if (standIn === dir) this.renditions.get(dropped)?.timeline.push(seg);
    }
  }

  private async writePlaylists(): Promise<void> {
    const opts = { window: this.opts.window, targetDuration: this.targetDuration, ended: this.ended };
    for (const [name, r] of this.renditions) {
      if (r.timeline.length === 0) continue;
      await this.opts.store.put(liveObjectKey(this.opts.liveId, `${name}/${MEDIA_PLAYLIST}`), liveMediaPlaylist(name, r.timeline, opts));
    }
    const master = await this.buildMaster();
    if (master && master !== this.masterText) {
      await this.opts.store.put(liveObjectKey(this.opts.liveId, MASTER_PLAYLIST), master);
      this.masterText = master;
      this.firstPlayableAt ??= Date.now();
    }
  }

  /** The master of the newest run's ladder, once each of its renditions has a segment. */
  private async buildMaster(): Promise<string | undefined> {
    const run = this.history[this.history.length - 1];
    if (!run) return undefined;
    const hasAudio = run.hasAudio && (this.renditions.get(AUDIO_RENDITION)?.timeline.length ?? 0) > 0;
    const variants: MasterEntry[] = [];
    for (const rung of run.ladder) {
      if (this.standIns.has(rung.name)) continue;
      const timeline = this.renditions.get(rung.name)?.timeline;
      const last = timeline?.[timeline.length - 1];
      if (!last) return this.masterText || undefined;
      const previous = this.variants.find((v) => v.name === rung.name);
      const codec = previous?.codecs.split(',')[0] ?? codecOfInit(await readFile(this.localFile(last, 'init')).catch(() => Buffer.alloc(0))) ?? 'avc1.640028';
      const videoKbps = rung.passthrough ? Math.max(rung.video_kbps, run.ingestKbps) : Math.round(rung.video_kbps * 1.1);
      variants.push({
        name: rung.name,
        width: rung.width,
        height: rung.height,
        bandwidth: (videoKbps + (hasAudio ? this.opts.audioKbps : 0)) * 1000,
        codecs: hasAudio ? `${codec},mp4a.40.2` : codec,
      });
    }
    if (variants.length === 0) return undefined;
    this.variants = variants;
    return masterPlaylist(variants, hasAudio ? AUDIO_RENDITION : null, MEDIA_PLAYLIST);
  }

  private async deleteOld(): Promise<void> {
    for (const [name, r] of this.renditions) {
      const keepFrom = r.timeline.length - this.opts.window - DELETE_MARGIN;
      for (; r.deletedBefore < keepFrom; r.deletedBefore++) {
        const seg = r.timeline[r.deletedBefore]!;
        if (seg.dir !== name) continue;
        await this.opts.store.delete(liveObjectKey(this.opts.liveId, `${name}/${seg.file}`));
        await rm(this.localFile(seg, 'segment'), { force: true });
      }
    }
  }
}
