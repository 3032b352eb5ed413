/*
 * The rendition ladder for one source. Rungs are gated by the source's SHORT side so a
 * portrait phone video (1080x1920) gets the same ladder as a landscape 1080p one, with the
 * rung's height applied to the short side and the output kept portrait. Sizes are even (x264
 * with 4:2:0 needs it) and computed here, so the encoder never picks a non-square SAR.
 */
import type { ProbeResult, Rung } from './types.js';

/** A configured rung (config `transcode.ladder`). */
export interface RungSpec {
  name: string;
  height: number;
  video_kbps: number;
}

const MIN_KBPS = 64;

function even(n: number): number {
  return Math.max(2, Math.round(n / 2) * 2);
}

function sized(name: string, short: number, aspect: number, portrait: boolean, video_kbps: number): Rung {
  const long = even(short * aspect);
  return portrait ? { name, width: short, height: long, video_kbps } : { name, width: long, height: short, video_kbps };
}

/**
 * Rungs not above the source's short side, smallest first. A source below the lowest rung
 * gets one rendition at its own (even) size, named after its short side ("144p"), with the
 * lowest rung's bitrate scaled by area.
 */
export function buildLadder(probe: Pick<ProbeResult, 'width' | 'height'>, rungs: readonly RungSpec[]): Rung[] {
  const srcShort = Math.min(probe.width, probe.height);
  const aspect = Math.max(probe.width, probe.height) / srcShort;
  const portrait = probe.height > probe.width;
  const sorted = [...rungs].sort((a, b) => a.height - b.height);
  const fitting = sorted.filter((r) => r.height <= srcShort);
  if (fitting.length > 0) {
    return fitting.map((r) => sized(r.name, even(r.height), aspect, portrait, r.video_kbps));
  }
  const lowest = sorted[0];
  if (!lowest) throw new Error('the ladder has no rungs');
  const short = Math.max(2, Math.floor(srcShort / 2) * 2);
  const kbps = Math.max(MIN_KBPS, Math.round(lowest.video_kbps * (short / lowest.height) ** 2));
  return [sized(`${short}p`, short, aspect, portrait, kbps)];
}
