/**
 * The job queue: rows in the metadata database, taken under a lease.
 *
 * A worker claims a job (the lease names it as owner until `lease_expires_at`), renews the
 * lease with `heartbeat` while it works, and ends with `succeed`, `fail` or `release`.
 * When a worker process dies its lease runs out and the next claim takes the job again;
 * each claim counts an attempt, so a job that keeps killing its worker is dead-lettered
 * once its attempts are used up. Every state change after the claim is guarded by the
 * owner and attempt number, so a worker that lost its lease cannot touch the job.
 */
import type { Config } from '../../config/schema.js';
import type { ChunkPart } from '../media/chunk-plan.js';
import type { Rung } from '../media/types.js';
import type { JobRow, JobStatus, MetadataDb } from '../storage/metadata-db.js';

/** Every job type core knows; a node only claims the types it knows. */
export const JOB_TYPES = ['vod.process', 'vod.chunk', 'vod.finish', 'live.archive', 'captions.generate', 'vod.clip'] as const;
export type JobType = (typeof JOB_TYPES)[number];

/** The payload each job type carries (stored as JSON). */
export interface JobPayloads {
  'vod.process': {
    videoId: string;
    /** The version to produce. */
    version: number;
    /** Reprocessing: the earlier version whose stored source is used (default `version`). */
    sourceVersion?: number;
  };
  /**
   * One part of a long source's chunked transcode (core/jobs/chunked.ts): a video chunk
   * (every rung, `start_s` to `end_s`) or the audio (whole, once, with loudness, storyboard
   * and poster). The ladder was accepted once, by the vod.process job that planned the parts.
   */
  'vod.chunk': {
    videoId: string;
    version: number;
    sourceVersion: number;
    part: ChunkPart;
    ladder: Rung[];
  };
  /** Joins a version's chunks (manifests over all of them, continuity checked) and publishes it. */
  'vod.finish': {
    videoId: string;
    version: number;
    /** The video chunks planned (video-0 … video-{n-1}), besides the audio part. */
    chunks: number;
    /** The group of the parts' jobs. */
    group: string;
    ladder: Rung[];
  };
  /** Automatic captions of a video's served version, in one language (after its ladder). */
  'captions.generate': {
    videoId: string;
    /** BCP 47, one of `transcription.languages`. */
    language: string;
  };
  /** A clip (a new video's version) cut from a ready version of another video, without a transcode. */
  'vod.clip': {
    videoId: string;
    version: number;
    parentId: string;
    parentVersion: number;
    start_ms: number;
    end_ms: number;
    /** Grow the range to the parent's segment boundaries (nothing re-encoded). */
    snap: boolean;
  };
  /** An ended recorded live's segments published as the (already opened) version of a video. */
  'live.archive': {
    liveId: string;
    videoId: string;
    version: number;
  };
}

/** A claimed job: the row with its payload parsed, tagged by `type`. */
export type Job<T extends JobType = JobType> = {
  [K in T]: Omit<JobRow, 'type' | 'payload'> & { type: K; payload: JobPayloads[K] };
}[T];

export type JobQueueOptions = Pick<Config['jobs'], 'max_attempts' | 'backoff_base_s' | 'lease_s'> & Partial<Pick<Config['jobs'], 'priority'>> & {
  /** Clock in epoch milliseconds (tests pass a fake one). */
  now?: () => number;
  /**
   * Called when the queue itself dead-letters a job: its lease ran out on its last attempt,
   * so no handler is alive to report the failure (mark the video failed here).
   */
  onDeadLetter?: (job: Job, reason: string) => void | Promise<void>;
  /**
   * Called after each enqueue that is not part of a caller's transaction (core/jobs/wake.ts
   * wakes the runners); a caller enqueuing in a transaction announces after its commit.
   */
  onEnqueued?: () => void;
};

export interface EnqueueOptions {
  videoId?: string;
  version?: number;
  /** Epoch ms before which the job is not claimed (default now). */
  runAfter?: number;
  /** Overrides the queue's `max_attempts` for this job. */
  maxAttempts?: number;
  /**
   * Only the node with this id (core/jobs/node-id.ts) may run the job: its input is on that
   * node's disk. Other nodes never claim it, so it waits, queued, while that node is down
   * (GET /v1/jobs shows the node); default any node.
   */
  node?: string;
  /** Higher is claimed first (core/jobs/priority.ts computes it); default 0. */
  priority?: number;
  /** Only a claimer that has this encoder takes the job (e.g. `h264_nvenc`); default any. */
  wantsEncoder?: string | null;
  /** The group the job belongs to (see `waitsFor`). */
  group?: string;
  /** Not claimed until every job of this group has succeeded. */
  waitsFor?: string;
}

/** Which jobs a claimer can run beyond their type and node. */
export interface ClaimCapabilities {
  /** The encoders the claimer proved; jobs wanting another are left for someone else. */
  encoders?: readonly string[];
}

/** Seconds of waiting worth one priority point when the config does not say. */
const DEFAULT_AGEING_S = 60;

/** What `fail` did: queued again later, dead-lettered, or nothing because the lease was lost. */
export type FailOutcome = 'retry' | 'dead' | 'lost';

export interface QueueDepth {
  queued: number;
  running: number;
}

export class JobQueue {
  readonly #db: MetadataDb;
  readonly #opts: JobQueueOptions;
  readonly #now: () => number;

  constructor(db: MetadataDb, opts: JobQueueOptions) {
    this.#db = db;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  get #leaseMs(): number {
    return this.#opts.lease_s * 1000;
  }

  /** Adds a job, runnable from `runAfter` (default now). */
  async enqueue<T extends JobType>(type: T, payload: JobPayloads[T], opts: EnqueueOptions = {}): Promise<JobRow> {
    const now = this.#now();
    const row = await this.#db.db
      .insertInto('jobs')
      .values({
        type,
        video_id: opts.videoId ?? null,
        version: opts.version ?? null,
        payload: JSON.stringify(payload),
        status: 'queued',
        attempts: 0,
        max_attempts: opts.maxAttempts ?? this.#opts.max_attempts,
        run_after: opts.runAfter ?? now,
        lease_owner: null,
        lease_expires_at: null,
        last_error: null,
        created_at: now,
        updated_at: now,
        started_at: null,
        finished_at: null,
        node_id: opts.node ?? null,
        priority: opts.priority ?? 0,
        wants_encoder: opts.wantsEncoder ?? null,
        group_key: opts.group ?? null,
        waits_for: opts.waitsFor ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    this.#opts.onEnqueued?.();
    return row;
  }

  /**
   * Takes the next runnable job for `owner` (unique per worker, e.g. host:pid:random), or
   * undefined when none is due. Jobs whose worker died (lease expired) come back here.
   * `node` is the claimer's node id: jobs pinned to another node are left alone, and
   * without it only unpinned jobs are taken. Highest priority first, aged by the wait
   * (core/jobs/priority.ts); jobs wanting an encoder the claimer lacks are left alone.
   */
  async claim(owner: string, types: readonly JobType[] = JOB_TYPES, node?: string, can: ClaimCapabilities = {}): Promise<Job | undefined> {
    const ageingMs = (this.#opts.priority?.ageing_s ?? DEFAULT_AGEING_S) * 1000;
    for (;;) {
      const now = this.#now();
      const row = await this.#db.claimJob(owner, this.#leaseMs, now, types, node, { ageingMs, encoders: can.encoders });
      if (!row) return undefined;
      const job = parseJob(row);
      if (row.attempts <= row.max_attempts) return job;
      // Only a reclaimed expired lease gets here: queued jobs always have attempts left.
      const reason = `its worker stopped renewing the lease on all ${row.max_attempts} attempts`;
      const dead = await this.#finish(row.id, owner, row.attempts, { status: 'dead', last_error: reason, finished_at: now });
      if (dead) await this.#opts.onDeadLetter?.(job, reason);
    }
  }

  /**
   * Ends every lease `owner` holds now, so its running jobs are claimable at once: for a
   * worker known to be dead (see jobs/predecessor.ts). Returns how many were released.
   */
  async expireLeasesOf(owner: string): Promise<number> {
    const now = this.#now();
    const result = await this.#db.db
      .updateTable('jobs')
      .set({ lease_expires_at: now, updated_at: now })
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Extends the lease; false means the lease was lost (another worker owns the job now). */
  async heartbeat(jobId: number, owner: string): Promise<boolean> {
    const now = this.#now();
    const result = await this.#db.db
      .updateTable('jobs')
      .set({ lease_expires_at: now + this.#leaseMs, updated_at: now })
      .where('id', '=', jobId)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Marks the job done; false when the lease was lost. */
  async succeed(jobId: number, owner: string): Promise<boolean> {
    const now = this.#now();
    return this.#finish(jobId, owner, undefined, { status: 'succeeded', finished_at: now });
  }

  /**
   * Records a failed attempt. Retryable with attempts left → queued again after
   * `backoff_base_s × 2^(attempts-1)` s ('retry'); otherwise dead-lettered ('dead').
   */
  async fail(jobId: number, owner: string, message: string, opts: { retryable: boolean }): Promise<FailOutcome> {
    const row = await this.#held(jobId, owner);
    if (!row) return 'lost';
    const now = this.#now();
    if (opts.retryable && row.attempts < row.max_attempts) {
      const delayMs = this.#opts.backoff_base_s * 1000 * 2 ** (row.attempts - 1);
      const queued = await this.#finish(jobId, owner, row.attempts, { status: 'queued', last_error: message, run_after: now + delayMs });
      return queued ? 'retry' : 'lost';
    }
    const dead = await this.#finish(jobId, owner, row.attempts, { status: 'dead', last_error: message, finished_at: now });
    return dead ? 'dead' : 'lost';
  }

  /** Gives the job back at once without counting the attempt (graceful shutdown). */
  async release(jobId: number, owner: string): Promise<boolean> {
    const row = await this.#held(jobId, owner);
    if (!row) return false;
    const now = this.#now();
    return this.#finish(jobId, owner, row.attempts, { status: 'queued', run_after: now, attempts: row.attempts - 1 });
  }

  /** Jobs, newest first. */
  async list(opts: { status?: JobStatus; limit?: number } = {}): Promise<JobRow[]> {
    let query = this.#db.db.selectFrom('jobs').selectAll().orderBy('id', 'desc').limit(opts.limit ?? 100);
    if (opts.status) query = query.where('status', '=', opts.status);
    return query.execute();
  }

  /** How many jobs wait (queued, including delayed retries) and run. */
  async depth(): Promise<QueueDepth> {
    const rows = await this.#db.db
      .selectFrom('jobs')
      .select((eb) => ['status', eb.fn.countAll<number | string>().as('n')])
      .where('status', 'in', ['queued', 'running'])
      .groupBy('status')
      .execute();
    const depth: QueueDepth = { queued: 0, running: 0 };
    for (const r of rows) if (r.status === 'queued' || r.status === 'running') depth[r.status] = Number(r.n);
    return depth;
  }

  /** The job's row while `owner` holds its lease. */
  async #held(jobId: number, owner: string): Promise<JobRow | undefined> {
    return this.#db.db
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', jobId)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
  }

  /**
   * Moves a running job held by `owner` to its next state and drops the lease. `attempts`
   * pins the attempt read before, so a lease lost and reclaimed in between is not touched.
   */
  async #finish(
    jobId: number,
    owner: string,
    attempts: number | undefined,
    set: { status: JobStatus; last_error?: string; run_after?: number; finished_at?: number; attempts?: number },
  ): Promise<boolean> {
    let query = this.#db.db
      .updateTable('jobs')
      .set({ ...set, lease_owner: null, lease_expires_at: null, updated_at: this.#now() })
      .where('id', '=', jobId)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running');
    if (attempts !== undefined) query = query.where('attempts', '=', attempts);
    const result = await query.executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}

function parseJob(row: JobRow): Job {
  return { ...row, type: row.type as JobType, payload: JSON.parse(row.payload) as JobPayloads[JobType] } as Job;
}
