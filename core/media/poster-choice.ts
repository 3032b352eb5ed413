/*
 * A chosen poster (POST /v1/videos/:id/poster): a frame of the video's own top rendition at
 * a given time, or an uploaded JPEG/PNG. An upload is untrusted: it is opened only with the
 * demuxer its type names (no format probing, no other protocol), its size is checked with
 * ffprobe before it is decoded, and it is written again as a new JPEG no larger than the
 * video's top rung (metadata, ICC profiles and anything appended to the file are dropped).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { AppError } from '../errors.js';
import { runFfmpeg } from './ffmpeg.js';

const run = promisify(execFile);

/** The image types accepted, by Content-Type, with the one ffmpeg demuxer that may read each. */
export const POSTER_IMAGE_TYPES = { 'image/jpeg': 'jpeg_pipe', 'image/png': 'png_pipe' } as const;
export type PosterImageType = keyof typeof POSTER_IMAGE_TYPES;

export function isPosterImageType(type: string): type is PosterImageType {
  return Object.hasOwn(POSTER_IMAGE_TYPES, type);
}

const JPEG_QUALITY = '3';

function fitFilter(box: { width: number; height: number }): string {
  return `scale=w=${box.width}:h=${box.height}:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1,format=yuvj420p`;
}

/**
 * Re-encodes an uploaded image as the poster JPEG, at most `box` in size. E_NOT_MEDIA when it
 * is not a decodable image of its type, E_BAD_REQUEST when it has more pixels than `maxPixels`.
 */
export async function reencodePosterImage(
  bins: { ffmpegPath: string; ffprobePath: string },
  file: string,
  type: PosterImageType,
  outFile: string,
  opts: { box: { width: number; height: number }; maxPixels: number },
): Promise<void> {
  const input = ['-protocol_whitelist', 'file', '-f', POSTER_IMAGE_TYPES[type], '-i', `file:${path.resolve(file)}`];
  let size: { width?: number; height?: number } | undefined;
  try {
    const { stdout } = await run(bins.ffprobePath, ['-v', 'error', ...input.slice(0, 4), '-show_entries', 'stream=width,height', '-of', 'json', input[5]!], { timeout: 10_000 });
    size = (JSON.parse(stdout) as { streams?: { width?: number; height?: number }[] }).streams?.[0];
  } catch {
    size = undefined;
  }
  if (!size?.width || !size.height) throw new AppError('E_NOT_MEDIA', `the file is not a ${type} image`);
  if (size.width * size.height > opts.maxPixels) {
    throw new AppError('E_BAD_REQUEST', `the image is ${size.width}x${size.height}, over the ${opts.maxPixels} pixels allowed`);
  }
  try {
    await runFfmpeg(bins.ffmpegPath, ['-hide_banner', '-nostdin', '-y', '-v', 'error', ...input, '-frames:v', '1', '-vf', fitFilter(opts.box), '-q:v', JPEG_QUALITY, '-map_metadata', '-1', outFile]);
  } catch (err) {
    throw new AppError('E_NOT_MEDIA', `the ${type} image cannot be decoded`, { cause: err });
  }
}

/** Writes the frame `offset_s` into `input` (a rendition's init followed by one segment) as the poster JPEG. */
export async function extractPosterFrame(ffmpegPath: string, input: string, offset_s: number, outFile: string): Promise<void> {
  await runFfmpeg(ffmpegPath, [
    '-hide_banner', '-nostdin', '-y', '-v', 'error',
    '-protocol_whitelist', 'file', '-f', 'mp4', '-i', `file:${path.resolve(input)}`,
    // Output seeking: decode from the segment's keyframe, keep the first frame at the time.
    '-ss', Math.max(0, offset_s).toFixed(3), '-frames:v', '1', '-update', '1', '-vf', 'setsar=1', '-q:v', JPEG_QUALITY, outFile,
  ]);
}
