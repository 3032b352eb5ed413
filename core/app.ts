/**
 * Composition root: with open-services.ts (the storage adapters by URL scheme and the shared
 * services), the only place that picks concrete adapters; wires and starts each process role.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Config } from '../config/schema.js';
import { checkWatermarkImage } from '../config/startup-checks.js';
import { createHttpServer } from './http/server.js';
import type { ReadinessProbe } from './http/routes/health.js';
import { JOB_TYPES, JobQueue, type JobType } from './jobs/queue.js';
import { announceQueuedJob, onQueuedJob } from './jobs/wake.js';
import { localNodeId } from './jobs/node-id.js';
import { processOwnerName, takeOverFromPredecessor } from './jobs/predecessor.js';
import { JobRunner, runnableJob, type JobHandler, type JobHandlers } from './jobs/runner.js';
import { AppError, toVideoError } from './errors.js';
import { sweepIntervalMs, sweepReplacedVersions } from './catalog/version-sweep.js';
import { vodProcessHandler, type MediaToolkit } from './jobs/handlers/vod-process.js';
import { vodChunkHandler } from './jobs/handlers/vod-chunk.js';
import { vodFinishHandler } from './jobs/handlers/vod-finish.js';
import { liveArchiveHandler } from '../live/live-archive-job.js';
import { captionsGenerateHandler } from './jobs/handlers/captions-generate.js';
import type { Transcriber, TranscriberFactory } from './transcription/transcriber.js';
import { vodClipHandler } from './jobs/handlers/vod-clip.js';
import type { Logger } from './logger.js';
import { resolveFfmpeg } from './media/ffmpeg.js';
import { detectEncoders } from './media/hwaccel.js';
import { reapOrphanFfmpeg } from './media/orphans.js';
import { createTranscodePool } from './media/pool.js';
import type { Services } from './services.js';
import { expireUploads } from './uploads/upload-expiry.js';
import { rollUpExpiredEvents } from './telemetry/retention.js';
import { closeEventBuffers } from './telemetry/event-buffer.js';
import { startLiveRole } from '../live/live-role.js';

export { closeServices, openMetadataDb, openObjectStore, openServices } from './open-services.js';

/** Transcription engines by `transcription.engine` (none: only a plugin may transcribe). */
const transcribers: { [E in Exclude<Config['transcription']['engine'], 'none'>]: () => Promise<{ default: TranscriberFactory }> } = {
  pocketsphinx: () => import('../transcription-adapters/pocketsphinx.js'),
  'whisper-cpp': () => import('../transcription-adapters/whisper-cpp.js'),
};

export async function openTranscriber(cfg: Readonly<Config>, logger: Logger): Promise<Transcriber | undefined> {
  const engine = cfg.transcription.engine;
  return engine === 'none' ? undefined : (await transcribers[engine]()).default(cfg.transcription, logger);
}

/** True when something listens on the local TCP port (bounded: 1 s). */
function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** An HTTP process: serves the API, uploads, media and pages on the shared port. */
export async function startHttpRole(s: Services): Promise<{ server: Server; stop(): Promise<void> }> {
  const readiness: ReadinessProbe[] = [];
  if (s.config.roles.includes('worker')) {
    // Checked once a minute at most: resolving runs `ffmpeg -version`.
    let checked: { at: number; ok: boolean } | undefined;
    readiness.push({
      name: 'ffmpeg',
      async check() {
        if (!checked || Date.now() - checked.at > 60_000) {
          checked = { at: Date.now(), ok: await resolveFfmpeg().then(() => true, () => false) };
        }
        return checked.ok;
      },
    });
  }
  if (s.config.roles.includes('live')) {
    // The RTMP ingest runs in the media process: ready once it accepts connections.
    readiness.push({ name: 'rtmp', check: () => acceptsConnections(s.config.live.port) });
  }
  const server = createHttpServer(s, { readiness });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(s.config.http.port, s.config.http.host, () => resolve());
  });
  return {
    server,
    async stop() {
      // Finish in-flight requests; idle keep-alive sockets are closed at once.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      // Telemetry admitted but not yet written (write-behind) goes in before the database closes.
      await closeEventBuffers();
    },
  };
}

/** The media process: job runner + piscina pool driving ffmpeg. */
export async function startMediaRole(s: Services): Promise<{ stop(): Promise<void> }> {
  const bins = await resolveFfmpeg();
  const reaped = await reapOrphanFfmpeg(join(s.config.data_dir, 'work'));
  if (reaped.length > 0) s.logger.warn({ pids: reaped }, 'ended ffmpeg processes orphaned by a previous media process');
  const encoders = await detectEncoders(bins.ffmpegPath, s.config.transcode.hwaccel);
  const encoder = encoders.usable[0] ?? 'libx264';
  s.logger.info({ ffmpeg: bins.ffmpegPath, version: bins.version, encoder, tried: encoders.tried }, 'media process ready');
  const pool = createTranscodePool({ maxThreads: s.config.transcode.concurrency });
  const media: MediaToolkit = {
    ffmpegPath: bins.ffmpegPath,
    ffprobePath: bins.ffprobePath,
    encoder,
    watermark: await checkWatermarkImage(s.config, bins),
    // Live first: VOD ladders yield the CPU to live packagers on a node that runs both.
    transcode: (task, opts) => pool.run(s.config.roles.includes('live') ? { ...task, niceness: s.config.live.vod_niceness } : task, opts),
  };
  const node = await localNodeId(s.config.data_dir);
  const { corner, margin, opacity, scale } = s.config.transcode.watermark;
  const liveMark = media.watermark ? { corner, margin, opacity, scale, image: media.watermark } : null;
  const live = s.config.roles.includes('live') ? await startLiveRole(s, { ffmpegPath: bins.ffmpegPath, encoder, watermark: liveMark }, node) : undefined;
  const handlers: JobHandlers = {
    'vod.process': vodProcessHandler(s, media),
    'vod.chunk': vodChunkHandler(s, media),
    'vod.finish': vodFinishHandler(s),
    'live.archive': liveArchiveHandler(s, media),
    'captions.generate': captionsGenerateHandler(s, { ffmpegPath: bins.ffmpegPath, transcriber: await openTranscriber(s.config, s.logger) }),
    'vod.clip': vodClipHandler(s, media),
  };
  // A job whose last attempt died with its process is dead-lettered by the queue itself.
  const queue = new JobQueue(s.db, {
    ...s.config.jobs,
    onEnqueued: announceQueuedJob,
    onDeadLetter: async (job, reason) => {
      const error = toVideoError(new AppError('E_TRANSCODE_FAILED', reason));
      await (handlers[job.type] as JobHandler<JobType>).failed?.(runnableJob(job), error, true);
    },
  });
  // Unique per process start: a stalled process that comes back cannot act on a re-claimed job.
  const owner = processOwnerName(randomBytes(4).toString('hex'));
  const predecessor = await takeOverFromPredecessor(join(s.config.data_dir, 'run'), owner);
  if (predecessor) {
    const released = await queue.expireLeasesOf(predecessor);
    if (released > 0) s.logger.warn({ jobs: released, predecessor }, 'took over the jobs of a media process that died');
  }
  const runner = new JobRunner(
    queue,
    handlers,
    {
      owner,
      concurrency: s.config.transcode.concurrency,
      pollIntervalMs: s.config.jobs.poll_interval_ms,
      leaseMs: s.config.jobs.lease_s * 1000,
      timeoutMs: s.config.jobs.timeout_s * 1000,
      // The recording of a live is on the disk of the node that ran it (a live role).
      types: s.config.roles.includes('live') ? JOB_TYPES : JOB_TYPES.filter((type) => type !== 'live.archive'),
      node,
      encoders: encoders.usable,
    },
    s.logger,
  );
  runner.start();
  const stopWaking = onQueuedJob(() => runner.wake());
  const expiry = setInterval(
    () => void expireUploads(s).catch((err: unknown) => s.logger.error({ err }, 'upload expiry failed')),
    Math.min(60_000, s.config.uploads.expire_after_s * 500),
  );
  // Raw telemetry past its retention is rolled up per day and deleted (hourly; one node at a time).
  const rollUp = () =>
    void rollUpExpiredEvents(s.db, s.config.telemetry.retention_days)
      .then((r) => r.days > 0 && s.logger.info({ days: r.days, events: r.events }, 'old playback events rolled up into daily figures'))
      .catch((err: unknown) => s.logger.error({ err }, 'telemetry roll-up failed'));
  const retention = setInterval(rollUp, 3_600_000);
  rollUp();
  // Replaced versions: media deleted once their grace period ends (worker nodes do it).
  const sweep = s.config.roles.includes('worker')
    ? setInterval(
        () => void sweepReplacedVersions(s).catch((err: unknown) => s.logger.error({ err }, 'sweep of replaced versions failed')),
        sweepIntervalMs(s.config.versions.grace_s),
      )
    : undefined;
  return {
    async stop() {
      clearInterval(retention);
      clearInterval(expiry);
      clearInterval(sweep);
      await live?.stop();
      stopWaking();
      await runner.stop();
      await pool.close();
    },
  };
}
