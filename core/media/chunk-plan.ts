/*
 * Segment-parallel transcoding: how a long source is cut into parts that encode on
 * different machines and still join into one version.
 *
 * A video chunk starts at a source keyframe that lands on a segment boundary (within half
 * an output frame), so its encode starts decoding right there and its first output frame is
 * the one the single pass would put first in that segment; its segments are numbered on
 * from the previous chunk's (chunk k's first segment = its start / segment_s) and its
 * decode times are moved by its start (transcode.worker.ts), so the parts join with no gap
 * or overlap. Every chunk runs the same encoder settings, so their init segments are
 * identical (vod.finish checks it). Each chunk also writes the storyboard tiles whose
 * intervals open in it (vod.finish lays them out in sheets). The audio is one part of its
 * own: encoded whole once, with the loudness and poster the single pass makes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { safeInputArgs } from './ffmpeg.js';
import type { MeasuredRendition } from './ladder-manifests.js';
import type { ProbeResult, TranscodeResult } from './types.js';

const run = promisify(execFile);

/** One part of a chunked transcode. */
export type ChunkPart =
  | {
      kind: 'video';
      index: number;
      /** Where the chunk starts in the source (an exact keyframe time, from the source's start). */
      start_s: number;
      /** Where the next chunk starts; null for the last chunk (to the end). */
      end_s: number | null;
      /** Number of the chunk's first segment (`seg-NNNNN.m4s`): its start / segment_s. */
      first_segment: number;
      /** Output frames before the chunk (its decode times move by this many frame durations). */
      first_frame: number;
    }
  | { kind: 'audio' };

/** The name a part's summary and init segments are stored under (`chunks/{name}…`). */
export function partName(part: ChunkPart): string {
  return part.kind === 'audio' ? 'audio' : `video-${part.index}`;
}

/** What a finished part reports: its renditions measured (decode times already moved) and, for the audio part, the pass's result. */
export interface ChunkSummary {
  part: ChunkPart;
  renditions: MeasuredRendition[];
  /** Output frames the chunk encoded (video parts). */
  frames?: number;
  result: TranscodeResult;
}

/** True when a probed source is long enough to be chunked (its keyframes then decide). */
export function wantsChunks(cfg: { chunk_min_s: number }, probe: Pick<ProbeResult, 'has_video' | 'has_audio' | 'duration_ms'>): boolean {
  // The audio part carries the loudness and poster too; a source without sound goes in one pass.
  return cfg.chunk_min_s > 0 && probe.has_video && probe.has_audio && probe.duration_ms > cfg.chunk_min_s * 1000;
}

/** Keyframe times of a source's first video stream, seconds from its start (demux only: cheap). */
export async function readKeyframes(ffprobePath: string, sourcePath: string, signal?: AbortSignal): Promise<number[]> {
  const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'format=start_time:packet=pts_time,flags', '-of', 'compact', ...safeInputArgs(sourcePath)];
  // ffprobe takes the input as its last argument, without -i.
  const input = args.indexOf('-i');
  args.splice(input, 1);
  const { stdout } = await run(ffprobePath, args, { maxBuffer: 256 * 1024 * 1024, ...(signal ? { signal } : {}) });
  let start = 0;
  const keyframes: number[] = [];
  for (const line of stdout.split('\n')) {
    const fields = Object.fromEntries(line.split('|').slice(1).map((f) => f.split('=') as [string, string]));
    if (line.startsWith('format|')) start = Number(fields.start_time) || 0;
    else if (line.startsWith('packet|') && fields.flags?.startsWith('K') && fields.pts_time !== 'N/A') keyframes.push(Number(fields.pts_time));
  }
  return [...new Set(keyframes.map((t) => Math.round((t - start) * 1e6) / 1e6))].sort((a, b) => a - b);
}

export interface ChunkPlanInput {
  keyframes: readonly number[];
  durationS: number;
  /** Wanted chunk length (transcode.chunk_s). */
  chunkS: number;
  segmentS: number;
  /** Output frames per second. */
  fps: number;
}

/**
 * The video chunks of a source: cuts at keyframes on segment boundaries, each chunk at
 * least `chunkS` long, and no last chunk under half of it. One chunk means no cut was found
 * (keyframes off the boundaries, or the source is short): transcode it in one pass.
 */
export function planChunks(input: ChunkPlanInput): Extract<ChunkPart, { kind: 'video' }>[] {
  const { keyframes, durationS, chunkS, segmentS, fps } = input;
  const halfFrame = 0.5 / fps;
  const cuts: number[] = [];
  let last = 0;
  for (const t of keyframes) {
    const boundary = Math.round(t / segmentS) * segmentS;
    if (boundary <= 0 || Math.abs(t - boundary) > halfFrame) continue;
    if (t - last < chunkS - halfFrame || durationS - t < chunkS / 2) continue;
    cuts.push(t);
    last = t;
  }
  const starts = [0, ...cuts];
  return starts.map((start, index) => ({
    kind: 'video',
    index,
    start_s: start,
    end_s: starts[index + 1] ?? null,
    first_segment: Math.round(start / segmentS),
    first_frame: Math.round(start * fps),
  }));
}

/**
 * Where a part's output file is stored, relative to the version's root; null for files the
 * part does not publish (its own playlists and masters: vod.finish writes those over all
 * parts). Segments keep their global names; a chunk's init segments and summary go under
 * `chunks/`, where vod.finish compares them.
 */
export function chunkOutputKey(part: ChunkPart, path: string): string | null {
  if (path.endsWith('.m3u8') || path.endsWith('.mpd')) return null;
  if (part.kind === 'audio') return path;
  if (/\/init_[^/]+\.mp4$/.test(path)) return `chunks/${partName(part)}/${path}`;
  if (/^[^/]+\/seg-\d+\.m4s$/.test(path)) return path;
  // Storyboard tiles are numbered on the version's timeline: the chunks' never collide.
  if (/^tile-\d+\.jpg$/.test(path)) return `${CHUNK_TILES}${path}`;
  return null;
}

/** Where the chunks' storyboard tiles are stored, relative to the version's root (vod.finish lays them out). */
export const CHUNK_TILES = 'chunks/tiles/';

/** Where a part's summary is stored, relative to the version's root. */
export function chunkSummaryKey(part: ChunkPart): string {
  return `chunks/${partName(part)}.json`;
}
