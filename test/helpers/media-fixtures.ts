/**
 * Tiny media files for the media tests, made with ffmpeg's lavfi sources (testsrc2 moves,
 * so every frame differs; sine gives a measurable loudness).
 */
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
export const FFPROBE = process.env.FFPROBE_PATH ?? 'ffprobe';

/** A generated clip. */
export interface ClipOptions {
  width: number;
  height: number;
  seconds: number;
  fps?: number;
  /** Add a 440 Hz sine track (default true). */
  audio?: boolean;
  /**
   * Written as the legacy rotate tag, which ffmpeg 5.1 turns into a display matrix (that
   * ffmpeg itself then reads as the opposite turn): expect a quarter turn, either way.
   */
  rotate?: 90 | 180 | 270;
  /** Video encoder (default libx264 ultrafast); e.g. "png" for an unsupported codec. */
  videoCodec?: string;
  /** File name inside dir (extension picks the container); default clip.mp4. */
  name?: string;
}

/** Generates a test clip and returns its path. */
export async function makeClip(dir: string, opts: ClipOptions): Promise<string> {
  const file = path.join(dir, opts.name ?? 'clip.mp4');
  const fps = opts.fps ?? 30;
  const args = ['-hide_banner', '-v', 'error', '-y'];
  args.push('-f', 'lavfi', '-i', `testsrc2=size=${opts.width}x${opts.height}:rate=${fps}`);
  if (opts.audio !== false) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100');
  args.push('-t', String(opts.seconds));
  const codec = opts.videoCodec ?? 'libx264';
  args.push('-c:v', codec, ...(codec === 'libx264' ? ['-preset', 'ultrafast', '-pix_fmt', 'yuv420p'] : []));
  if (opts.audio !== false) args.push('-c:a', 'aac', '-b:a', '96k');
  if (!opts.rotate) {
    await run(FFMPEG, [...args, file]);
    return file;
  }
  // ffmpeg 5.1 writes a display matrix from the legacy rotate tag only when stream-copying.
  const plain = `${file}.plain${path.extname(file)}`;
  await run(FFMPEG, [...args, plain]);
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-y', '-i', plain, '-c', 'copy', '-metadata:s:v:0', `rotate=${opts.rotate}`, file]);
  await rm(plain);
  return file;
}

/** An audio-only AAC file in an MP4 (.m4a) container. */
export async function makeAudioOnly(dir: string, seconds = 2): Promise<string> {
  const file = path.join(dir, 'audio.m4a');
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', String(seconds), '-c:a', 'aac', file]);
  return file;
}

/** A single PNG image. */
export async function makePng(dir: string): Promise<string> {
  const file = path.join(dir, 'image.png');
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=64x48', '-frames:v', '1', file]);
  return file;
}

/** A plain text file. */
export async function makeTextFile(dir: string): Promise<string> {
  const file = path.join(dir, 'notes.txt');
  await writeFile(file, 'this is not a video\n'.repeat(50));
  return file;
}

/** An HLS playlist (named like a video) whose segments are local files. */
export async function makeHlsPlaylist(dir: string, targets: string[], name = 'evil.m3u8'): Promise<string> {
  const file = path.join(dir, name);
  const body = ['#EXTM3U', '#EXT-X-TARGETDURATION:10', ...targets.flatMap((t) => ['#EXTINF:2,', t]), '#EXT-X-ENDLIST', ''];
  await writeFile(file, body.join('\n'));
  return file;
}

/** An ffconcat list (named like a video) naming local files. */
export async function makeConcatList(dir: string, targets: string[], name = 'evil-concat.mp4'): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, ['ffconcat version 1.0', ...targets.map((t) => `file '${t}'`), ''].join('\n'));
  return file;
}
