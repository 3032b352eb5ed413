/**
 * /v1/jobs (admin): the processing jobs with stage, attempts and last error (`GET`), and a
 * hand retry of a dead or failed one (`POST /v1/jobs/:id/retry`).
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { retryJob } from '../../admin/job-retry.js';
import { AppError } from '../../errors.js';
import type { Services } from '../../services.js';
import type { JobRow } from '../../storage/metadata-db.js';
import { RunnerRegistry, runnerOfOwner } from '../../runners/registry.js';
import { requireScope } from '../auth.js';
import type { AppState } from '../context.js';

const query = z.object({
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'dead']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** Runners seen within this many leases count as connected when explaining a wait. */
const CONNECTED_LEASES = 3;

/**
 * Why a queued job is not running: the parts it waits for (a chunked transcode's vod.finish),
 * or the encoder it wants that no connected runner has. Null when nothing is missing as far
 * as the node can tell (in-cluster workers advertise nothing; they claim such a job when they have it).
 */
async function waitingFor(s: Services, j: JobRow): Promise<string | null> {
  if (j.status === 'queued' && j.waits_for) {
    const group = await s.db.db.selectFrom('jobs').select('status').where('group_key', '=', j.waits_for).execute();
    const left = group.filter((g) => g.status !== 'succeeded').length;
    if (left > 0) return `waiting for ${left} of the ${group.length} jobs it joins (${j.waits_for})`;
  }
  if (j.status !== 'queued' || !j.wants_encoder) return null;
  const runners = await new RunnerRegistry(s.db.db).connected(s.config.jobs.lease_s * 1000 * CONNECTED_LEASES + 60_000);
  const able = runners.filter((r) => (JSON.parse(r.encoders) as string[]).includes(j.wants_encoder!));
  if (able.length > 0) return null;
  const have = [...new Set(runners.flatMap((r) => JSON.parse(r.encoders) as string[]))];
  return `waiting for a worker or runner with the ${j.wants_encoder} encoder: none of the ${runners.length} connected runner(s) has it${have.length ? ` (they have ${have.join(', ')})` : ''}`;
}

/** A job as the API shows it, with its version's processing stage. */
export async function jobView(s: Services, j: JobRow) {
  const v = j.video_id && j.version ? await s.catalog.version(j.video_id, j.version) : undefined;
  return {
    id: j.id,
    type: j.type,
    status: j.status,
    video_id: j.video_id,
    version: j.version,
    attempts: j.attempts,
    max_attempts: j.max_attempts,
    last_error: j.last_error,
    stage: v?.stage ?? null,
    percent: v?.percent ?? null,
    created_at: new Date(Number(j.created_at)).toISOString(),
    run_after: new Date(Number(j.run_after)).toISOString(),
    // Pinned to one node (its input is on that disk): it waits while that node is down.
    node: j.node_id,
    priority: j.priority,
    wants_encoder: j.wants_encoder,
    /** The remote runner holding it (running), if a runner does. */
    runner: runnerOfOwner(j.lease_owner) ?? null,
    waiting_for: await waitingFor(s, j),
  };
}

export function jobRoutes(router: Router<AppState>, s: Services): void {
  router.get('/v1/jobs', async (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    const q = query.parse(ctx.query);
    const jobs = await s.queue.list({ status: q.status, limit: q.limit });
    ctx.body = { items: await Promise.all(jobs.map((j) => jobView(s, j))) };
  });

  router.post('/v1/jobs/:id/retry', async (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    const id = Number(ctx.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new AppError('E_NOT_FOUND', `job ${ctx.params.id} not found`);
    const job = await retryJob(s.db.db, id);
    s.logger.info({ job_id: id, video_id: job.video_id, version: job.version }, 'job retried by hand');
    ctx.status = 202;
    ctx.body = await jobView(s, job);
  });
}
