/*
 * The packager of one live: a sequence of ffmpeg runs (one per publish), each streaming one
 * fragmented MP4 per rendition to a pipe, and the cutting of those fragments into Apple
 * Low-Latency HLS parts and segments, published into the object store, where the origin
 * serves them under /live/{id}/.
 *
 *   live/{id}/{rendition}/r{run}-part-NNNNNN.m4s       parts: one fragment each (≤ live.part_s)
 *   live/{id}/{rendition}/r{run}-seg-NNNNN.m4s         segments: their parts, concatenated
 *   live/{id}/{rendition}/r{run}-init.mp4              init segments
 *   live/{id}/{rendition}/index.m3u8, live/{id}/master.m3u8   our playlists (live-playlists.ts)
 *   data_dir/live/{id}/r{run}/{rendition}/seg-NNNNN.m4s, init_{rendition}.mp4   local copies (archive)
 *
 * Segments are cut here, not by ffmpeg: a video segment ends at the first keyframe at least
 * 90% of segment_s after its start, so a publisher whose keyframes come 1.999 s apart gets
 * 2 s segments (ffmpeg's HLS muxer, cutting at exactly 2 s, made 4 s ones). Every video rung
 * has its keyframes at the same instants (live-command.ts), so the rule cuts them alike and
 * their Media Sequence Numbers line up. Audio is cut on the segment_s grid of its own clock.
 *
 * Each fragment is first moved onto the publisher's clock (run-timeline.ts: ffmpeg starts
 * every output track at 0), then published as soon as ffmpeg flushes it (event-driven, from the pipe),
 * then its rendition's playlist is rewritten and the HTTP processes are told
 * (core/origin/live-updates.ts), which is what answers blocking playlist reloads. Without
 * recording, segments that left the window (plus a margin for slow players) are deleted;
 * with it every segment stays for the VOD; parts go once they are no longer listed. What is
 * published is also journaled (live-journal.ts), so that a successor process can take the
 * live over.
 */
import { text } from 'node:stream/consumers';
import type { WatermarkSpec } from '../core/media/watermark.js';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Config } from '../config/schema.js';
import { liveObjectKey } from '../core/live/live-locations.js';
import type { Logger } from '../core/logger.js';
import { FfmpegError, runFfmpeg } from '../core/media/ffmpeg.js';
import { AUDIO_RENDITION, MASTER_PLAYLIST, MEDIA_PLAYLIST } from '../core/media/transcode-command.js';
import type { VideoEncoder } from '../core/media/types.js';
import { liveUpdates } from '../core/origin/live-updates.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { CmafFragmentReader, shiftFragment, type CmafFragment } from './cmaf-fragments.js';
import { AAC_FRAME_S, buildLiveArgs, liveSegmentFile, type LiveInput, type LiveRung } from './live-command.js';
import { LiveJournal, type JournaledRun } from './live-journal.js';
import { RunTimeline } from './run-timeline.js';
import {
  codecOfInit,
  liveMediaPlaylist,
  masterPlaylist,
  relativeUri,
  runInitName,
  runPartName,
  runSegmentName,
  type LivePart,
  type MasterEntry,
  type RenditionReport,
  type TimelineSegment,
} from './live-playlists.js';

/** Segments kept behind the window for players that are a little late (no recording). */
const DELETE_MARGIN = 4;
/** How long a run must stay over the lag limit to count as behind real time. */
const BEHIND_FOR_MS = 1000;
/** Complete segments whose parts stay listed (RFC 8216bis: at least 3 target durations' worth with the open one). */
const SEGMENTS_WITH_PARTS = 2;
/** A video segment ends at the first keyframe this far (× segment_s) after its start. */
const CUT_AT = 0.9;

export interface PackagerOptions {
  liveId: string;
  store: ObjectStore;
  /** Local directory for the ffmpeg runs (data_dir/live/{id}). */
  workDir: string;
  ffmpegPath: string;
  encoder: VideoEncoder;
  segmentSeconds: number;
  /** LL-HLS part target, seconds. */
  partSeconds: number;
  /** Segments listed in a live playlist (the sliding window, or the DVR window). */
  window: number;
  preset: string;
  audioKbps: number;
  record: boolean;
  /** Lag (ingest time − packaged time) above which a run is behind real time. */
  maxLagMs: number;
  logger: Logger;
  /** `transcode.watermark`, burned into every rung (none is copied then); absent: none. */
  watermark?: WatermarkSpec | null;
}

/** Segments a live playlist lists: `live.window_segments`, or the DVR window when longer. */
export function liveWindowSegments(config: Readonly<Pick<Config, 'live' | 'transcode'>>): number {
  return Math.max(config.live.window_segments, Math.ceil(config.live.dvr_window_s / config.transcode.segment_s));
}

/** The options of a live's packager from the `live.*` and `transcode.*` config keys. */
export function packagerOptions(
  config: Readonly<Pick<Config, 'live' | 'transcode'>>,
  of: Pick<PackagerOptions, 'liveId' | 'store' | 'workDir' | 'ffmpegPath' | 'encoder' | 'record' | 'logger' | 'watermark'>,
): PackagerOptions {
  return {
    ...of,
    segmentSeconds: config.transcode.segment_s,
    partSeconds: config.live.part_s,
    window: liveWindowSegments(config),
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

/** One rendition of one run, as its fragments arrive. */
interface RunTrack {
  dir: string;
  audio: boolean;
  /** Local index of the segment being filled (seg-NNNNN.m4s). */
  segment: number;
  /** Run-wide number of the next part. */
  nextPart: number;
  /** Media time (seconds) where the open segment, and the run, began. */
  segmentStart: number;
  runStart: number | undefined;
  bytes: Buffer[];
  parts: LivePart[];
  /** Seconds of media published. */
  seconds: number;
  /** Seconds added to its decode times (run-timeline.ts), fixed by its first fragment. */
  shift: number | undefined;
  /** Its fragments are published in order, one at a time. */
  chain: Promise<void>;
}

/** What a run hands its packager. */
interface RunEvents {
  init(run: PackagerRun, track: RunTrack, bytes: Buffer): Promise<void>;
  fragment(run: PackagerRun, track: RunTrack, fragment: CmafFragment): Promise<void>;
  failed(run: PackagerRun, err: unknown): void;
}

/** One ffmpeg run fed with FLV tags. */
export class PackagerRun {
  readonly feed = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  readonly done: Promise<FfmpegError | undefined>;
  readonly tracks: RunTrack[];
  private readonly abort = new AbortController();
  private readonly timeline: RunTimeline;
  private ingestMs = 0;
  /** Since when the lag has been over the limit. */
  private overSince: number | undefined;

  constructor(
    readonly run: number,
    readonly dir: string,
    readonly spec: RunSpec,
    args: string[],
    ffmpegPath: string,
    private readonly maxLagMs: number,
    private readonly onBehind: () => void,
    events: RunEvents,
  ) {
    this.timeline = new RunTimeline(spec.hasAudio ? AAC_FRAME_S : 0);
    this.tracks = this.renditionDirs().map((dir) => ({
      dir, audio: dir === AUDIO_RENDITION, segment: 0, nextPart: 0, segmentStart: 0, runStart: undefined, bytes: [], parts: [], seconds: 0, shift: undefined, chain: Promise.resolve(),
    }));
    const attach = (pipes: NodeJS.ReadableStream[]) =>
      pipes.forEach((pipe, i) => {
        const track = this.tracks[i]!;
        const reader = new CmafFragmentReader({
          init: (bytes) => this.queue(track, () => events.init(this, track, bytes), events),
          fragment: (f) => {
            track.shift ??= track.audio ? this.timeline.audioShift() : this.timeline.videoShift(f.firstCompositionOffset);
            const shifted = shiftFragment(f, track.shift);
            this.queue(track, () => events.fragment(this, track, shifted), events);
          },
        });
        pipe.on('data', (chunk: Buffer) => {
          try {
            reader.push(chunk);
          } catch (err) {
            events.failed(this, err);
            this.kill();
          }
        });
      });
    this.done = runFfmpeg(ffmpegPath, args, { stdin: this.feed, signal: this.abort.signal, outputPipes: this.tracks.length, onOutputPipes: attach }).then(
      () => undefined,
      (err: unknown) => (err instanceof FfmpegError ? err : new FfmpegError(String(err), 'spawn', '', null)),
    );
  }

  private queue(track: RunTrack, work: () => Promise<void>, events: RunEvents): void {
    track.chain = track.chain.then(work).catch((err: unknown) => events.failed(this, err));
  }

  /** Every fragment received so far is published. */
  settled(): Promise<unknown> {
    return Promise.all(this.tracks.map((t) => t.chain));
  }

  /**
   * Media time every rendition of this run has published. ffmpeg's own out_time is no
   * measure of lag: it follows the fastest stream (a copied rung), not the slowest encoder.
   */
  notePackaged(): void {
    // Until every rendition has output, ffmpeg is starting, not behind.
    if (this.tracks.some((t) => t.seconds === 0)) return;
    if (this.lagMs() <= this.maxLagMs) {
      this.overSince = undefined;
      return;
    }
    const now = Date.now();
    this.overSince ??= now;
    if (now - this.overSince >= BEHIND_FOR_MS) {
      this.overSince = Infinity;
      this.onBehind();
    }
  }

  /** Passes one FLV chunk (header or tag) to ffmpeg, noting the media time it carries. */
  write(chunk: Buffer): void {
    const mediaMs = this.timeline.note(chunk);
    if (mediaMs !== undefined) this.ingestMs = Math.max(this.ingestMs, mediaMs);
    if (!this.feed.writableEnded) this.feed.write(chunk);
  }

  /** How far ffmpeg is behind what the publisher has sent. */
  lagMs(): number {
    return Math.max(0, this.ingestMs - Math.min(...this.tracks.map((t) => t.seconds)) * 1000);
  }

  /** No more input: ffmpeg finishes its last fragments and exits. */
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
  /** Parts of the latest timeline segments, by timeline index. */
  parts: Map<number, LivePart[]>;
  /** Parts of the segment in progress. */
  open: LivePart[];
  /** The next part's file (EXT-X-PRELOAD-HINT), while a run is on. */
  next: { dir: string; file: string } | undefined;
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
  private masterText = '';
  private ended = false;
  /** Wall time when the first segment became playable. */
  firstPlayableAt: number | undefined;

  constructor(private readonly opts: PackagerOptions) {
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
      else this.appendSegment(entry.dir, entry.segment, []);
    }
    for (const r of this.renditions.values()) {
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
      ladder: spec.ladder,
      hasAudio: spec.hasAudio,
      fps: spec.fps,
      segmentSeconds: this.opts.segmentSeconds,
      partSeconds: this.opts.partSeconds,
      preset: this.opts.preset,
      audioKbps: this.opts.audioKbps,
      encoder: this.opts.encoder,
      watermark: this.opts.watermark ?? null,
    });
    const run = new PackagerRun(runNo, dir, spec, args, this.opts.ffmpegPath, this.opts.maxLagMs, onBehind, {
      init: (r, track, bytes) => this.publishInit(r, track, bytes),
      fragment: (r, track, fragment) => this.publishFragment(r, track, fragment),
      failed: (r, err) => this.opts.logger.warn({ err, run: r.run }, 'live: publishing a part failed'),
    });
    this.runs.push(run);
    const journaled: JournaledRun = { run: runNo, ladder: spec.ladder, hasAudio: spec.hasAudio, fps: spec.fps, ingestKbps: spec.ingestKbps };
    this.history.push(journaled);
    this.journal.append({ t: 'run', run: journaled });
    this.current = run;
    this.opts.logger.info({ run: runNo, ladder: spec.ladder.map((r) => `${r.name}${r.passthrough ? ' (copy)' : ''}`) }, 'live packager run started');
    return run;
  }

  /** Ends the current run's input and waits until everything it wrote is published. */
  async finishRun(): Promise<FfmpegError | undefined> {
    const run = this.current;
    if (!run) return undefined;
    run.end();
    const failure = await run.done;
    await run.settled();
    // Its last segments end with the run; no further part will come under these names.
    for (const track of run.tracks) {
      if (track.parts.length > 0) await this.closeSegment(run, track);
      for (const r of this.servedBy(track.dir)) r.next = undefined;
      await this.writePlaylist(track.dir);
    }
    await this.writeMaster();
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
    for (const name of this.renditions.keys()) await this.writePlaylist(name);
    await this.writeMaster();
  }

  /**
   * end() for a packager resumed from the journal (the archive, after the live ended): a
   * rendition whose stored playlist already ends keeps it, since the journal does not know
   * the parts it lists and players that followed those parts must see them end the stream
   * (rewritten without them, hls.js never signalled end of stream). The others (the process
   * died before the end) get their ENDLIST now.
   */
  async endResumed(): Promise<void> {
    this.ended = true;
    for (const name of this.renditions.keys()) {
      const stored = await this.opts.store.get(liveObjectKey(this.opts.liveId, `${name}/${MEDIA_PLAYLIST}`));
      const ended = stored !== undefined && (await text(stored.body)).includes('#EXT-X-ENDLIST');
      if (!ended) await this.writePlaylist(name);
    }
    await this.writeMaster();
  }

  /** Removes everything of this live: its objects and its local runs. */
  async discard(): Promise<void> {
    await this.opts.store.deletePrefix(liveObjectKey(this.opts.liveId, ''));
    await rm(this.opts.workDir, { recursive: true, force: true });
  }

  /** Stops without ending the live (process shutdown): ffmpeg is killed. */
  async stop(): Promise<void> {
    for (const run of this.runs) run.kill();
    await Promise.all(this.runs.map((r) => r.done));
    await Promise.all(this.runs.map((r) => r.settled()));
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

  private key(dir: string, file: string): string {
    return liveObjectKey(this.opts.liveId, `${dir}/${file}`);
  }

  private async publishInit(run: PackagerRun, track: RunTrack, bytes: Buffer): Promise<void> {
    const local = join(run.dir, track.dir, `init_${track.dir}.mp4`);
    await mkdir(join(run.dir, track.dir), { recursive: true });
    await writeFile(local, bytes);
    await this.opts.store.put(this.key(track.dir, runInitName(run.run)), bytes);
  }

  /** Whether `fragment` begins the next segment of `track`. */
  private startsSegment(track: RunTrack, fragment: CmafFragment): boolean {
    if (track.parts.length === 0) return false;
    const seg = this.opts.segmentSeconds;
    if (!track.audio) return fragment.keyframe && fragment.start - track.segmentStart >= seg * CUT_AT;
    // Audio: at the fragment boundary nearest the next multiple of segment_s since the run began.
    const boundary = (track.runStart ?? 0) + (track.segment + 1) * seg;
    return fragment.start + fragment.duration / 2 >= boundary;
  }

  private async publishFragment(run: PackagerRun, track: RunTrack, fragment: CmafFragment): Promise<void> {
    if (this.startsSegment(track, fragment)) await this.closeSegment(run, track);
    track.runStart ??= fragment.start;
    if (track.parts.length === 0) track.segmentStart = fragment.start;
    const file = runPartName(run.run, track.nextPart++);
    await this.opts.store.put(this.key(track.dir, file), fragment.bytes);
    const part: LivePart = { run: run.run, dir: track.dir, file, init: runInitName(run.run), duration: fragment.duration, independent: fragment.keyframe };
    track.bytes.push(fragment.bytes);
    track.parts.push(part);
    track.seconds += fragment.duration;
    const next = { dir: track.dir, file: runPartName(run.run, track.nextPart) };
    for (const r of this.servedBy(track.dir)) {
      r.open.push(part);
      r.next = next;
    }
    await this.writePlaylist(track.dir);
    if (this.current === run) run.notePackaged();
  }

  /** The open segment of `track` is complete: its file, its timeline entry, its journal line. */
  private async closeSegment(run: PackagerRun, track: RunTrack): Promise<void> {
    const local = liveSegmentFile(track.segment++);
    const bytes = Buffer.concat(track.bytes);
    await writeFile(join(run.dir, track.dir, local), bytes);
    const file = runSegmentName(run.run, local);
    await this.opts.store.put(this.key(track.dir, file), bytes);
    const segment: TimelineSegment = { run: run.run, dir: track.dir, file, init: runInitName(run.run), duration: track.parts.reduce((sum, p) => sum + p.duration, 0) };
    const parts = track.parts;
    track.bytes = [];
    track.parts = [];
    this.journal.append({ t: 'segment', dir: track.dir, segment });
    // Journaled before the playlists list it: a successor never knows less than viewers.
    await this.journal.flush();
    const unlisted = this.appendSegment(track.dir, segment, parts);
    for (const p of unlisted) await this.opts.store.delete(this.key(p.dir, p.file)).catch(() => undefined);
    if (!this.opts.record) await this.deleteOld();
    await this.writeMaster();
  }

  /** The served renditions `dir` feeds: its own (unless it was dropped) and those it stands in for. */
  private servedBy(dir: string): ServedRendition[] {
    // A dropped rendition's last run may still be finishing: its viewers follow the stand-in now.
    const out = this.standIns.has(dir) ? [] : [this.served(dir)];
    for (const [dropped, standIn] of this.standIns) if (standIn === dir) out.push(this.served(dropped));
    return out;
  }

  private served(name: string): ServedRendition {
    let r = this.renditions.get(name);
    if (!r) {
      r = { timeline: [], deletedBefore: 0, parts: new Map(), open: [], next: undefined };
      this.renditions.set(name, r);
    }
    return r;
  }

  /** Appends a complete segment; returns the parts no playlist lists any more. */
  private appendSegment(dir: string, seg: TimelineSegment, parts: LivePart[]): LivePart[] {
    const unlisted: LivePart[] = [];
    this.servedBy(dir).forEach((r) => {
      r.parts.set(r.timeline.length, parts);
      r.timeline.push(seg);
      r.open = [];
      const old = r.timeline.length - 1 - SEGMENTS_WITH_PARTS;
      // The parts' files belong to `dir`'s own rendition: deleted once, when it stops listing them.
      if (r === this.renditions.get(dir)) unlisted.push(...(r.parts.get(old) ?? []));
      r.parts.delete(old);
    });
    return unlisted;
  }

  /** Where each rendition is, for the others' EXT-X-RENDITION-REPORT. */
  private reports(from: string): RenditionReport[] {
    const out: RenditionReport[] = [];
    for (const [name, r] of this.renditions) {
      if (name === from || (r.timeline.length === 0 && r.open.length === 0)) continue;
      const uri = `../${name}/${MEDIA_PLAYLIST}`;
      if (r.open.length > 0) out.push({ uri, lastMsn: r.timeline.length, lastPart: r.open.length - 1 });
      else {
        const last = r.parts.get(r.timeline.length - 1);
        out.push({ uri, lastMsn: r.timeline.length - 1, ...(last?.length ? { lastPart: last.length - 1 } : {}) });
      }
    }
    return out;
  }

  /** Rewrites the playlists `dir` feeds and tells the HTTP processes. */
  private async writePlaylist(dir: string): Promise<void> {
    for (const [name, r] of this.renditions) {
      if (name !== dir && this.standIns.get(name) !== dir) continue;
      if (r.timeline.length === 0 && r.open.length === 0) continue;
      const text = liveMediaPlaylist(name, r.timeline, {
        window: this.opts.window,
        segmentSeconds: this.opts.segmentSeconds,
        ended: this.ended,
        parts: {
          partTarget: this.opts.partSeconds,
          partsOf: (i) => r.parts.get(i) ?? [],
          open: r.open,
          nextPart: r.next && relativeUri(name, r.next.dir, r.next.file),
          reports: this.reports(name),
        },
      });
      const key = liveObjectKey(this.opts.liveId, `${name}/${MEDIA_PLAYLIST}`);
      await this.opts.store.put(key, text);
      liveUpdates.changed(key);
    }
  }

  private async writeMaster(): Promise<void> {
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

