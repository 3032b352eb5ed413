/**
 * The job runner of the media process: claims jobs from the DB-backed queue, keeps their
 * leases alive with heartbeats, enforces `jobs.timeout_s`, and hands each job to the
 * handler of its type. On shutdown it stops claiming, aborts running work and releases the
 * leases so another process picks the jobs up at once.
 */
import { AppError, toVideoError, type VideoError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Job, JobPayloads, JobQueue, JobType } from './queue.js';

export interface JobContext {
  signal: AbortSignal;
  logger: Logger;
  attempt: number;
}

export interface RunnableJob<T extends JobType> {
  id: number;
  type: T;
  payload: JobPayloads[T];
  attempts: number;
  maxAttempts: number;
}

/** What a job type does; `failed` learns of every failure (final: no retry will follow). */
export interface JobHandler<T extends JobType> {
  run(job: RunnableJob<T>, ctx: JobContext): Promise<void>;
  failed?(job: RunnableJob<T>, error: VideoError, final: boolean): Promise<void>;
}

/** Every job type must have a handler: the compiler checks this map. */
export type JobHandlers = { [T in JobType]: JobHandler<T> };

/** The job as its handler sees it. */
export function runnableJob(row: Job): RunnableJob<JobType> {
  return { id: row.id, type: row.type, payload: row.payload, attempts: row.attempts, maxAttempts: row.max_attempts };
}

export interface RunnerOptions {
  owner: string;
  concurrency: number;
  pollIntervalMs: number;
  leaseMs: number;
  timeoutMs: number;
  /** The job types this process claims (default all): e.g. a node without the live role leaves `live.archive` to one with it. */
  types?: readonly JobType[];
  /** This node's id (core/jobs/node-id.ts): jobs pinned to it are claimed here, and only here. */
  node?: string;
  /** The encoders this process proved (core/media/hwaccel.ts): jobs wanting another wait for a worker or runner that has it. */
  encoders?: readonly string[];
  now?: () => number;
}

export class JobRunner {
  private readonly running = new Map<number, { abort: AbortController; done: Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private polling = false;
  /** A wake arrived while a poll was claiming: claim again when it ends (the new job may have come after its last claim). */
  private pollAgain = false;
  private readonly now: () => number;

  constructor(
    private readonly queue: JobQueue,
    private readonly handlers: JobHandlers,
    private readonly opts: RunnerOptions,
    private readonly logger: Logger,
  ) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.opts.pollIntervalMs);
    void this.poll();
  }

  /** Stops claiming; aborts running jobs and releases their leases (graceful shutdown). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    for (const r of this.running.values()) r.abort.abort(new Error('shutting down'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** A job was queued, or a slot freed: claim now rather than at the next poll. */
  wake(): void {
    if (this.polling) this.pollAgain = true;
    else void this.poll();
  }

  /** Claims jobs until the concurrency limit is reached; exposed for tests. */
  async poll(): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    this.pollAgain = false;
    try {
      while (!this.stopping && this.running.size < this.opts.concurrency) {
        const job = await this.queue.claim(this.opts.owner, this.opts.types, this.opts.node, { encoders: this.opts.encoders ?? [] });
        if (!job) break;
        const abort = new AbortController();
        const done = this.execute(job, abort)
          // Recording the outcome needs the database; when it cannot be reached the lease
          // runs out and the job is claimed again, so this must not end the process.
          .catch((err: unknown) => this.logger.error({ err, job_id: job.id }, 'recording the job outcome failed; it runs again once its lease expires'))
          .finally(() => {
            this.running.delete(job.id);
            // A freed slot takes the next job (or the finish job this one let through) now.
            this.wake();
          });
        this.running.set(job.id, { abort, done });
      }
    } catch (err) {
      this.logger.error({ err }, 'claiming jobs failed');
    } finally {
      this.polling = false;
    }
    if (this.pollAgain && !this.stopping) void this.poll();
  }

  private async execute(row: Job, abort: AbortController): Promise<void> {
    const type = row.type;
    const handler = this.handlers[type] as JobHandler<JobType> | undefined;
    const log = this.logger.child({ job_id: row.id, job_type: row.type, video_id: row.video_id, version: row.version, attempt: row.attempts });
    const job = runnableJob(row);
    if (!handler) {
      await this.queue.fail(row.id, this.opts.owner, `no handler for job type ${row.type}`, { retryable: false });
      return;
    }
    // The timeout counts from the job's first start, so a job that keeps crashing still ends.
    const startedAt = row.started_at ?? this.now();
    const remaining = startedAt + this.opts.timeoutMs - this.now();
    let timedOut = false;
    const timeout = setTimeout(() => {
      timedOut = true;
      abort.abort(new AppError('E_PROCESSING_TIMEOUT'));
    }, Math.max(0, remaining));
    let lostLease = false;
    const heartbeat = setInterval(() => {
      void this.queue.heartbeat(row.id, this.opts.owner).then(
        (held) => {
          if (!held && !lostLease) {
            lostLease = true;
            log.warn('lost the job lease; stopping this attempt');
            abort.abort(new Error('lease lost'));
          }
        },
        (err: unknown) => log.error({ err }, 'heartbeat failed'),
      );
    }, Math.max(250, Math.floor(this.opts.leaseMs / 3)));

    log.info('job started');
    try {
      await handler.run(job, { signal: abort.signal, logger: log, attempt: row.attempts });
      await this.queue.succeed(row.id, this.opts.owner);
      log.info('job succeeded');
    } catch (err) {
      if (lostLease) return;
      if (this.stopping && !timedOut) {
        await this.queue.release(row.id, this.opts.owner);
        log.info('job released for another process (shutdown)');
        return;
      }
      const error = timedOut
        ? toVideoError(new AppError('E_PROCESSING_TIMEOUT', `processing took longer than ${Math.round(this.opts.timeoutMs / 1000)} s`))
        : toVideoError(err);
      // A timeout is final for the queue; the video can still be reprocessed by hand.
      const outcome = await this.queue.fail(row.id, this.opts.owner, `${error.code}: ${error.message}`, {
        retryable: error.retryable && !timedOut,
      });
      log.error({ err, code: error.code, outcome }, 'job failed');
      await handler.failed?.(job, error, outcome === 'dead').catch((e: unknown) => log.error({ err: e }, 'failure hook failed'));
    } finally {
      clearTimeout(timeout);
      clearInterval(heartbeat);
    }
  }

  get activeJobs(): number {
    return this.running.size;
  }
}
