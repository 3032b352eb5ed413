/**
 * Retrying a job by hand (`POST /v1/jobs/:id/retry`, `framecast jobs retry`): a dead or
 * failed job is queued again with fresh attempts, and the video version it was making goes
 * back to processing (the video shows `processing` again unless another version plays).
 */
import type { Kysely } from 'kysely';
import { AppError } from '../errors.js';
import type { Database, JobRow } from '../storage/metadata-db.js';

export async function retryJob(db: Kysely<Database>, id: number, now = Date.now()): Promise<JobRow> {
  return db.transaction().execute(async (trx) => {
    const job = await trx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    if (!job) throw new AppError('E_NOT_FOUND', `job ${id} not found`);
    if (job.status !== 'dead' && job.status !== 'failed') {
      throw new AppError('E_CONFLICT', `job ${id} is ${job.status}; only dead or failed jobs can be retried`);
    }
    const retried = await trx
      .updateTable('jobs')
      .set({ status: 'queued', attempts: 0, run_after: now, lease_owner: null, lease_expires_at: null, started_at: null, finished_at: null, updated_at: now })
      .where('id', '=', id)
      .where('status', 'in', ['dead', 'failed'])
      .returningAll()
      .executeTakeFirstOrThrow();
    if (job.video_id !== null && job.version !== null) {
      const cleared = { error_code: null, error_message: null, error_retryable: null };
      await trx
        .updateTable('versions')
        .set({ status: 'processing', stage: 'queued', percent: 0, playable: 0, ...cleared })
        .where('video_id', '=', job.video_id)
        .where('version', '=', job.version)
        .where('status', '=', 'failed')
        .execute();
      await trx
        .updateTable('videos')
        .set({ status: 'processing', updated_at: now, ...cleared })
        .where('id', '=', job.video_id)
        .where('current_version', '=', 0)
        .where('latest_version', '=', job.version)
        .execute();
    }
    return retried;
  });
}
