/**
 * `live.archive`: an ended recorded live's segments become the ready version the job names
 * (live-archive.ts). The recording is read back from the live's journal on this node,
 * so an attempt after a crash or a restart starts over from what is on disk; the version's
 * staging prefix is wiped first. A final failure marks the version failed and the live's
 * error says why.
 */
import { archiveLive, recordedPackager } from './live-archive.js';
import { LiveStore } from '../core/live/live-store.js';
import { AppError, type VideoError } from '../core/errors.js';
import type { VideoEncoder } from '../core/media/types.js';
import type { Services } from '../core/services.js';
import type { JobContext, JobHandler, RunnableJob } from '../core/jobs/runner.js';

export function liveArchiveHandler(s: Services, media: { ffmpegPath: string; encoder: VideoEncoder }): JobHandler<'live.archive'> {
  const lives = new LiveStore(s.db.db);

  async function run(job: RunnableJob<'live.archive'>, ctx: JobContext): Promise<void> {
    const { liveId, videoId, version } = job.payload;
    const [live, target] = await Promise.all([lives.find(liveId), s.catalog.version(videoId, version)]);
    if (!live || !target) {
      ctx.logger.info({ live_id: liveId }, 'live or its video is gone; nothing to archive');
      return;
    }
    if (target.status === 'ready') return;
    // The job's signal reaches every ffmpeg of the archive: a hung one is killed at the
    // job timeout or at shutdown instead of holding the job (and the process) forever.
    const deps = { catalog: s.catalog, store: s.store, config: s.config, ffmpegPath: media.ffmpegPath, encoder: media.encoder, logger: ctx.logger, signal: ctx.signal };
    const packager = await recordedPackager(deps, liveId);
    // The job is pinned to the node that recorded the live (core/jobs/node-id.ts), so this
    // means the recording is gone from its disk, or the job predates pinning and another
    // node took it: retryable, as that node may still claim it.
    if (!packager) throw new AppError('E_TRANSCODE_FAILED', `the recording of live ${liveId} is not on this node`);
    ctx.signal.throwIfAborted();
    await archiveLive(deps, live, packager, { videoId, version });
    await lives.update(liveId, { vod_video_id: videoId, error_message: null });
    ctx.logger.info({ live_id: liveId, video_id: videoId }, 'live archived as a VOD');
  }

  async function failed(job: RunnableJob<'live.archive'>, error: VideoError, final: boolean): Promise<void> {
    if (!final) return;
    const { liveId, videoId, version } = job.payload;
    await s.catalog.markFailed(videoId, version, { ...error, message: `archiving the live failed: ${error.message}` });
    await lives.update(liveId, { error_message: `archiving failed: ${error.message}` });
  }

  return { run, failed };
}
