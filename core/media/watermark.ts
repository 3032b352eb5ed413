/*
 * The watermark: an operator's PNG/JPEG burned into every rung of a video, at the rung's own
 * size, in the one ladder pass (transcode-command.ts). `transcode.watermark` in the config
 * names the image and its default placement; a video may turn it off or move it (its
 * `videos.watermark` column holds the override as JSON: `false`, or a placement to merge).
 * The image is always the operator's file: a client can never name a path.
 *
 *   [1:v] (the image, one frame) → rgba, alpha × opacity → split ─┬→ scale to rung 0 → [m0]
 *                                                                 └→ …
 *   [s0] (the source, split) → scale WxH, setsar=1 ─→ overlay [m0] at the corner → pixel format → [v0]
 *
 * Sizes are relative to the rung, so the mark covers the same share of the picture on every
 * rendition: its width is `scale` × the rung's width (its height keeps the image's aspect),
 * its distance from both edges is `margin` × the rung's height. overlay repeats the image's
 * only frame for the whole video (its default eof_action).
 *
 * A clip (vod-clip.ts) needs nothing of this: its edges are re-encoded from the parent's
 * renditions, which already carry the parent's mark.
 */
import { execFile } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { runFfmpeg } from './ffmpeg.js';
import type { Rung } from './types.js';

const run = promisify(execFile);

export const WATERMARK_CORNERS = ['top-left', 'top-right', 'bottom-left', 'bottom-right'] as const;
export type WatermarkCorner = (typeof WATERMARK_CORNERS)[number];

/** The largest watermark file accepted, bytes: a logo, not a picture. */
export const MAX_WATERMARK_BYTES = 1024 * 1024;
/** The largest watermark image accepted, pixels per side. */
export const MAX_WATERMARK_SIDE = 2048;

/** Where and how the mark sits on a picture; every size is relative to the rung. */
export const watermarkPlacement = z.object({
  corner: z.enum(WATERMARK_CORNERS),
  /** Distance from the two nearest edges, as a fraction of the rung's height. */
  margin: z.number().min(0).max(0.25),
  /** 0 (invisible) to 1 (opaque); multiplies the image's own alpha. */
  opacity: z.number().min(0).max(1),
  /** The mark's width as a fraction of the rung's width. */
  scale: z.number().min(0.01).max(1),
});
export type WatermarkPlacement = z.infer<typeof watermarkPlacement>;

/**
 * A video's override on the API (`watermark` on POST/PATCH /v1/videos): `false` = no mark on
 * this video, `null` = back to the configuration, or placement fields to change. There is no
 * `image` key on purpose (strict: naming one is refused).
 */
export const watermarkOverride = z.union([z.literal(false), z.null(), watermarkPlacement.partial().strict()]);
export type WatermarkOverride = z.infer<typeof watermarkOverride>;

/** The operator's image, checked (inspectWatermarkImage). */
export interface WatermarkImage {
  /** Absolute path of the file. */
  file: string;
  /** The one ffmpeg demuxer that reads it. */
  demuxer: 'png_pipe' | 'jpeg_pipe';
  width: number;
  height: number;
}

/** A mark to burn into a transcode: the image and where it goes. Structured-clone safe. */
export interface WatermarkSpec extends WatermarkPlacement {
  image: WatermarkImage;
}

/** Why a watermark image was refused. */
export class WatermarkImageError extends Error {
  override name = 'WatermarkImageError';
}

/** The demuxer of an image by its first bytes; null for anything but PNG and JPEG. */
function demuxerOf(head: Buffer): WatermarkImage['demuxer'] | null {
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png_pipe';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg_pipe';
  return null;
}

function imageInput(image: Pick<WatermarkImage, 'file' | 'demuxer'>): string[] {
  return ['-protocol_whitelist', 'file', '-f', image.demuxer, '-i', `file:${image.file}`];
}

/**
 * Checks the operator's watermark file: readable, at most MAX_WATERMARK_BYTES, a PNG or JPEG
 * (by its bytes, then opened with that demuxer only), at most MAX_WATERMARK_SIDE pixels a
 * side, and decodable. Throws WatermarkImageError saying what is wrong.
 */
export async function inspectWatermarkImage(bins: { ffmpegPath: string; ffprobePath: string }, file: string): Promise<WatermarkImage> {
  const absolute = path.resolve(file);
  let size: number;
  const head = Buffer.alloc(8);
  try {
    const info = await stat(absolute);
    if (!info.isFile()) throw new Error('not a regular file');
    size = info.size;
    const handle = await open(absolute, 'r');
    try {
      await handle.read(head, 0, 8, 0);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new WatermarkImageError(`${absolute} cannot be read: ${(err as Error).message}`);
  }
  if (size > MAX_WATERMARK_BYTES) throw new WatermarkImageError(`${absolute} is ${size} bytes, over the ${MAX_WATERMARK_BYTES} allowed for a watermark`);
  const demuxer = demuxerOf(head);
  if (!demuxer) throw new WatermarkImageError(`${absolute} is not a PNG or JPEG image`);
  const image = { file: absolute, demuxer };
  let stream: { codec_type?: string; width?: number; height?: number } | undefined;
  try {
    const { stdout } = await run(
      bins.ffprobePath,
      ['-v', 'error', ...imageInput(image).slice(0, 4), '-show_entries', 'stream=codec_type,width,height', '-of', 'json', `file:${absolute}`],
      { timeout: 10_000 },
    );
    stream = (JSON.parse(stdout) as { streams?: (typeof stream)[] }).streams?.[0];
  } catch {
    stream = undefined;
  }
  if (stream?.codec_type !== 'video' || !stream.width || !stream.height) throw new WatermarkImageError(`${absolute} is not a readable ${demuxer === 'png_pipe' ? 'PNG' : 'JPEG'} image`);
  if (stream.width > MAX_WATERMARK_SIDE || stream.height > MAX_WATERMARK_SIDE) {
    throw new WatermarkImageError(`${absolute} is ${stream.width}x${stream.height}, over the ${MAX_WATERMARK_SIDE}x${MAX_WATERMARK_SIDE} allowed for a watermark`);
  }
  try {
    await runFfmpeg(bins.ffmpegPath, ['-hide_banner', '-nostdin', '-v', 'error', ...imageInput(image), '-frames:v', '1', '-f', 'null', '-']);
  } catch (err) {
    throw new WatermarkImageError(`${absolute} cannot be decoded: ${(err as Error).message.slice(0, 300)}`);
  }
  return { ...image, width: stream.width, height: stream.height };
}

/** A stored override (the `videos.watermark` column) as the API took it; null = none. */
export function storedWatermarkOverride(json: string | null): WatermarkOverride {
  if (json === null) return null;
  const parsed = watermarkOverride.safeParse(JSON.parse(json));
  return parsed.success ? parsed.data : null;
}

/** The configured placement with a video's override applied; null when the video turned the mark off. */
export function resolveWatermark(configured: WatermarkPlacement, override: WatermarkOverride): WatermarkPlacement | null {
  if (override === false) return null;
  return { ...configured, ...(override ?? {}) };
}

/** The mark's size and position on one rung, in pixels (even sizes: chroma stays aligned). */
export function markGeometry(mark: WatermarkSpec, rung: Pick<Rung, 'width' | 'height'>): { width: number; height: number; x: number; y: number } {
  const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);
  const width = even(rung.width * mark.scale);
  const height = even((width * mark.image.height) / mark.image.width);
  const margin = Math.round(rung.height * mark.margin);
  const right = mark.corner.endsWith('right');
  const bottom = mark.corner.startsWith('bottom');
  return {
    width,
    height,
    x: right ? Math.max(0, rung.width - width - margin) : margin,
    y: bottom ? Math.max(0, rung.height - height - margin) : margin,
  };
}

/** Input arguments of the mark (add after the source; its index is the `input` of rungChains). */
export function watermarkInputArgs(mark: WatermarkSpec): string[] {
  return imageInput(mark.image);
}

/**
 * Each rung's chain from its split branch `[s{i}]` to `[v{i}]`: scaled to the rung, the mark
 * (ffmpeg input `input`) overlaid when there is one, then the encoder's pixel format.
 */
export function rungChains(ladder: readonly Pick<Rung, 'width' | 'height'>[], pixelFilter: string, mark: WatermarkSpec | null, input: number): string[] {
  const scaled = (r: Pick<Rung, 'width' | 'height'>) => `scale=${r.width}:${r.height},setsar=1`;
  if (!mark) return ladder.map((r, i) => `[s${i}]${scaled(r)},${pixelFilter}[v${i}]`);
  const marks = ladder.map((_, i) => `[wm${i}]`).join('');
  const head = `[${input}:v]format=rgba,colorchannelmixer=aa=${mark.opacity}${ladder.length > 1 ? `,split=${ladder.length}${marks}` : marks}`;
  return [
    head,
    ...ladder.flatMap((r, i) => {
      const g = markGeometry(mark, r);
      return [
        `[wm${i}]scale=${g.width}:${g.height}[m${i}]`,
        `[s${i}]${scaled(r)}[b${i}]`,
        `[b${i}][m${i}]overlay=x=${g.x}:y=${g.y},${pixelFilter}[v${i}]`,
      ];
    }),
  ];
}
