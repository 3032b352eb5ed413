/**
 * The chunked transcode of a long source, as jobs (the media side is core/media/chunk-plan.ts):
 *
 *   vod.process  probes, accepts the probe, reads the keyframes and, when the source is long
 *                enough and has cut points, queues in one transaction:
 *   vod.chunk    the audio part and video chunk 0 (one priority point above the rest: the
 *                version becomes playable early), then chunks 1…n-1 — every worker and
 *                remote runner takes them;
 *   vod.finish   waiting for the whole group: joins the parts and publishes (vod-finish.ts).
 *
 * Each finished part leaves its segments under their final names in the version's staging,
 * its init segments and a summary (chunks/{part}.json) beside them; `recordPartDone` is the
 * one place that writes the summary, for local workers and remote runners alike.
 */
import type { Kysely } from 'kysely';
import { AppError, type VideoError } from '../errors.js';
import { chunkSummaryKey, planChunks, wantsChunks, type ChunkPart, type ChunkSummary } from '../media/chunk-plan.js';
import type { ProbeResult, Rung, TranscodeResult } from '../media/types.js';
import { outputFrameRate } from '../media/video-filters.js';
import type { Services } from '../services.js';
import type { Database, MetadataDb } from '../storage/metadata-db.js';
import { objectKeys } from '../storage/object-store.js';
import { joinStagedParts } from './chunk-staging.js';
import { recordVodFailure } from './handlers/vod-process.js';
import { JobQueue, type JobPayloads } from './queue.js';
import { announceQueuedJob } from './wake.js';

/** The group key of a version's parts (the finish job waits for it). */
function groupKey(videoId: string, version: number, jobId: number): string {
  return `vod:${videoId}:v${version}:j${jobId}`;
}

export interface FanOutInput {
  /** The vod.process job that planned the parts (its priority and wanted encoder carry over). */
  jobId: number;
  videoId: string;
  version: number;
  sourceVersion: number;
  probe: ProbeResult;
  ladder: Rung[];
  keyframes: readonly number[];
}

/**
 * Queues the parts and the finish job of a long source; returns how many video chunks,
 * or 0 when the source goes in one pass (too short, no audio or picture, no cut point).
 * Idempotent: a vod.process attempt that runs again finds its group queued already.
 */
export async function fanOutChunks(s: Services, input: FanOutInput): Promise<number> {
  const cfg = s.config.transcode;
  const { jobId, videoId, version, sourceVersion, probe, ladder } = input;
  if (!wantsChunks(cfg, probe) || ladder.length === 0) return 0;
  const chunks = planChunks({
    keyframes: input.keyframes,
    durationS: probe.duration_ms / 1000,
    chunkS: cfg.chunk_s,
    segmentS: cfg.segment_s,
    fps: outputFrameRate(probe, cfg.max_fps),
  });
  if (chunks.length < 2) return 0;
  const group = groupKey(videoId, version, jobId);
  await s.db.db.transaction().execute(async (trx) => {
    const planned = await trx.selectFrom('jobs').select('id').where('group_key', '=', group).executeTakeFirst();
    if (planned) return;
    const origin = await trx.selectFrom('jobs').select(['priority', 'wants_encoder']).where('id', '=', jobId).executeTakeFirst();
    const base = origin?.priority ?? 0;
    const queue = new JobQueue(transactionDb(s.db, trx), s.config.jobs);
    const common = { videoId, version, group };
    const part = (p: ChunkPart) => ({ videoId, version, sourceVersion, part: p, ladder });
    // The audio part and chunk 0 first: together they make the start of the video playable.
    await queue.enqueue('vod.chunk', part({ kind: 'audio' }), { ...common, priority: base + 1 });
    for (const chunk of chunks) {
      await queue.enqueue('vod.chunk', part(chunk), { ...common, priority: chunk.index === 0 ? base + 1 : base, wantsEncoder: origin?.wants_encoder ?? null });
    }
    await queue.enqueue('vod.finish', { videoId, version, chunks: chunks.length, group, ladder }, { videoId, version, waitsFor: group, priority: base + 1 });
  });
  announceQueuedJob();
  await s.catalog.setProgress(videoId, version, 'transcode', 0);
  s.logger.info({ video_id: videoId, version, chunks: chunks.length, starts: chunks.map((c) => c.start_s) }, 'long source: transcoding in chunks');
  return chunks.length;
}

/** True when this vod.process job already queued its parts (an attempt that ran again must not clear their staging). */
export async function partsQueued(s: Services, jobId: number, videoId: string, version: number): Promise<boolean> {
  const row = await s.db.db.selectFrom('jobs').select('id').where('group_key', '=', groupKey(videoId, version, jobId)).executeTakeFirst();
  return row !== undefined;
}

/** The metadata DB seen through a transaction (the queue writes through `db` only). */
function transactionDb(db: MetadataDb, trx: Kysely<Database>): MetadataDb {
  return Object.assign(Object.create(db) as MetadataDb, { db: trx });
}

/**
 * A part is done (its outputs are in staging): its summary goes beside them, and the
 * version's progress moves by one part.
 */
export async function recordPartDone(s: Services, payload: JobPayloads['vod.chunk'], result: TranscodeResult): Promise<void> {
  if (!result.chunk) throw new AppError('E_TRANSCODE_FAILED', 'the part reported no measured renditions');
  const summary: ChunkSummary = { part: payload.part, renditions: result.chunk.renditions, frames: result.chunk.frames, result: { ...result, chunk: undefined } };
  await s.store.put(objectKeys.staging(payload.videoId, payload.version) + chunkSummaryKey(payload.part), JSON.stringify(summary));
  const done = await s.store.list(objectKeys.staging(payload.videoId, payload.version) + 'chunks/');
  const summaries = done.filter((o) => o.key.endsWith('.json')).length;
  const parts = await s.db.db
    .selectFrom('jobs')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('video_id', '=', payload.videoId)
    .where('version', '=', payload.version)
    .where('type', '=', 'vod.chunk')
    .where('status', 'in', ['queued', 'running', 'succeeded'])
    .executeTakeFirst();
  const total = Math.max(1, Number(parts?.n ?? 1));
  await s.catalog.setProgress(payload.videoId, payload.version, 'transcode', Math.min(99, Math.round((summaries / total) * 100)));
  await publishPreview(s, payload).catch((err: unknown) => s.logger.warn({ err, video_id: payload.videoId }, 'instant publish of the chunks done so far failed; the finish job publishes them'));
}

/**
 * Instant publish: once the audio part and chunk 0 are done the version plays from staging,
 * over the chunks done from 0 on; each later part extends it (growing playlists).
 */
async function publishPreview(s: Services, payload: JobPayloads['vod.chunk']): Promise<void> {
  const { videoId, version, ladder } = payload;
  const row = await s.catalog.version(videoId, version);
  if (!row?.probe) return;
  const joined = await joinStagedParts(s, { videoId, version, ladder, probe: JSON.parse(row.probe) as ProbeResult }, { final: false });
  if (!joined || row.playable) return;
  await s.catalog.updateVersion(videoId, version, { playable: 1 });
  s.logger.info({ video_id: videoId, version, chunks: joined.video.length }, 'playable while processing (instant publish)');
}

/**
 * A part failed for good: the version fails (as a one-pass job would) and its finish job,
 * which would wait forever, is dead-lettered with it. Retries of other parts stop mattering.
 */
export async function failChunkedVersion(s: Services, payload: { videoId: string; version: number }, jobId: number, error: VideoError): Promise<void> {
  const row = await s.db.db.selectFrom('jobs').select('group_key').where('id', '=', jobId).executeTakeFirst();
  if (row?.group_key) {
    const now = Date.now();
    await s.db.db
      .updateTable('jobs')
      .set({ status: 'dead', last_error: `a part failed: ${error.code}: ${error.message}`.slice(0, 4000), finished_at: now, updated_at: now })
      .where((eb) => eb.or([eb('waits_for', '=', row.group_key), eb.and([eb('group_key', '=', row.group_key), eb('status', '=', 'queued')])]))
      .where('status', 'in', ['queued'])
      .execute();
  }
  await recordVodFailure(s, payload, error, true);
}
