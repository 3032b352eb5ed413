/**
 * Tiny media files for the media tests, made with ffmpeg's lavfi sources (testsrc2 moves,
 * so every frame differs; sine gives a measurable loudness).
 */
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
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

/** A Matroska file with a subtitle stream and neither audio nor video. */
export async function makeSubtitlesOnly(dir: string): Promise<string> {
  const srt = path.join(dir, 'only.srt');
  await writeFile(srt, '1\n00:00:00,000 --> 00:00:01,000\nno picture, no sound\n');
  const file = path.join(dir, 'subtitles-only.mkv');
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-y', '-i', srt, '-c:s', 'srt', file]);
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

/** A video packet of a decoded segment. */
export interface PacketInfo {
  pts_time: number;
  keyframe: boolean;
}

/** Size and packets of a CMAF segment (probed as init + segment). */
export async function probeSegment(
  dir: string,
  initFile: string,
  segmentFile: string,
): Promise<{ width: number; height: number; packets: PacketInfo[]; rotation: boolean }> {
  const joined = path.join(dir, `probe-${path.basename(path.dirname(segmentFile))}-${path.basename(segmentFile)}.mp4`);
  await writeFile(joined, Buffer.concat([await readFile(initFile), await readFile(segmentFile)]));
  const { stdout } = await run(FFPROBE, [
    '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height:stream_side_data:packet=pts_time,flags',
    '-show_packets', '-of', 'json', joined,
  ]);
  await rm(joined);
  const out = JSON.parse(stdout) as {
    streams: { width: number; height: number; side_data_list?: unknown[] }[];
    packets: { pts_time: string; flags: string }[];
  };
  const stream = out.streams[0];
  return {
    width: stream?.width ?? 0,
    height: stream?.height ?? 0,
    rotation: Boolean(stream?.side_data_list?.length),
    packets: out.packets.map((p) => ({ pts_time: Number(p.pts_time), keyframe: p.flags.startsWith('K') })),
  };
}

/** Luma range (YMAX − YMIN) and size of an image, via signalstats. */
export async function imageStats(file: string): Promise<{ width: number; height: number; yrange: number }> {
  const { stderr } = await run(FFMPEG, ['-hide_banner', '-i', file, '-vf', 'signalstats,metadata=print', '-f', 'null', '-']);
  const ymin = Number(/YMIN=(\d+)/.exec(stderr)?.[1] ?? 0);
  const ymax = Number(/YMAX=(\d+)/.exec(stderr)?.[1] ?? 0);
  const size = /, (\d+)x(\d+)/.exec(stderr);
  return { width: Number(size?.[1] ?? 0), height: Number(size?.[2] ?? 0), yrange: ymax - ymin };
}
