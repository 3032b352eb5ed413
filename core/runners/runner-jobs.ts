/**
 * The node's side of remote runners' jobs (protocol in ./protocol.ts). A runner claims a
 * `vod.process` job from the same queue the in-cluster workers claim from; its lease owner
 * is `runner:{runner id}:{hash of the job token}` (./registry.ts), so every later call is
 * checked against the lease exactly as a worker's would be, and a runner that stops
 * reporting loses the job when the lease runs out.
 *
 * What stays here, on the node: the version's bookkeeping, the plugin hooks on the probe,
 * checking that every output the runner names is in its attempt's staging prefix with the
 * size it names, and publishing (vod-process.ts `publishStaged`): nothing is published
 * before the runner says it is done and the node has checked it.
 */
import { readFile } from 'node:fs/promises';
import { AppError, isErrorCode, toVideoError, type VideoError } from '../errors.js';
import { assertDurationHonest, acceptProbe, publishStaged, recordVodFailure, videoWatermarkPlacement } from '../jobs/handlers/vod-process.js';
import { failChunkedVersion, fanOutChunks, recordPartDone } from '../jobs/chunked.js';
import { chunkOutputKey, wantsChunks } from '../media/chunk-plan.js';
import { randomBytes } from 'node:crypto';
import { vodFinishHandler } from '../jobs/handlers/vod-finish.js';
import { processOwnerName } from '../jobs/predecessor.js';
import { JobQueue, type Job, type JobPayloads } from '../jobs/queue.js';
import { JobRunner, type JobHandlers } from '../jobs/runner.js';
import type { ProbeResult, Rung, TranscodeResult } from '../media/types.js';
import type { Services } from '../services.js';
import { assertSafeKey, objectKeys } from '../storage/object-store.js';
import type { RunnerRow } from '../storage/metadata-db.js';
import type { RunnerJobOffer } from './protocol.js';
import { newJobToken, RunnerRegistry, runnerJobOwner } from './registry.js';
import { z } from 'zod';
import type { completeBody, failBody, outputFile, progressBody } from './protocol.js';
import { queuedJobOrTimeout } from '../jobs/wake.js';

/** A job a runner holds (checked against its lease on every call). */
export interface HeldJob {
  id: number;
  owner: string;
  videoId: string;
  version: number;
  sourceVersion: number;
  attempt: number;
  /** Where its outputs go: the attempt's own prefix (vod.process), the version's staging (vod.chunk). */
  staging: string;
  /** A `vod.chunk` job's part, with its payload (outputs are stored under `chunkOutputKey`). */
  chunk?: JobPayloads['vod.chunk'];
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

const PAYLOAD = z.object({ videoId: z.string(), version: z.number().int(), sourceVersion: z.number().int().optional() });

/** How often a node serving runners looks for a due vod.finish besides right after each part. */
const FINISH_POLL_MS = 5000;

export class RunnerJobs {
  readonly #queue: JobQueue;
  readonly #registry: RunnerRegistry;
  /**
   * vod.finish needs the bucket, which runners never get: the node that records the parts
   * joins them (a worker node claims them too). A job runner of that one type, poked after
   * every part and on a slow timer (a finish whose node died comes back after its lease).
   */
  readonly #finisher: JobRunner;

  constructor(private readonly s: Services) {
    this.#registry = new RunnerRegistry(s.db.db);
    // Claims made here dead-letter a job whose last runner vanished: fail its video here too.
    this.#queue = new JobQueue(s.db, {
      ...s.config.jobs,
      onDeadLetter: async (job, reason) => {
        const error = toVideoError(new AppError('E_TRANSCODE_FAILED', reason));
        if (job.type === 'vod.process') await recordVodFailure(s, job.payload, error, true);
        if (job.type === 'vod.chunk') await failChunkedVersion(s, job.payload, job.id, error);
        if (job.type === 'vod.finish') await recordVodFailure(s, job.payload, error, true);
      },
    });
    // Only vod.finish is ever claimed here (types below), so no other handler can be asked for.
    const handlers = { 'vod.finish': vodFinishHandler(s) } as Partial<JobHandlers> as JobHandlers;
    this.#finisher = new JobRunner(
      this.#queue,
      handlers,
      {
        owner: processOwnerName(`finish-${randomBytes(4).toString('hex')}`),
        concurrency: 1,
        pollIntervalMs: FINISH_POLL_MS,
        leaseMs: s.config.jobs.lease_s * 1000,
        timeoutMs: s.config.jobs.timeout_s * 1000,
        types: ['vod.finish'],
      },
      s.logger,
    );
    setInterval(() => void this.#finisher.poll(), FINISH_POLL_MS).unref();
  }

  /**
   * Long-poll: the next job `runner` can run, waiting up to `waitMs` for one (checked every
   * `jobs.poll_interval_ms` on the node, so the runner itself does not poll hard); undefined
   * when none came, the runner is draining, or the request went away.
   */
  async claim(runner: RunnerRow, encoders: readonly string[], waitMs: number, signal: AbortSignal): Promise<RunnerJobOffer | undefined> {
    const deadline = Date.now() + waitMs;
    const step = Math.max(100, this.s.config.jobs.poll_interval_ms);
    if (runner.state !== 'active') {
      // A draining runner gets nothing; it waits out the poll so it does not call again at once.
      await sleep(waitMs, signal);
      return undefined;
    }
    for (let waited = false; ; waited = true) {
      if (signal.aborted) return undefined;
      // Drained or revoked while this long-poll waited: it takes nothing more.
      if (waited) {
        runner.state = await this.#registry.state(runner.id);
        if (runner.state !== 'active') return undefined;
      }
      const token = newJobToken();
      const owner = runnerJobOwner(runner.id, token);
      const job = await this.#queue.claim(owner, ['vod.process', 'vod.chunk'], undefined, { encoders });
      if (job?.type === 'vod.process' || job?.type === 'vod.chunk') {
        const offer = job.type === 'vod.process' ? await this.#prepare(job, token, owner, runner) : await this.#prepareChunk(job, token, owner, runner);
        if (offer) return offer;
        continue;
      }
      if (Date.now() >= deadline) return undefined;
      await queuedJobOrTimeout(Math.min(step, deadline - Date.now()), signal);
    }
  }

  /** Readies the version for a new attempt and builds the offer; undefined when the video is gone (job done). */
  async #prepare(job: Job<'vod.process'>, token: string, owner: string, runner: RunnerRow): Promise<RunnerJobOffer | undefined> {
    const { catalog, store, config } = this.s;
    const { videoId, version } = job.payload;
    const sourceVersion = job.payload.sourceVersion ?? version;
    const log = this.s.logger.child({ job_id: job.id, video_id: videoId, version, runner_id: runner.id, attempt: job.attempts });
    if (!(await catalog.find(videoId)) || !(await catalog.version(videoId, version))) {
      await this.#queue.succeed(job.id, owner);
      log.info('video or version is gone; nothing to do');
      return undefined;
    }
    // As a worker's attempt starts: nothing of an earlier attempt stays or plays.
    await catalog.updateVersion(videoId, version, { playable: 0, processing_started_at: Date.now() });
    await store.deletePrefix(objectKeys.staging(videoId, version));
    await catalog.setProgress(videoId, version, 'probe', 0);
    log.info({ runner_name: runner.name }, 'job claimed by a remote runner');
    return this.#offer(job, token, sourceVersion);
  }

  /** A part of a chunked transcode: nothing of the version is reset (the other parts are in staging). */
  async #prepareChunk(job: Job<'vod.chunk'>, token: string, owner: string, runner: RunnerRow): Promise<RunnerJobOffer | undefined> {
    const { videoId, version, part, ladder } = job.payload;
    const row = (await this.s.catalog.find(videoId)) ? await this.s.catalog.version(videoId, version) : undefined;
    if (!row?.probe) {
      await this.#queue.succeed(job.id, owner);
      return undefined;
    }
    this.s.logger.info({ job_id: job.id, video_id: videoId, version, runner_id: runner.id, runner_name: runner.name, part }, 'chunk claimed by a remote runner');
    return { ...(await this.#offer(job, token, job.payload.sourceVersion)), chunk: { part, ladder, probe: JSON.parse(row.probe) as ProbeResult } };
  }

  async #offer(job: Job<'vod.process' | 'vod.chunk'>, token: string, sourceVersion: number): Promise<RunnerJobOffer> {
    const { store, config } = this.s;
    const sourceKey = objectKeys.source(job.payload.videoId, sourceVersion);
    const startedAt = Number(job.started_at ?? Date.now());
    const ttlS = config.jobs.timeout_s;
    return {
      id: job.id,
      token,
      type: job.type,
      video_id: job.payload.videoId,
      version: job.payload.version,
      attempt: job.attempts,
      heartbeat_s: Math.max(0.25, config.jobs.lease_s / 3),
      deadline_ms: startedAt + config.jobs.timeout_s * 1000,
      source: { url: await this.s.objectUrls.download(sourceKey, ttlS), size: (await store.head(sourceKey))?.size ?? null },
      limits: { max_duration_s: config.limits.max_duration_s, max_pixels: config.limits.max_pixels },
      transcode: {
        preset: config.transcode.preset,
        segment_s: config.transcode.segment_s,
        audio_kbps: config.transcode.audio_kbps,
        max_audio_tracks: config.transcode.max_audio_tracks,
        max_fps: config.transcode.max_fps,
        storyboard: config.transcode.storyboard,
        encoder: job.wants_encoder,
        watermark: await this.#watermark(job.payload.videoId),
        chunk_min_s: config.transcode.chunk_min_s,
      },
    };
  }

  /** The video's mark with the image's bytes (the runner cannot read the node's files); null: none. */
  async #watermark(videoId: string): Promise<RunnerJobOffer['transcode']['watermark']> {
    const placement = await videoWatermarkPlacement(this.s, videoId);
    if (!placement) return null;
    return { ...placement, image_base64: (await readFile(this.s.config.transcode.watermark.image)).toString('base64') };
  }

  /** The job if `runner` still holds it with `jobToken`; 409 E_CONFLICT otherwise. */
  async held(runner: RunnerRow, jobId: number, jobToken: string | undefined): Promise<HeldJob> {
    const owner = runnerJobOwner(runner.id, jobToken ?? '');
    const row = await this.s.db.db
      .selectFrom('jobs')
      .select(['id', 'type', 'payload', 'attempts'])
      .where('id', '=', jobId)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    if (!row) throw new AppError('E_CONFLICT', `job ${jobId} is not held by this runner (its lease ended or it was given to another)`);
    const payload = JSON.parse(row.payload) as unknown;
    const { videoId, version, sourceVersion } = PAYLOAD.parse(payload);
    const held = { id: row.id, owner, videoId, version, sourceVersion: sourceVersion ?? version, attempt: row.attempts };
    if (row.type === 'vod.chunk') return { ...held, staging: objectKeys.staging(videoId, version), chunk: payload as JobPayloads['vod.chunk'] };
    return { ...held, staging: objectKeys.stagingAttempt(videoId, version, row.id, row.attempts) };
  }

  /**
   * The runner's probe: stored, shown to plugins (a refusal fails the job here), and the
   * ladder to encode. A long source whose keyframes came along is chunked instead: its parts
   * are queued, this job is done (`chunked`: how many video chunks).
   */
  async probe(job: HeldJob, probe: ProbeResult, keyframes?: number[]): Promise<{ ladder: Rung[]; chunked?: number }> {
    await this.#alive(job);
    try {
      const ladder = await acceptProbe(this.s, job.videoId, job.version, probe);
      if (keyframes && wantsChunks(this.s.config.transcode, probe)) {
        const chunked = await fanOutChunks(this.s, { jobId: job.id, videoId: job.videoId, version: job.version, sourceVersion: job.sourceVersion, probe, ladder, keyframes });
        if (chunked > 0) {
          await this.#queue.succeed(job.id, job.owner);
          return { ladder, chunked };
        }
      }
      return { ladder };
    } catch (err) {
      await this.fail(job, toVideoError(err));
      throw err;
    }
  }

  /** Progress, which also renews the lease. */
  async progress(job: HeldJob, p: z.infer<typeof progressBody>): Promise<void> {
    await this.#alive(job);
    if (!(await this.#queue.heartbeat(job.id, job.owner))) throw new AppError('E_CONFLICT', `job ${job.id} is no longer this runner's`);
    await this.s.catalog.setProgress(job.videoId, job.version, p.stage, Math.min(99, p.percent));
  }

  /** Signed PUT URLs for the named outputs, inside this attempt's staging prefix. */
  async uploads(job: HeldJob, files: z.infer<typeof outputFile>[]): Promise<{ uploads: { path: string; url: string }[] }> {
    await this.#alive(job);
    const ttlS = this.s.config.jobs.timeout_s;
    const uploads = [];
    for (const f of files) {
      const key = this.#outputKey(job, f.path);
      if (key) uploads.push({ path: f.path, url: await this.s.objectUrls.upload(key, ttlS) });
    }
    return { uploads };
  }

  /**
   * The runner is done: every named output must be in staging with its size, the encode must
   * cover the probed duration honestly; then the version is published and the job succeeds.
   */
  async complete(job: HeldJob, body: z.infer<typeof completeBody>): Promise<void> {
    await this.#alive(job);
    if (job.chunk) return this.#completePart(job, job.chunk, body);
    const log = this.s.logger.child({ job_id: job.id, video_id: job.videoId, version: job.version });
    const stored = new Map((await this.s.store.list(job.staging)).map((o) => [o.key, o.size]));
    const missing = body.files.filter((f) => stored.get(this.#key(job, f.path)) !== f.size).map((f) => f.path);
    if (!body.files.some((f) => f.path === 'master.m3u8')) missing.push('master.m3u8');
    const versionRow = await this.s.catalog.version(job.videoId, job.version);
    const result = body.result as unknown as TranscodeResult;
    try {
      if (missing.length > 0) throw new AppError('E_TRANSCODE_FAILED', `the runner's outputs are incomplete (${missing.length} missing or of another size, e.g. ${missing.slice(0, 3).join(', ')})`);
      if (!versionRow?.probe) throw new AppError('E_TRANSCODE_FAILED', 'the runner completed a job it never reported a probe for');
      const probe = JSON.parse(versionRow.probe) as ProbeResult;
      assertDurationHonest(probe.duration_ms, result.duration_ms);
      // Extra files the runner did not name are not published.
      const named = new Set(body.files.map((f) => this.#key(job, f.path)));
      for (const key of stored.keys()) if (!named.has(key)) await this.s.store.delete(key);
      await publishStaged(this.s, { videoId: job.videoId, version: job.version, staging: job.staging, probe, result, logger: log });
    } catch (err) {
      if (!(await this.s.catalog.find(job.videoId))) {
        await this.#discard(job);
        await this.#queue.succeed(job.id, job.owner);
        return;
      }
      await this.fail(job, toVideoError(err));
      throw err;
    }
    await this.#queue.succeed(job.id, job.owner);
    log.info({ encoder: result.encoder }, 'job succeeded on a remote runner');
  }

  /** A part of a chunked transcode is done: its outputs are checked, its summary recorded; vod.finish publishes. */
  async #completePart(job: HeldJob, payload: JobPayloads['vod.chunk'], body: z.infer<typeof completeBody>): Promise<void> {
    const stored = new Map((await this.s.store.list(job.staging)).map((o) => [o.key, o.size]));
    const named = body.files.map((f) => ({ key: this.#outputKey(job, f.path), size: f.size })).filter((f) => f.key !== null);
    const missing = named.filter((f) => stored.get(f.key!) !== f.size).map((f) => f.key);
    // The playlists are written from the part's measurements: each segment they name must be one it uploaded.
    const result = body.result as unknown as TranscodeResult;
    const names = new Set([...payload.ladder.map((r) => r.name), ...result.audio.map((a) => a.name)]);
    for (const r of result.chunk?.renditions ?? []) {
      if (!names.has(r.name)) missing.push(`${r.name} (not a rendition of this version)`);
      for (const seg of r.segments) {
        const key = `${job.staging}${r.name}/${seg.uri}`;
        if (!/^seg-\d+\.m4s$/.test(seg.uri) || stored.get(key) !== seg.bytes) missing.push(key);
      }
    }
    try {
      if (missing.length > 0 || named.length === 0 || !result.chunk) throw new AppError('E_TRANSCODE_FAILED', `the runner's outputs of the part are incomplete (${missing.length} missing or of another size, e.g. ${missing.slice(0, 3).join(', ')})`);
      await recordPartDone(this.s, payload, result);
    } catch (err) {
      await this.fail(job, toVideoError(err));
      throw err;
    }
    await this.#queue.succeed(job.id, job.owner);
    this.s.logger.info({ job_id: job.id, video_id: job.videoId, version: job.version, part: payload.part }, 'chunk done on a remote runner');
    // The last part makes the version's vod.finish due.
    void this.#finisher.poll();
  }

  /** The runner's failure, recorded as a worker's would be (retry while attempts are left and the code is retryable). */
  async reportFailure(job: HeldJob, body: z.infer<typeof failBody>): Promise<void> {
    const error = isErrorCode(body.code) ? toVideoError(new AppError(body.code, body.message)) : toVideoError(new Error(body.message));
    await this.fail(job, error);
  }

  async fail(job: HeldJob, error: VideoError): Promise<void> {
    // A timeout is final (as for workers): the video can be reprocessed by hand.
    const outcome = await this.#queue.fail(job.id, job.owner, `${error.code}: ${error.message}`, { retryable: error.retryable && error.code !== 'E_PROCESSING_TIMEOUT' });
    this.s.logger.error({ job_id: job.id, video_id: job.videoId, version: job.version, code: error.code, outcome }, 'remote runner job failed');
    if (outcome === 'lost') return;
    // A part's retry must find the other parts in staging: only its final failure fails the version.
    if (job.chunk) {
      if (outcome === 'dead') await failChunkedVersion(this.s, job, job.id, error);
      return;
    }
    await recordVodFailure(this.s, job, error, outcome === 'dead');
  }

  /** A video deleted while its runner worked: the job ends (not a failure) and its outputs go. */
  async #alive(job: HeldJob): Promise<void> {
    if (await this.s.catalog.find(job.videoId)) return;
    await this.#discard(job);
    await this.#queue.succeed(job.id, job.owner);
    throw new AppError('E_CONFLICT', 'the video was deleted; stop this job');
  }

  async #discard(job: HeldJob): Promise<void> {
    await this.s.store.deletePrefix(objectKeys.staging(job.videoId, job.version));
    await this.s.store.deletePrefix(objectKeys.media(job.videoId, job.version));
  }

  /** Where a named output of the job goes; null for a part's file that is not kept. */
  #outputKey(job: HeldJob, path: string): string | null {
    if (!job.chunk) return this.#key(job, path);
    const rel = chunkOutputKey(job.chunk.part, path);
    return rel === null ? null : this.#key(job, rel);
  }

  #key(job: HeldJob, path: string): string {
    const key = job.staging + path;
    try {
      assertSafeKey(key);
    } catch {
      throw new AppError('E_BAD_REQUEST', `not an output path: ${JSON.stringify(path)}`);
    }
    return key;
  }
}
