/**
 * Job priorities (issue 16 item 4). A job's `priority` is a number, higher first:
 *
 *   class of the video (low −10, normal 0, high +10; above normal only for admin tokens)
 *   + `jobs.priority.live_archive_boost` for a live's archive (viewers are waiting for it)
 *   + `jobs.priority.short_boost` when the source is at most `jobs.priority.short_source_bytes`
 *     (short videos first: a 10 s clip is not stuck behind an hour-long film; the size is what
 *     is known when the upload completes, before the probe)
 *   → `filter:job.priority` (plugins may raise or lower it, e.g. by the creator's audience).
 *
 * Ageing: the claim orders by `priority + waited / ageing_s` (storage-adapters/metadata/
 * claim-job.ts), so a waiting job gains one point per `jobs.priority.ageing_s` and nothing
 * starves: a low job waiting 20 × ageing_s goes before a fresh high one.
 */
import type { Config } from '../../config/schema.js';
import type { Services } from '../services.js';
import type { JobType } from './queue.js';

export const PRIORITY_CLASSES = { low: -10, normal: 0, high: 10 } as const;
export type PriorityClass = keyof typeof PRIORITY_CLASSES;
export const PRIORITY_CLASS_NAMES = Object.keys(PRIORITY_CLASSES) as [PriorityClass, ...PriorityClass[]];

export function isPriorityClass(v: unknown): v is PriorityClass {
  return typeof v === 'string' && Object.hasOwn(PRIORITY_CLASSES, v);
}

/** What the default priority of a job is computed from (also the hook's context). */
export interface PriorityInput {
  type: JobType;
  videoId: string;
  version: number;
  /** The video's class (`videos.priority`). */
  priorityClass: PriorityClass;
  /** Size of the source in bytes, when known. */
  sourceBytes?: number | undefined;
}

/** The default priority before plugins see it. */
export function defaultPriority(cfg: Pick<Config['jobs'], 'priority'>, input: PriorityInput): number {
  const p = cfg.priority;
  let priority: number = PRIORITY_CLASSES[input.priorityClass];
  if (input.type === 'live.archive') priority += p.live_archive_boost;
  if (input.sourceBytes !== undefined && input.sourceBytes <= p.short_source_bytes) priority += p.short_boost;
  return priority;
}

/**
 * The priority a new job gets: the default passed through `filter:job.priority`. A plugin
 * that fails or refuses is skipped (the default stands); a non-integer result is ignored.
 */
export async function jobPriority(s: Pick<Services, 'config' | 'plugins' | 'logger'>, input: PriorityInput): Promise<number> {
  const priority = defaultPriority(s.config.jobs, input);
  if (!s.plugins.has('filter:job.priority')) return priority;
  // A refusal means nothing here (the job is queued either way): the default stands.
  const filtered = await s.plugins
    .filter('filter:job.priority', priority, {
      job_type: input.type,
      video_id: input.videoId,
      version: input.version,
      priority_class: input.priorityClass,
      source_bytes: input.sourceBytes ?? null,
    })
    .catch(() => priority);
  if (Number.isSafeInteger(filtered)) return filtered;
  s.logger.warn({ video_id: input.videoId, version: input.version, value: filtered }, 'filter:job.priority returned no integer; using the default');
  return priority;
}

/** The class of a video row's priority column (unknown values count as normal). */
export function priorityClassOf(value: string | null | undefined): PriorityClass {
  return isPriorityClass(value) ? value : 'normal';
}

/**
 * How a new job is scheduled: its priority, and the encoder it waits for when
 * `transcode.require_encoder` names one (only a worker or runner that proved it claims it).
 */
export async function scheduling(
  s: Pick<Services, 'config' | 'plugins' | 'logger'>,
  input: PriorityInput,
): Promise<{ priority: number; wantsEncoder: string | null }> {
  const wanted = s.config.transcode.require_encoder;
  return { priority: await jobPriority(s, input), wantsEncoder: input.type === 'vod.process' && wanted ? wanted : null };
}
