/**
 * The wire shapes between a node and a remote runner (`framecast runner`): what the node
 * sends with a claimed job, and what the runner reports back. The runner reaches the node
 * only over HTTP(S) with its runner token (and each job's own token); every byte of media
 * moves through signed URLs (core/storage/object-urls.ts).
 *
 *   POST /v1/runner/register            {name, encoders} + registration token → {id, token}
 *   POST /v1/runner/jobs/claim          {wait_s, encoders} → 200 RunnerJobOffer | 204 (long-poll)
 *   POST /v1/runner/jobs/:id/probe      {probe, keyframes?} → {ladder, chunked?}  (plugins may refuse: 422)
 *                                       chunked: the node queued the source's chunks; the job is done
 *   POST /v1/runner/jobs/:id/progress   {stage, percent} → 204      (also the heartbeat)
 *   POST /v1/runner/jobs/:id/uploads    {files: [{path, size}]} → {uploads: [{path, url}]}
 *   POST /v1/runner/jobs/:id/complete   {result, files} → 204       (the node publishes)
 *   POST /v1/runner/jobs/:id/fail       {code, message} → 204
 *
 * A `vod.chunk` offer (one part of a long source, core/jobs/chunked.ts) carries the accepted
 * probe and ladder: the runner skips the probe call, encodes the part and uploads what
 * `chunkOutputKey` keeps; `complete` records the part (the node publishes at vod.finish).
 *
 * Job calls carry `Framecast-Job-Token`; 409 E_CONFLICT means the job is no longer this
 * runner's (lease lost, revoked, video deleted): the runner stops it.
 */
import { z } from 'zod';
import type { ProbeLimits } from '../media/probe.js';
import type { ChunkPart } from '../media/chunk-plan.js';
import type { ProbeResult, Rung, StoryboardSpec } from '../media/types.js';
import type { WatermarkPlacement } from '../media/watermark.js';

export const JOB_TOKEN_HEADER = 'framecast-job-token';

/** A claimed job as the runner receives it. */
export interface RunnerJobOffer {
  id: number;
  /** The job's own token: send it as `Framecast-Job-Token` on every call about this job. */
  token: string;
  type: 'vod.process' | 'vod.chunk';
  video_id: string;
  version: number;
  attempt: number;
  /** Report progress at least this often (seconds) or the job goes to another runner. */
  heartbeat_s: number;
  /** Epoch ms after which the job fails with E_PROCESSING_TIMEOUT (jobs.timeout_s from its first start). */
  deadline_ms: number;
  source: { url: string; size: number | null };
  limits: ProbeLimits;
  transcode: {
    preset: string;
    segment_s: number;
    audio_kbps: number;
    max_audio_tracks: number;
    max_fps: number;
    storyboard: StoryboardSpec;
    /** The encoder the job wants (transcode.require_encoder), or null for the runner's best. */
    encoder: string | null;
    /**
     * The mark to burn into every rung (core/media/watermark.ts): the operator's image itself
     * (base64, at most 1 MiB) and its placement; absent or null: none.
     */
    watermark?: (WatermarkPlacement & { image_base64: string }) | null;
    /** Sources longer than this are chunked: send their keyframes with the probe (0 = never). */
    chunk_min_s: number;
  };
  /** A `vod.chunk` job: the part to encode, with the probe and ladder the node accepted. */
  chunk?: { part: ChunkPart; ladder: Rung[]; probe: ProbeResult };
}

export const registerBody = z.object({
  name: z.string().trim().min(1).max(200),
  encoders: z.array(z.string().max(64)).max(16),
});

export const claimBody = z.object({
  wait_s: z.number().min(0).max(60).default(25),
  encoders: z.array(z.string().max(64)).max(16).optional(),
});

export const progressBody = z.object({
  stage: z.enum(['probe', 'transcode', 'publish']),
  percent: z.number().min(0).max(100),
});

/** An output file, relative to the version's root (`720p/seg-00001.m4s`). */
export const outputFile = z.object({
  path: z.string().min(1).max(512),
  size: z.number().int().min(0),
});

export const uploadsBody = z.object({ files: z.array(outputFile).min(1).max(20_000) });

const rendition = z.object({ name: z.string(), width: z.number(), height: z.number(), bitrate_kbps: z.number(), codecs: z.string() }).passthrough();

export const completeBody = z.object({
  files: z.array(outputFile).min(1).max(20_000),
  result: z
    .object({
      encoder: z.string(),
      renditions: z.array(rendition),
      audio: z.array(z.object({}).passthrough()),
      loudness: z.number().nullable(),
      duration_ms: z.number().min(0),
    })
    .passthrough(),
});

export const failBody = z.object({
  code: z.string().max(64),
  message: z.string().max(4000),
});
