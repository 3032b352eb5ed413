/*
 * poster.jpg: a representative frame from the first seconds, never a black or blank one when
 * a better one exists. Two cheap ffmpeg runs:
 *   1. choose: the first WINDOW_S seconds (reference frames only), SAMPLES_PER_S pictures a second, small, through the
 *      same deinterlace/tone-map as the ladder; pictures that are nearly all black (a fade-in,
 *      a black title card: 90th luma percentile dark) or nearly all white are dropped
 *      (signalstats + metadata select); `thumbnail` picks the most representative of the rest
 *      and showinfo tells its time. Small pictures keep thumbnail's buffer a few MB.
 *   2. write: seek there and write that one frame at the top rung's size.
 * When a window has no usable picture the next one is tried (a third, two thirds into the
 * video); a video that is dark everywhere gets the most representative frame of its start.
 */
import { runFfmpeg, safeInputArgs } from './ffmpeg.js';
import type { ProbeResult } from './types.js';
import { sourcePictureFilters } from './video-filters.js';

/** Seconds of video the poster is chosen from, per window (decoding them is most of the poster's cost). */
const WINDOW_S = 6;
const SAMPLES_PER_S = 4;
/** Width the choosing pass works at. */
const CHOOSE_WIDTH = 160;
/** 8-bit luma: a picture whose 90th percentile is below BLACK_HIGH is black, whose 10th is above WHITE_LOW is white. */
const BLACK_HIGH = 40;
const WHITE_LOW = 220;

export interface PosterResult {
  /** Time of the frame written, s. */
  offset_s: number;
  /** False when no window had a picture that is not black or white. */
  representative: boolean;
}

/** How the source's pictures must be treated (SDR progressive when absent). */
type PictureSource = Pick<ProbeResult, 'dynamic_range' | 'field_order'>;
const PLAIN: PictureSource = { dynamic_range: 'SDR', field_order: 'progressive' };

function even(n: number): number {
  return Math.max(2, Math.round(n / 2) * 2);
}

/** Pass 1: the time (s, from `start_s`) of the most representative usable picture of the window, or null. */
async function choose(
  ffmpegPath: string,
  sourcePath: string,
  start_s: number,
  opts: { width: number; height: number; picture: PictureSource; skipDark: boolean; signal?: AbortSignal },
): Promise<number | null> {
  const small = { width: CHOOSE_WIDTH, height: even((CHOOSE_WIDTH * opts.height) / opts.width) };
  const usable = opts.skipDark
    ? [
        'signalstats',
        `metadata=mode=select:key=lavfi.signalstats.YHIGH:value=${BLACK_HIGH}:function=greater`,
        `metadata=mode=select:key=lavfi.signalstats.YLOW:value=${WHITE_LOW}:function=less`,
      ]
    : [];
  const filters = [
    ...sourcePictureFilters(opts.picture, { rate: String(SAMPLES_PER_S), size: small }),
    `scale=${small.width}:${small.height}`,
    'format=yuv420p',
    ...usable,
    `thumbnail=${WINDOW_S * SAMPLES_PER_S}`,
    'showinfo',
  ];
  let picked: number | null = null;
  await runFfmpeg(
    ffmpegPath,
    [
      // Frames nothing refers to (most B-frames) are not even decoded: there are plenty of candidates without them.
      '-hide_banner', '-nostdin', '-skip_frame', 'noref', '-ss', String(start_s), '-t', String(WINDOW_S), ...safeInputArgs(sourcePath),
      '-an', '-sn', '-map', '0:v:0', '-vf', filters.join(','), '-frames:v', '1', '-f', 'null', '-',
    ],
    {
      signal: opts.signal,
      onStderrLine: (line) => {
        const m = /Parsed_showinfo.*pts_time:\s*(-?[\d.]+)/.exec(line);
        if (m?.[1] && picked === null) picked = Math.max(0, Number(m[1]));
      },
    },
  );
  return picked;
}

/** Writes a representative frame of the source to `outFile` (JPEG) at width×height, tone-mapped when HDR. */
export async function makePoster(
  ffmpegPath: string,
  sourcePath: string,
  outFile: string,
  opts: { duration_ms: number; width: number; height: number; picture?: PictureSource; signal?: AbortSignal },
): Promise<PosterResult> {
  const picture = opts.picture ?? PLAIN;
  const duration_s = opts.duration_ms / 1000;
  const starts = [0, duration_s / 3, (2 * duration_s) / 3].filter((s, i) => i === 0 || s >= WINDOW_S);
  let chosen: PosterResult | null = null;
  for (const start of starts) {
    const at = await choose(ffmpegPath, sourcePath, start, { ...opts, picture, skipDark: true });
    if (at !== null) {
      chosen = { offset_s: start + at, representative: true };
      break;
    }
  }
  if (!chosen) chosen = { offset_s: (await choose(ffmpegPath, sourcePath, 0, { ...opts, picture, skipDark: false })) ?? 0, representative: false };

  const size = { width: opts.width, height: opts.height };
  const filters = [...sourcePictureFilters(picture, { size }), `scale=${size.width}:${size.height}`, 'setsar=1'];
  await runFfmpeg(
    ffmpegPath,
    [
      '-hide_banner', '-nostdin', '-y', '-ss', chosen.offset_s.toFixed(3), ...safeInputArgs(sourcePath),
      '-an', '-sn', '-map', '0:v:0', '-vf', filters.join(','), '-frames:v', '1', '-q:v', '3', '-update', '1', outFile,
    ],
    { signal: opts.signal },
  );
  return chosen;
}
