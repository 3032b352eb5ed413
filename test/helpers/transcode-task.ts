/**
 * The transcode worker's task for a test source, probed as the job handler probes it
 * (with ffmpeg for the idet pass): tests of the pipeline run the worker on it directly,
 * without a node.
 */
import path from 'node:path';
import { buildLadder, type RungSpec } from '../../core/media/ladder.js';
import { probeSource } from '../../core/media/probe.js';
import type { TranscodeTask } from '../../core/media/types.js';
import { FFMPEG, FFPROBE } from './media-fixtures.js';

const LIMITS = { max_duration_s: 60, max_pixels: 1920 * 1080 };

/** A task writing into `dir/out`: ultrafast libx264, 2 s segments, the given ladder; `extra` overrides. */
export async function pipelineTask(
  dir: string,
  sourcePath: string,
  ladder: readonly RungSpec[],
  extra: Partial<TranscodeTask> = {},
): Promise<TranscodeTask> {
  const probe = await probeSource(FFPROBE, sourcePath, LIMITS, { ffmpegPath: FFMPEG });
  return {
    ffmpegPath: FFMPEG,
    sourcePath,
    outDir: path.join(dir, 'out'),
    probe,
    ladder: probe.has_video ? buildLadder(probe, ladder) : [],
    segmentSeconds: 2,
    preset: 'ultrafast',
    audioKbps: 96,
    encoder: 'libx264',
    storyboard: { interval_s: 2, tile_width: 96, columns: 5, rows: 5 },
    ...extra,
  };
}
