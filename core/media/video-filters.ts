/*
 * The filters that turn a source's pictures into what every output shows (the ladder's
 * rungs, the storyboard and the poster): progressive frames, at a constant rate, in BT.709
 * SDR. They run ONCE per decoded frame, before the ladder's split, so the one-pass cost stays
 * that of one tone-map whatever the number of rungs.
 *
 * Decisions:
 * - Interlaced sources: bwdif, one frame per field (50i → 50p), so motion stays as smooth as
 *   the source; the field order comes from the probe.
 * - Frame rate: the source's nominal rate (for deinterlaced video, its field rate) divided by
 *   the smallest integer that brings it to `max_fps` or below: 120 → 60, 119.88 → 59.94,
 *   100 → 50. Dropping every other frame keeps motion even; 120 → 60 by `fps=60` would too,
 *   but 100 → 60 would judder.
 * - HDR → SDR: zscale to linear light (nominal peak 100 nits, so HLG's and PQ's reference white
 *   lands near SDR white), BT.2020 → BT.709 primaries, mobius tone curve (linear below its knee,
 *   so colours keep their saturation; hable made testsrc2 clearly darker), BT.709 transfer and
 *   matrix, limited range. The first zscale also resizes to the largest output size, so a 4K
 *   source is tone-mapped at the top rung's size, not at 4K. The encoders are told BT.709
 *   explicitly (SDR_TAGS): ffmpeg 5.1 copies the decoder's colour tags to the encoder otherwise.
 */
import type { DynamicRange, FieldOrder, ProbeResult } from './types.js';

/** Config `transcode.max_fps` default. */
export const DEFAULT_MAX_FPS = 60;

/** Frames per second the ladder is encoded at (see the file comment). */
export function outputFrameRate(probe: Pick<ProbeResult, 'fps' | 'field_order'>, maxFps: number = DEFAULT_MAX_FPS): number {
  const rate = probe.field_order === 'progressive' ? probe.fps : probe.fps * 2;
  const divisor = Math.max(1, Math.ceil(rate / maxFps - 1e-9));
  return Math.round((rate / divisor) * 1000) / 1000;
}

/** Transfer characteristics zscale reads HDR sources with (named explicitly: a Dolby Vision 8.4 file may not tag it). */
const HDR_TRANSFER: { [R in Exclude<DynamicRange, 'SDR'>]: string } = {
  HLG: 'arib-std-b67',
  PQ: 'smpte2084',
};

/** The tone-map to BT.709 SDR (yuv420p), resizing to `size` on the way; null for SDR sources. */
export function toneMapFilter(range: DynamicRange, size?: { width: number; height: number }): string | null {
  if (range === 'SDR') return null;
  const resize = size ? `w=${size.width}:h=${size.height}:` : '';
  return (
    `zscale=${resize}tin=${HDR_TRANSFER[range]}:pin=bt2020:min=bt2020nc:t=linear:npl=100,format=gbrpf32le,` +
    'zscale=p=bt709,tonemap=mobius:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p'
  );
}

/** bwdif, one output frame per field; null for progressive sources. */
export function deinterlaceFilter(order: FieldOrder): string | null {
  return order === 'progressive' ? null : `bwdif=mode=send_field:parity=${order}:deint=all`;
}

/** Output options tagging the video BT.709 SDR (used when a source was tone-mapped). */
export const SDR_TAGS: readonly string[] = ['-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709', '-color_range', 'tv'];

/**
 * The chain from decoded source frames to progressive, constant-rate (when `rate` is given)
 * BT.709 SDR pictures; `size` is where an HDR source is tone-mapped (SDR ones keep their size).
 * Empty for a progressive SDR source without a rate.
 */
export function sourcePictureFilters(
  probe: Pick<ProbeResult, 'dynamic_range' | 'field_order'>,
  opts: { rate?: string; size?: { width: number; height: number } } = {},
): string[] {
  return [
    deinterlaceFilter(probe.field_order),
    opts.rate ? `fps=${opts.rate}` : null,
    toneMapFilter(probe.dynamic_range, opts.size),
  ].filter((f): f is string => f !== null);
}
