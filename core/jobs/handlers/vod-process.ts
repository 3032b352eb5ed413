/**
 * `vod.process`, in stages: probe (source, ffprobe, plugins, ladder) → chunks? (a long source
 * goes on as parallel chunk jobs, core/jobs/chunked.ts) → transcode (one ffmpeg pass for the
 * whole ladder, instant publish of its first segments) → stage outputs → publish (atomic move
 * from staging to the versioned prefix: `publishStaged`, which the chunked path's vod.finish
 * and remote runners' jobs publish through too). A failed attempt leaves nothing published:
 * staging is wiped before every attempt.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { versionUrls } from '../../catalog/videos.js';
import { AppError, type VideoError } from '../../errors.js';
import { planAudioRenditions } from '../../media/audio-renditions.js';
import { decodeCapSeconds } from '../../media/transcode-command.js';
import { buildLadder } from '../../media/ladder.js';
import { ladderLayout } from '../../media/ladder-manifests.js';
import { probeSource } from '../../media/probe.js';
import type { DynamicRange, MediaManifest, ProbeResult, Rung, TranscodeProgress, TranscodeResult, TranscodeTask, VideoEncoder } from '../../media/types.js';
import type { Logger } from '../../logger.js';
import { resolveWatermark, storedWatermarkOverride, type WatermarkImage, type WatermarkPlacement, type WatermarkSpec } from '../../media/watermark.js';
import type { Services } from '../../services.js';
import { objectKeys } from '../../storage/object-store.js';
import type { JobContext, JobHandler, RunnableJob } from '../runner.js';
import { ensureScratch, scratchEstimate } from './scratch.js';
import { StagingSync } from './staging-sync.js';
import { withStepTimeout } from '../step-timeout.js';
import { fanOutChunks, partsQueued } from '../chunked.js';
import { readKeyframes, wantsChunks } from '../../media/chunk-plan.js';
import { announceMediaChanged, announceVideo, filterLadder, inspectVideo } from '../../plugins/video-hooks.js';
import { childCpuSeconds, jobMetrics } from '../../telemetry/metrics.js';
import { textTracksBeforeReady, textTracksForNewVersion } from '../../captions/version-ready.js';
import { publishVersion } from '../../catalog/version-publish.js';

/** What the media process provides to run ffmpeg. */
export interface MediaToolkit {
  ffmpegPath: string;
  ffprobePath: string;
  /** The encoder chosen at start-up (hardware when usable under `transcode.hwaccel`). */
  encoder: VideoEncoder;
  /** `transcode.watermark.image`, checked at start-up; null when none is configured. */
  watermark: WatermarkImage | null;
  transcode(task: TranscodeTask, opts: { signal: AbortSignal }): Promise<TranscodeResult>;
}

const SYNC_INTERVAL_MS = 500;
/** How often a running job checks that its video still exists (a delete stops the encode). */
const DELETED_CHECK_MS = 1000;
const PROGRESS_WRITE_MS = 1000;
/** The slowest source download still taken for progress (4 MiB/s) beyond jobs.step_timeout_s. */
const DOWNLOAD_FLOOR_BYTES_PER_S = 4 * 1024 * 1024;

/** Every finished file under `dir`, relative to it (ffmpeg's *.tmp files are not finished). */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && !e.name.endsWith('.tmp')).map((e) => relative(dir, join(e.parentPath, e.name)));
}

async function removeEarlierAttempts(workRoot: string, prefix: string): Promise<void> {
  const dirs = await readdir(workRoot).catch(() => [] as string[]);
  await Promise.all(dirs.filter((d) => d.startsWith(prefix)).map((d) => rm(join(workRoot, d), { recursive: true, force: true })));
}

/** How long the job waited for a worker, observed on its first attempt. */
async function observeQueueWait(s: Services, jobId: number): Promise<void> {
  const row = await s.db.db.selectFrom('jobs').select('created_at').where('id', '=', jobId).executeTakeFirst();
  if (row) jobMetrics.stage('queued', (Date.now() - Number(row.created_at)) / 1000);
}

/** Output this close to the decode cap means the encode was cut there (frame timing slack). */
const CAP_REACHED_SLACK_MS = 1000;

/**
 * The transcode reads at most decodeCapSeconds(claimed) of the source: output reaching that
 * cap means the file holds more than its header claims. It fails (E_TOO_LONG, not retried)
 * rather than publishing a silently truncated video.
 */
export function assertDurationHonest(claimedMs: number, encodedMs: number): void {
  const capMs = decodeCapSeconds(claimedMs) * 1000;
  if (encodedMs < capMs - CAP_REACHED_SLACK_MS) return;
  throw new AppError(
    'E_TOO_LONG',
    `the file claims ${(claimedMs / 1000).toFixed(1)} s but holds more than ${(capMs / 1000).toFixed(1)} s of frames: its duration field is wrong; re-mux it (e.g. ffmpeg -i IN -c copy OUT.mp4) and upload again`,
  );
}

export function vodProcessHandler(s: Services, media: MediaToolkit): JobHandler<'vod.process'> {
  const { catalog, store, config } = s;

  /** True once the video was deleted (the delete removed its rows first, then its objects). */
  const isGone = async (videoId: string) => !(await catalog.find(videoId));

  /** Removes everything this job wrote for a version of a deleted video (idempotent). */
  async function discardOutputs(videoId: string, version: number): Promise<void> {
    await store.deletePrefix(objectKeys.staging(videoId, version));
    await store.deletePrefix(objectKeys.media(videoId, version));
  }

  async function run(job: RunnableJob<'vod.process'>, ctx: JobContext): Promise<void> {
    const { videoId, version } = job.payload;
    const log = ctx.logger;
    const video = await catalog.find(videoId);
    if (!video || !(await catalog.version(videoId, version))) {
      log.info('video or version is gone; nothing to do');
      return;
    }
    if (await partsQueued(s, job.id, videoId, version)) {
      log.info('this job queued its chunks already; they and vod.finish do the rest');
      return;
    }
    try {
      await processVersion(job, ctx);
    } catch (err) {
      if (!(await isGone(videoId).catch(() => false))) throw err;
      // Not a failure: the owner deleted the video; whatever we wrote after the delete goes too.
      await discardOutputs(videoId, version);
      log.info('video deleted while processing; removed what this job wrote');
    }
  }

  /** What one attempt works with: its scratch dirs, the version's staging, the abort signal and logger. */
  interface Attempt {
    job: RunnableJob<'vod.process'>;
    workRoot: string;
    workDir: string;
    staging: string;
    signal: AbortSignal;
    log: Logger;
  }

  async function processVersion(job: RunnableJob<'vod.process'>, ctx: JobContext): Promise<void> {
    const { videoId, version } = job.payload;
    // Aborted by the runner (timeout, shutdown) or when the video is deleted mid-way.
    const deleted = new AbortController();
    const signal = AbortSignal.any([ctx.signal, deleted.signal]);

    const staging = objectKeys.staging(videoId, version);
    // One dir per attempt: an ffmpeg orphaned by a crashed attempt never writes into ours.
    const workRoot = join(config.data_dir, 'work');
    const workDir = join(workRoot, `${videoId}-v${version}-job${job.id}-a${job.attempts}`);
    await removeEarlierAttempts(workRoot, `${videoId}-v${version}-job${job.id}-a`);
    await mkdir(join(workDir, 'out'), { recursive: true });
    // Leftovers of an attempt that died must not mix with this one; the version stops being
    // playable first, so no viewer is pointed at a staging prefix being emptied.
    await catalog.updateVersion(videoId, version, { playable: 0, processing_started_at: Date.now() });
    await store.deletePrefix(staging);
    if (job.attempts === 1) await observeQueueWait(s, job.id);
    const deletedWatch = setInterval(() => {
      isGone(videoId).then(
        (gone) => gone && deleted.abort(new Error('the video was deleted')),
        () => undefined,
      );
    }, DELETED_CHECK_MS);
    const attempt: Attempt = { job, workRoot, workDir, staging, signal, log: ctx.logger };
    try {
      const probed = await probeStage(attempt);
      // A long source goes on as chunks (core/jobs/chunked.ts): their jobs and vod.finish publish it.
      if (await chunkStage(attempt, probed)) return;
      const { result, copied } = await transcodeStage(attempt, probed);
      await stageOutputs(attempt, result, copied);
      signal.throwIfAborted();
      await publishStaged(s, { videoId, version, staging, probe: probed.probe, result, logger: ctx.logger });
    } finally {
      clearInterval(deletedWatch);
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /** Probe: the source where ffmpeg can read it, probed, accepted (plugins), and its ladder. */
  async function probeStage(a: Attempt): Promise<{ sourcePath: string; probe: ProbeResult; ladder: Rung[] }> {
    const { videoId, version } = a.job.payload;
    const sourceVersion = a.job.payload.sourceVersion ?? version;
    const stageStart = Date.now();
    await catalog.setProgress(videoId, version, 'probe', 0);
    const sourceKey = objectKeys.source(videoId, sourceVersion);
    const localSource = store.localPath?.(sourceKey);
    const sourceInfo = await store.head(sourceKey);
    const copiesSource = !localSource || !sourceInfo;
    // The source copy is checked now; the outputs once the probe tells the duration.
    await ensureScratch(a.workRoot, copiesSource ? (sourceInfo?.size ?? 0) : 0, config.transcode.scratch_max_bytes);
    const sourcePath = copiesSource ? join(a.workDir, 'source') : localSource;
    const stepS = config.jobs.step_timeout_s;
    // A large source gets longer: one more second per DOWNLOAD_FLOOR_BYTES_PER_S of it.
    const downloadS = stepS + Math.ceil((sourceInfo?.size ?? 0) / DOWNLOAD_FLOOR_BYTES_PER_S);
    if (copiesSource) await withStepTimeout(a.signal, downloadS, 'downloading the source', (stepSignal) => store.download(sourceKey, sourcePath, { signal: stepSignal }));
    const probe = await withStepTimeout(a.signal, stepS, 'probing the source (ffprobe)', (stepSignal) =>
      probeSource(media.ffprobePath, sourcePath, config.limits, { ffmpegPath: media.ffmpegPath, signal: stepSignal }),
    );
    a.log.info({ probe }, 'source accepted');
    const ladder = await acceptProbe(s, videoId, version, probe);
    jobMetrics.stage('probe', (Date.now() - stageStart) / 1000);
    a.signal.throwIfAborted();
    return { sourcePath, probe, ladder };
  }

  /** True when the source was long enough to be queued as chunks instead (its keyframes decide). */
  async function chunkStage(a: Attempt, probed: { sourcePath: string; probe: ProbeResult; ladder: Rung[] }): Promise<boolean> {
    if (!wantsChunks(config.transcode, probed.probe)) return false;
    const { videoId, version } = a.job.payload;
    const keyframes = await withStepTimeout(a.signal, config.jobs.step_timeout_s, 'reading the keyframes (ffprobe)', (stepSignal) =>
      readKeyframes(media.ffprobePath, probed.sourcePath, stepSignal),
    );
    const sourceVersion = a.job.payload.sourceVersion ?? version;
    return (await fanOutChunks(s, { jobId: a.job.id, videoId, version, sourceVersion, probe: probed.probe, ladder: probed.ladder, keyframes })) > 0;
  }

  /**
   * Transcode: the one-pass ladder into the attempt's out dir, its first segments published
   * to staging as soon as every rendition has one (instant publish). Says what it copied.
   */
  async function transcodeStage(a: Attempt, probed: { sourcePath: string; probe: ProbeResult; ladder: Rung[] }): Promise<{ result: TranscodeResult; copied: ReadonlySet<string> }> {
    const { videoId, version } = a.job.payload;
    const { sourcePath, probe, ladder } = probed;
    const { log, signal } = a;
    const audioKbps = planAudioRenditions(probe.audio_tracks, config.transcode.audio_kbps, config.transcode.max_audio_tracks)
      .reduce((sum, r) => sum + r.bitrate_kbps, 0);
    const totalKbps = ladder.reduce((sum, r) => sum + r.video_kbps, audioKbps);
    await ensureScratch(a.workRoot, scratchEstimate({ sourceBytes: 0, copiesSource: false, durationMs: probe.duration_ms, totalKbps }), config.transcode.scratch_max_bytes);
    const stageStart = Date.now();
    const cpuBefore = childCpuSeconds();
    const outDir = join(a.workDir, 'out');
    await catalog.setProgress(videoId, version, 'transcode', 0);
    const layout = ladderLayout({
      ladder,
      probe,
      audioKbps: config.transcode.audio_kbps,
      maxAudioTracks: config.transcode.max_audio_tracks,
      segmentSeconds: config.transcode.segment_s,
      maxFps: config.transcode.max_fps,
    });
    const sync = new StagingSync(store, outDir, a.staging, layout);
    let playable = false;
    let percent = 0;
    let lastWrite = 0;
    // ffmpeg's own progress and the finished segments both move the bar; it never goes back.
    const reportProgress = (p: number) => {
      if (p <= percent) return;
      percent = p;
      const t = Date.now();
      if (t - lastWrite < PROGRESS_WRITE_MS) return;
      lastWrite = t;
      void catalog.setProgress(videoId, version, 'transcode', Math.min(99, percent)).catch(() => undefined);
    };
    let syncing = Promise.resolve();
    const syncTimer = setInterval(() => {
      syncing = syncing
        .then(async () => {
          const state = await sync.tick();
          reportProgress((state.encodedMs / Math.max(1, probe.duration_ms)) * 100);
          if (!state.playable || playable) return;
          playable = true;
          await catalog.updateVersion(videoId, version, { playable: 1 });
          log.info('playable while processing (instant publish)');
        })
        .catch((err: unknown) => log.warn({ err }, 'staging sync failed; retrying'));
    }, SYNC_INTERVAL_MS);
    const channel = new MessageChannel();
    channel.port1.on('message', (p: TranscodeProgress) => reportProgress(p.percent));
    let result: TranscodeResult;
    try {
      result = await media.transcode(
        {
          ...(await videoTranscodeTask(s, media, videoId, { sourcePath, outDir, probe, ladder })),
          progressPort: channel.port2,
        },
        { signal },
      );
    } finally {
      clearInterval(syncTimer);
      channel.port1.close();
      await syncing;
    }
    log.info({ encoder: result.encoder, renditions: result.renditions.length, audio: result.audio.length, loudness: result.loudness }, 'ladder encoded');
    assertDurationHonest(probe.duration_ms, result.duration_ms);
    const cpuAfter = childCpuSeconds();
    jobMetrics.transcode({ wallMs: Date.now() - stageStart, mediaMs: result.duration_ms, cpuSeconds: cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined });
    jobMetrics.stage('transcode', (Date.now() - stageStart) / 1000);
    return { result, copied: sync.copied };
  }

  /** The outputs not yet in staging go there (then publishStaged makes staging the version). */
  async function stageOutputs(a: Attempt, result: TranscodeResult, copied: ReadonlySet<string>): Promise<void> {
    const outDir = join(a.workDir, 'out');
    const rewritten = new Set(result.rewritten ?? []);
    const finalFiles = await listFiles(outDir);
    for (const rel of finalFiles) {
      // Segments already in staging are identical (unless a short tail was joined to one);
      // playlists are final (VOD) now.
      if (copied.has(rel) && !rewritten.has(rel)) continue;
      await store.putFile(a.staging + rel, join(outDir, rel));
    }
    // A joined short tail is gone from the outputs, but instant publish may have copied it.
    const kept = new Set(finalFiles);
    for (const rel of copied) if (!kept.has(rel)) await store.delete(a.staging + rel);
  }


  async function failed(job: RunnableJob<'vod.process'>, error: VideoError, final: boolean): Promise<void> {
    await recordVodFailure(s, job.payload, error, final);
  }

  return { run, failed };
}

/**
 * A failed attempt of a version's processing (worker or remote runner): with a retry to
 * follow the version goes back to waiting; when final the video is failed with `error`.
 * Either way nothing half-made stays in staging or playable.
 */
export async function recordVodFailure(s: Services, payload: { videoId: string; version: number }, error: VideoError, final: boolean): Promise<void> {
  const { catalog, store } = s;
  const { videoId, version } = payload;
  if (!final) {
    // A retry follows: the version goes back to waiting, nothing half-made stays visible.
    await catalog.updateVersion(videoId, version, { playable: 0, stage: 'queued', percent: 0 });
    await store.deletePrefix(objectKeys.staging(videoId, version));
    return;
  }
  await catalog.updateVersion(videoId, version, { playable: 0 });
  await store.deletePrefix(objectKeys.staging(videoId, version));
  await catalog.markFailed(videoId, version, error);
  jobMetrics.finished('failed');
  await announceVideo(s, videoId, version, error);
}

/**
 * The probe of a version's source, accepted: stored on the version, shown to plugins
 * (`filter:video.inspected` may refuse: E_MODERATION_REJECTED), and the ladder to encode
 * (`filter:transcode.ladder`). An audio-only source has no picture to ladder: [].
 */
export async function acceptProbe(s: Services, videoId: string, version: number, probe: ProbeResult): Promise<Rung[]> {
  await s.catalog.updateVersion(videoId, version, {
    duration_ms: probe.duration_ms,
    width: probe.width,
    height: probe.height,
    probe: JSON.stringify(probe),
  });
  await inspectVideo(s, videoId, version, probe);
  // The source's own chapter marks, unless chapters were set (even to none) through the API.
  if (probe.chapters?.length && (await s.catalog.find(videoId))?.chapters == null) {
    await s.catalog.patch(videoId, { chapters: probe.chapters });
  }
  return probe.has_video ? filterLadder(s, videoId, version, probe, buildLadder(probe, s.config.transcode.ladder)) : [];
}

/**
 * Where a video's next encode puts the mark: the configured placement under the video's
 * override; null when no image is configured or the video turned it off.
 */
export async function videoWatermarkPlacement(s: Services, videoId: string): Promise<WatermarkPlacement | null> {
  const { image, corner, margin, opacity, scale } = s.config.transcode.watermark;
  if (image === '') return null;
  return resolveWatermark({ corner, margin, opacity, scale }, storedWatermarkOverride((await s.catalog.find(videoId))?.watermark ?? null));
}

/**
 * The transcode task for one of a video's encodes as configured (`transcode.*`, the media
 * process's encoder, the video's mark): the one pass and each chunk of a chunked one add
 * what is theirs (progress port, part).
 */
export async function videoTranscodeTask(
  s: Services,
  media: MediaToolkit,
  videoId: string,
  io: Pick<TranscodeTask, 'sourcePath' | 'outDir' | 'probe' | 'ladder'>,
): Promise<TranscodeTask> {
  const t = s.config.transcode;
  return {
    ffmpegPath: media.ffmpegPath,
    ...io,
    segmentSeconds: t.segment_s,
    preset: t.preset,
    audioKbps: t.audio_kbps,
    maxAudioTracks: t.max_audio_tracks,
    encoder: media.encoder,
    storyboard: t.storyboard,
    maxFps: t.max_fps,
    watermark: await videoWatermark(s, media, videoId),
  };
}

/** The mark of a video's encode on this media process: its placement on the image checked at start-up. */
export async function videoWatermark(s: Services, media: Pick<MediaToolkit, 'watermark'>, videoId: string): Promise<WatermarkSpec | null> {
  const placement = media.watermark ? await videoWatermarkPlacement(s, videoId) : null;
  return placement && media.watermark ? { ...placement, image: media.watermark } : null;
}

/** A version whose every output is in `staging`, with what the probe and the encode said. */
export interface StagedVersion {
  videoId: string;
  version: number;
  staging: string;
  probe: ProbeResult;
  result: TranscodeResult;
  logger: Logger;
}

/**
 * Publishes a fully staged version (by a worker, or uploaded by a remote runner): writes its
 * manifest.json, moves staging to the versioned prefix, marks it ready and tells plugins. A
 * video deleted meanwhile throws (its caller removes what was written).
 */
export async function publishStaged(s: Services, staged: StagedVersion): Promise<void> {
  const { catalog, store, config } = s;
  const { videoId, version, staging, probe, result, logger: log } = staged;
  const isGone = async () => !(await catalog.find(videoId));
  const stageStart = Date.now();
  await catalog.setProgress(videoId, version, 'publish', 100);
  const manifest: MediaManifest = {
    version,
    ...versionUrls(config.public_url, videoId, version),
    duration_ms: result.duration_ms,
    ladder: result.renditions,
    audio: result.audio,
    loudness: result.loudness,
    encoder: result.encoder,
    source_dynamic_range: probe.dynamic_range,
  };
  const { superseded } = await publishVersion(s, {
    videoId,
    version,
    staging,
    manifest,
    fields: { duration_ms: result.duration_ms, width: probe.width, height: probe.height, loudness: result.loudness, encoder: result.encoder },
    renditions: result.renditions.map((r) => ({ name: r.name, width: r.width, height: r.height, bitrate_kbps: r.bitrate_kbps, codecs: r.codecs })),
    beforeMove: async () => {
      if (await isGone()) throw new Error('the video was deleted');
    },
    afterMove: () => textTracksBeforeReady(s, videoId, version, manifest, log),
  });
  // A delete between the check above and the publish found nothing to remove yet.
  if (await isGone()) throw new Error('the video was deleted');
  log.info({ hls_url: manifest.hls_url }, 'video ready');
  announceMediaChanged(s, { videoId, reason: 'new_version', version, replaced: superseded });
  await textTracksForNewVersion(s, videoId, log);
  jobMetrics.stage('publish', (Date.now() - stageStart) / 1000);
  jobMetrics.finished('ready');
  await announceVideo(s, videoId, version);
}
