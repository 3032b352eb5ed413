/*
 * poster.jpg: a cheap second ffmpeg run (seek, a few dozen frames, `thumbnail` picks the most
 * representative one). A fade-in, a black title card or a flat frame is a bad poster, so the
 * luma range of the picked frame is measured in the same run (signalstats) and the next
 * position is tried when it is nearly uniform.
 */
import { runFfmpeg, safeInputArgs } from './ffmpeg.js';

/** Positions tried, as fractions of the duration, in order. */
const POSITIONS = [1 / 3, 1 / 2, 2 / 3, 1 / 10, 0];
/** A luma range (YMAX − YMIN) below this counts as a uniform picture. */
export const MIN_LUMA_RANGE = 24;

export interface PosterResult {
  offset_s: number;
  ymin: number;
  ymax: number;
}

/** Writes a representative, non-uniform frame of the source to `outFile` (JPEG) at width×height. */
export async function makePoster(
  ffmpegPath: string,
  sourcePath: string,
  outFile: string,
  opts: { duration_ms: number; width: number; height: number; signal?: AbortSignal },
): Promise<PosterResult> {
  let best: PosterResult | null = null;
  let lastOffset = -1;
  for (const fraction of POSITIONS) {
    const offset_s = Math.round((opts.duration_ms / 1000) * fraction * 1000) / 1000;
    lastOffset = offset_s;
    const stats: Record<string, number> = {};
    await runFfmpeg(
      ffmpegPath,
      [
        '-hide_banner', '-nostdin', '-y', '-ss', String(offset_s), ...safeInputArgs(sourcePath),
        '-an', '-sn', '-map', '0:v:0',
        '-vf', `thumbnail=30,scale=${opts.width}:${opts.height},setsar=1,signalstats,metadata=print`,
        '-frames:v', '1', '-q:v', '3', '-update', '1', outFile,
      ],
      {
        signal: opts.signal,
        onStderrLine: (line) => {
          const m = /lavfi\.signalstats\.(YMIN|YMAX)=(\d+)/.exec(line);
          if (m?.[1] && m[2]) stats[m[1]] = Number(m[2]);
        },
      },
    );
    const result = { offset_s, ymin: stats.YMIN ?? 0, ymax: stats.YMAX ?? 0 };
    if (result.ymax - result.ymin >= MIN_LUMA_RANGE) return result;
    if (!best || result.ymax - result.ymin > best.ymax - best.ymin) best = result;
  }
  // Every position was flat (a black video): keep the least flat, written again.
  if (best && best.offset_s !== lastOffset) {
    await runFfmpeg(ffmpegPath, [
      '-hide_banner', '-nostdin', '-y', '-ss', String(best.offset_s), ...safeInputArgs(sourcePath),
      '-an', '-sn', '-map', '0:v:0', '-vf', `thumbnail=30,scale=${opts.width}:${opts.height},setsar=1`,
      '-frames:v', '1', '-q:v', '3', '-update', '1', outFile,
    ], { signal: opts.signal });
  }
  return best ?? { offset_s: 0, ymin: 0, ymax: 0 };
}
