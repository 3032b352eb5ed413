/**
 * Completing an upload, whichever way its bytes arrived: the bytes become the version's
 * source and processing is queued.
 *
 * Idempotent and crash-safe: of the callers (the request that wrote the last byte, a retry,
 * the recovery sweep after a crash), only the one that marks the session complete queues
 * the job, and marking, the version's state and the job are one transaction. Placing the
 * source comes first and must itself be repeatable (a retry may find it already in place).
 */
import type { Kysely } from 'kysely';
import { AppError } from '../errors.js';
import type { Services } from '../services.js';
import { objectKeys } from '../storage/object-store.js';
import type { Database, MetadataDb } from '../storage/metadata-db.js';
import { VideoCatalog } from '../catalog/videos.js';
import { JobQueue } from '../jobs/queue.js';
import { announceQueuedJob } from '../jobs/wake.js';
import { priorityClassOf, scheduling } from '../jobs/priority.js';
import { uploadMetrics } from '../telemetry/metrics.js';
import { UploadSessions } from './upload-sessions.js';

/** `s.db` with its Kysely handle swapped for a transaction's (the seam's other methods stay). */
function inTransaction(db: MetadataDb, trx: Kysely<Database>): MetadataDb {
  return Object.create(db, { db: { value: trx } }) as MetadataDb;
}

/** Puts the upload's bytes at `sourceKey` (repeatable: a retry may find them there already). */
export type PlaceSource = (sourceKey: string) => Promise<void>;

/**
 * Completes upload `uploadId` of `bytes` bytes. Returns 'queued' for the caller that queued
 * processing, 'already' when the session was complete before (nothing is placed again).
 * Throws E_NOT_FOUND for an unknown session.
 */
export async function completeUpload(s: Services, uploadId: string, bytes: number, placeSource: PlaceSource): Promise<'queued' | 'already'> {
  const session = await new UploadSessions(s.db.db).find(uploadId);
  if (!session) throw new AppError('E_NOT_FOUND', `upload ${uploadId} not found`);
  if (session.completed_at !== null) return 'already';
  const { video_id: videoId, version } = session;
  await placeSource(objectKeys.source(videoId, version));
  const video = await s.catalog.find(videoId);
  const schedule = await scheduling(s, { type: 'vod.process', videoId, version, priorityClass: priorityClassOf(video?.priority), sourceBytes: bytes });
  const job = await s.db.db.transaction().execute(async (trx) => {
    if (!(await new UploadSessions(trx).markCompleted(uploadId))) return undefined;
    await new VideoCatalog(trx).markUploaded(videoId, version, bytes);
    return new JobQueue(inTransaction(s.db, trx), s.config.jobs).enqueue('vod.process', { videoId, version }, { videoId, version, ...schedule });
  });
  if (!job) return 'already';
  announceQueuedJob();
  uploadMetrics.completed(Number(session.created_at));
  s.logger.info({ video_id: videoId, version, upload_id: uploadId, kind: session.kind, bytes, job_id: job.id }, 'upload complete, processing queued');
  return 'queued';
}
