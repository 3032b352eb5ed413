/**
 * `vod.process`: probe → transcode (one ffmpeg pass for the whole ladder, instant publish
 * of its first segments) → publish (atomic move from staging to the versioned prefix).
 * A failed attempt leaves nothing published: staging is wiped before every attempt.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { mediaBase } from '../../catalog/videos.js';
import { AppError, type VideoError } from '../../errors.js';
import { planAudioRenditions } from '../../media/audio-renditions.js';
import { decodeCapSeconds } from '../../media/transcode-command.js';
import { buildLadder } from '../../media/ladder.js';
import { ladderLayout } from '../../media/ladder-manifests.js';
import { probeSource } from '../../media/probe.js';
import type { DynamicRange, TranscodeProgress, TranscodeResult, TranscodeTask, VideoEncoder } from '../../media/types.js';
import type { Services } from '../../services.js';
import { objectKeys } from '../../storage/object-store.js';
import type { JobContext, JobHandler, RunnableJob } from '../runner.js';
import { ensureScratch, scratchEstimate } from './scratch.js';
import { StagingSync } from './staging-sync.js';
import { withStepTimeout } from '../step-timeout.js';
import { announceMediaChanged, announceVideo, filterLadder, inspectVideo } from '../../plugins/video-hooks.js';
import { childCpuSeconds, jobMetrics } from '../../telemetry/metrics.js';

/** What the media process provides to run ffmpeg. */
export interface MediaToolkit {
  ffmpegPath: string;
  ffprobePath: string;
  /** The encoder chosen at start-up (hardware when usable under `transcode.hwaccel`). */
  encoder: VideoEncoder;
  transcode(task: TranscodeTask, opts: { signal: AbortSignal }): Promise<TranscodeResult>;
}

/** media_manifest.json (API.md). */
export interface MediaManifest {
  version: number;
  hls_url: string;
  dash_url: string | null;
  poster_url: string;
  thumbnail_vtt_url: string;
  duration_ms: number;
  ladder: TranscodeResult['renditions'];
  /** Every audio rendition (language, label, channels, default), in master order; absent on archived lives. */
  audio?: TranscodeResult['audio'];
  /** Integrated LUFS of the default audio track; null without audio. */
  loudness: number | null;
  encoder: VideoEncoder;
  /** The source's dynamic range (VOD versions); the ladder is BT.709 SDR whatever it is. */
  source_dynamic_range?: DynamicRange;
}

const SYNC_INTERVAL_MS = 500;
/** How often a running job checks that its video still exists (a delete stops the encode). */
const DELETED_CHECK_MS = 1000;
const PROGRESS_WRITE_MS = 1000;
/** The slowest source download still taken for progress (4 MiB/s) beyond jobs.step_timeout_s. */
const DOWNLOAD_FLOOR_BYTES_PER_S = 4 * 1024 * 1024;

async function listFiles(dir: string): Promise<string[]> {
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
function assertDurationHonest(claimedMs: number, encodedMs: number): void {
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
    const sourceVersion = job.payload.sourceVersion ?? version;
    const log = ctx.logger;
    const video = await catalog.find(videoId);
    if (!video || !(await catalog.version(videoId, version))) {
      log.info('video or version is gone; nothing to do');
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

  async function processVersion(job: RunnableJob<'vod.process'>, ctx: JobContext): Promise<void> {
    const { videoId, version } = job.payload;
    const sourceVersion = job.payload.sourceVersion ?? version;
    const log = ctx.logger;
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
    try {
      // probe
      let stageStart = Date.now();
      await catalog.setProgress(videoId, version, 'probe', 0);
      const sourceKey = objectKeys.source(videoId, sourceVersion);
      const localSource = store.localPath?.(sourceKey);
      const sourceInfo = await store.head(sourceKey);
      const copiesSource = !localSource || !sourceInfo;
      const maxScratch = config.transcode.scratch_max_bytes;
      // The source copy is checked now; the outputs once the probe tells the duration.
      await ensureScratch(workRoot, copiesSource ? (sourceInfo?.size ?? 0) : 0, maxScratch);
      const sourcePath = copiesSource ? join(workDir, 'source') : localSource;
      const stepS = config.jobs.step_timeout_s;
      // A large source gets longer: one more second per DOWNLOAD_FLOOR_BYTES_PER_S of it.
      const downloadS = stepS + Math.ceil((sourceInfo?.size ?? 0) / DOWNLOAD_FLOOR_BYTES_PER_S);
      if (copiesSource) await withStepTimeout(signal, downloadS, 'downloading the source', (stepSignal) => store.download(sourceKey, sourcePath, { signal: stepSignal }));
      const probe = await withStepTimeout(signal, stepS, 'probing the source (ffprobe)', (stepSignal) =>
        probeSource(media.ffprobePath, sourcePath, config.limits, { ffmpegPath: media.ffmpegPath, signal: stepSignal }),
      );
      log.info({ probe }, 'source accepted');
      await catalog.updateVersion(videoId, version, {
        duration_ms: probe.duration_ms,
        width: probe.width,
        height: probe.height,
        probe: JSON.stringify(probe),
      });
      await inspectVideo(s, videoId, version, probe);
      jobMetrics.stage('probe', (Date.now() - stageStart) / 1000);
      signal.throwIfAborted();

      // transcode, publishing the first segments as soon as every rendition has one
      // An audio-only source has no picture to ladder: its renditions are the audio ones.
      const ladder = probe.has_video ? await filterLadder(s, videoId, version, probe, buildLadder(probe, config.transcode.ladder)) : [];
      const audioKbps = planAudioRenditions(probe.audio_tracks, config.transcode.audio_kbps, config.transcode.max_audio_tracks)
        .reduce((sum, a) => sum + a.bitrate_kbps, 0);
      const totalKbps = ladder.reduce((sum, r) => sum + r.video_kbps, audioKbps);
      await ensureScratch(workRoot, scratchEstimate({ sourceBytes: 0, copiesSource: false, durationMs: probe.duration_ms, totalKbps }), maxScratch);
      stageStart = Date.now();
      const cpuBefore = childCpuSeconds();
      const outDir = join(workDir, 'out');
      await catalog.setProgress(videoId, version, 'transcode', 0);
      const layout = ladderLayout({
        ladder,
        probe,
        audioKbps: config.transcode.audio_kbps,
        maxAudioTracks: config.transcode.max_audio_tracks,
        segmentSeconds: config.transcode.segment_s,
        maxFps: config.transcode.max_fps,
      });
      const sync = new StagingSync(store, outDir, staging, layout);
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
            ffmpegPath: media.ffmpegPath,
            sourcePath,
            outDir,
            probe,
            ladder,
            segmentSeconds: config.transcode.segment_s,
            preset: config.transcode.preset,
            audioKbps: config.transcode.audio_kbps,
            maxAudioTracks: config.transcode.max_audio_tracks,
            encoder: media.encoder,
            storyboard: config.transcode.storyboard,
            maxFps: config.transcode.max_fps,
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

      // publish
      stageStart = Date.now();
      await catalog.setProgress(videoId, version, 'publish', 100);
      const base = `${config.public_url.replace(/\/$/, '')}${mediaBase(videoId, version)}`;
      const manifest: MediaManifest = {
        version,
        hls_url: `${base}master.m3u8`,
        dash_url: `${base}master.mpd`,
        poster_url: `${base}poster.jpg`,
        thumbnail_vtt_url: `${base}storyboard.vtt`,
        duration_ms: result.duration_ms,
        ladder: result.renditions,
        audio: result.audio,
        loudness: result.loudness,
        encoder: result.encoder,
        source_dynamic_range: probe.dynamic_range,
      };
      await writeFile(join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
      const rewritten = new Set(result.rewritten ?? []);
      const finalFiles = await listFiles(outDir);
      for (const rel of finalFiles) {
        // Segments already in staging are identical (unless a short tail was joined to one);
        // playlists are final (VOD) now.
        if (sync.copied.has(rel) && !rewritten.has(rel)) continue;
        await store.putFile(staging + rel, join(outDir, rel));
      }
      // A joined short tail is gone from the outputs, but instant publish may have copied it.
      const kept = new Set(finalFiles);
      for (const rel of sync.copied) if (!kept.has(rel)) await store.delete(staging + rel);
      signal.throwIfAborted();
      if (await isGone(videoId)) throw new Error('the video was deleted');
      const finalPrefix = objectKeys.media(videoId, version);
      await store.deletePrefix(finalPrefix);
      await store.publishPrefix(staging, finalPrefix);
      const { superseded } = await catalog.markReady(
        videoId,
        version,
        {
          duration_ms: result.duration_ms,
          width: probe.width,
          height: probe.height,
          manifest: JSON.stringify(manifest),
          loudness: result.loudness,
          encoder: result.encoder,
        },
        result.renditions.map((r) => ({ name: r.name, width: r.width, height: r.height, bitrate_kbps: r.bitrate_kbps, codecs: r.codecs })),
      );
      // A delete between the check above and the publish found nothing to remove yet.
      if (await isGone(videoId)) throw new Error('the video was deleted');
      log.info({ hls_url: manifest.hls_url }, 'video ready');
      announceMediaChanged(s, { videoId, reason: 'new_version', version, replaced: superseded });
      jobMetrics.stage('publish', (Date.now() - stageStart) / 1000);
      jobMetrics.finished('ready');
      await announceVideo(s, videoId, version);
    } finally {
      clearInterval(deletedWatch);
      await rm(workDir, { recursive: true, force: true });
    }
  }

  async function failed(job: RunnableJob<'vod.process'>, error: VideoError, final: boolean): Promise<void> {
    const { videoId, version } = job.payload;
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

  return { run, failed };
}
