/*
 * What the probe learns about a source's PICTURE beyond ffprobe's stream header: its dynamic
 * range, its field order, its pixel aspect and its nominal frame rate.
 *
 * Decisions:
 * - Dynamic range comes from the transfer characteristic: arib-std-b67 is HLG, smpte2084 is PQ
 *   (HDR10, HDR10+ and Dolby Vision profiles 7/8.1 carry PQ). Dolby Vision profile 8.4 has an
 *   HLG-compatible base layer, so it counts as HLG even when the transfer is not tagged.
 * - Field order comes from the stream (tt/bb/tb/bt); codecs that cannot code interlaced video
 *   are progressive; when the stream does not say, `idet` over the first frames decides.
 * - The nominal frame rate of a variable-rate source (phones) is the HIGHEST rate it really
 *   uses, so encoding at it duplicates frames and never drops one. It is found from the
 *   packet timestamps of the first minutes (ffprobe, no decoding): the smallest frame interval
 *   that is common (not a glitch), averaged over its neighbours so millisecond-rounded
 *   timestamps (Matroska) still give 29.97 and 120. Jittery timestamps make some intervals
 *   short, so the most frames any 2 s hold bounds it from above. r_frame_rate alone is not
 *   enough: it is the rate of the time base (often 30 for a 30+24 fps mp4, but the average in
 *   a .mkv).
 */
import { runFfmpeg, safeInputArgs } from './ffmpeg.js';
import type { DynamicRange, FieldOrder } from './types.js';

/** The ffprobe stream fields read here. */
export interface FfprobeVideoFields {
  index: number;
  codec_name?: string;
  color_transfer?: string;
  field_order?: string;
  sample_aspect_ratio?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  side_data_list?: { side_data_type?: string; dv_profile?: number; dv_bl_signal_compatibility_id?: number }[];
}

const TRANSFER_RANGES: Readonly<Record<string, DynamicRange>> = {
  'arib-std-b67': 'HLG',
  smpte2084: 'PQ',
};

/** HLG, PQ or SDR; Dolby Vision 8.4 (HLG base layer) is HLG. */
export function dynamicRangeOf(stream: Pick<FfprobeVideoFields, 'color_transfer' | 'side_data_list'>): DynamicRange {
  const tagged = stream.color_transfer ? TRANSFER_RANGES[stream.color_transfer] : undefined;
  if (tagged) return tagged;
  const dovi = stream.side_data_list?.find((s) => s.side_data_type === 'DOVI configuration record');
  if (dovi?.dv_profile === 8 && dovi.dv_bl_signal_compatibility_id === 4) return 'HLG';
  if (dovi?.dv_profile === 8 && dovi.dv_bl_signal_compatibility_id === 1) return 'PQ';
  return 'SDR';
}

/** ffprobe field_order → the order fields are DISPLAYED in ("tb" = top coded first, bottom shown first). */
const FIELD_ORDERS: Readonly<Record<string, FieldOrder>> = { progressive: 'progressive', tt: 'tff', bt: 'tff', bb: 'bff', tb: 'bff' };
/** Codecs with no interlaced coding tools: never worth an idet pass. */
const PROGRESSIVE_CODECS: ReadonlySet<string> = new Set(['vp8', 'vp9', 'av1', 'theora', 'flv1', 'h263', 'h263p']);

/** The field order the stream declares, or null when it does not say. */
export function declaredFieldOrder(stream: Pick<FfprobeVideoFields, 'field_order' | 'codec_name'>): FieldOrder | null {
  if (PROGRESSIVE_CODECS.has(stream.codec_name ?? '')) return 'progressive';
  return FIELD_ORDERS[stream.field_order ?? ''] ?? null;
}

/** Frames idet looks at when the stream does not declare its field order. */
const IDET_FRAMES = 120;

/** Runs `idet` over the first frames; interlaced when most decided frames are. */
export async function detectFieldOrder(ffmpegPath: string, file: string, signal?: AbortSignal): Promise<FieldOrder> {
  const counts = { tff: 0, bff: 0, progressive: 0 };
  await runFfmpeg(
    ffmpegPath,
    ['-hide_banner', '-nostdin', ...safeInputArgs(file), '-an', '-sn', '-map', '0:v:0', '-vf', 'idet', '-frames:v', String(IDET_FRAMES), '-f', 'null', '-'],
    {
      signal,
      onStderrLine: (line) => {
        const m = /Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)/.exec(line);
        if (m) Object.assign(counts, { tff: Number(m[1]), bff: Number(m[2]), progressive: Number(m[3]) });
      },
    },
  );
  if (counts.tff + counts.bff <= counts.progressive) return 'progressive';
  return counts.tff >= counts.bff ? 'tff' : 'bff';
}

/** Pixel aspect (width of a pixel / its height); 1 when unknown or nonsense. */
export function sampleAspect(stream: Pick<FfprobeVideoFields, 'sample_aspect_ratio'>): number {
  const [w, h] = (stream.sample_aspect_ratio ?? '').split(':').map(Number);
  const sar = (w ?? 0) / (h ?? 0);
  return Number.isFinite(sar) && sar > 0.1 && sar < 10 ? sar : 1;
}

/** Rates cameras and editors really use: a measured rate this close to one is that one. */
const COMMON_RATES = [23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60, 90, 100, 119.88, 120, 240];
const SNAP_TOLERANCE = 0.03;
/** Intervals smaller than this share of all are glitches (a dropped timestamp, an edit point). */
const GLITCH_SHARE = 0.02;

/**
 * From a stream's presentation timestamps (seconds, any order): the highest frame rate it
 * really uses (`declared`, r_frame_rate, wins when it agrees) and its average rate; null with
 * too few frames to tell. The average is measured too because containers may declare one
 * they do not keep (a Matroska 30+24 fps file says avg_frame_rate=30).
 */
export function measureFrameRate(pts: readonly number[], declared: number | null): { nominal: number; average: number } | null {
  const sorted = [...pts].sort((a, b) => a - b);
  const intervals = sorted
    .slice(1)
    .map((t, i) => t - (sorted[i] ?? t))
    .filter((d) => d > 1e-4)
    .sort((a, b) => a - b);
  if (intervals.length < 4) return null;
  const anchor = intervals[Math.floor(intervals.length * GLITCH_SHARE)] ?? intervals[0]!;
  // 10% jitter plus 1.1 ms of rounding: 8/9 ms at 120 fps stay together, 60 and 50 fps do not.
  const cluster = intervals.filter((d) => d >= anchor * 0.95 && d <= anchor * 1.1 + 0.0011);
  const fromIntervals = cluster.length / cluster.reduce((sum, d) => sum + d, 0);
  const densest = densestRate(sorted);
  const average = intervals.length / intervals.reduce((sum, d) => sum + d, 0);
  return { nominal: nominalOf(fromIntervals > densest * 1.05 ? densest : fromIntervals, declared), average };
}

/** Seconds of the window the densest stretch of frames is counted in. */
const DENSEST_WINDOW_S = 2;

/** The most frames any DENSEST_WINDOW_S seconds hold, per second (the whole span for shorter sources). */
function densestRate(sorted: readonly number[]): number {
  const span = (sorted[sorted.length - 1] ?? 0) - (sorted[0] ?? 0);
  const window = Math.min(DENSEST_WINDOW_S, span);
  let most = 0;
  for (let first = 0, last = 0; first < sorted.length; first++) {
    while (last < sorted.length && sorted[last]! < sorted[first]! + window - 1e-6) last++;
    most = Math.max(most, last - first);
  }
  return most / window;
}

/** A measured rate as the rate it stands for: the declared one when they agree, else a common one when close. */
function nominalOf(measured: number, declared: number | null): number {
  if (declared !== null && Math.abs(declared - measured) / measured < 0.005) return declared;
  const nearest = COMMON_RATES.reduce((best, r) => (Math.abs(r - measured) < Math.abs(best - measured) ? r : best));
  if (Math.abs(nearest - measured) / measured < SNAP_TOLERANCE) return nearest;
  return Math.round(measured * 1000) / 1000;
}

/** Seconds of packets scanned for the nominal rate: bounded, so a long upload costs the same. */
const RATE_SCAN_SECONDS = 120;

/** Presentation timestamps (s) of the stream's packets in the first RATE_SCAN_SECONDS. */
export async function packetTimestamps(ffprobePath: string, file: string, streamIndex: number, signal?: AbortSignal): Promise<number[]> {
  const stdout = await runFfmpeg(ffprobePath, [
    '-v', 'error', '-select_streams', String(streamIndex), '-read_intervals', `%+${RATE_SCAN_SECONDS}`,
    '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', ...safeInputArgs(file),
  ], { signal });
  return stdout
    .split('\n')
    .map((line) => Number.parseFloat(line))
    .filter((t) => Number.isFinite(t));
}
