/**
 * Audio test media and measurements: sources with several tagged audio tracks (each a sine
 * of its own frequency, so a rendition can be traced back to its track), audio-only files
 * with or without cover art, and the decoding side (dominant frequency by Goertzel over
 * decoded PCM, channel count, colour of a picture).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseMediaPlaylist } from '../../core/media/playlists.js';
import { FFMPEG, FFPROBE } from './media-fixtures.js';

const run = promisify(execFile);
const RATE = 48_000;

/** One source audio track. */
export interface TrackSpec {
  frequency: number;
  language?: string;
  title?: string;
  /** 1 (default), 2, 6 (5.1) or 8 (7.1): every channel carries the sine. */
  channels?: 1 | 2 | 6 | 8;
  /** Linear amplitude (default 0.5). */
  amplitude?: number;
}

export interface MultiAudioOptions {
  tracks: TrackSpec[];
  /** Index of the track flagged default (others are unflagged); none flagged when absent. */
  defaultTrack?: number;
  seconds: number;
  /** Add a 160x120 30 fps testsrc2 video (default true). */
  video?: boolean;
  /** File name; the extension picks the container (default multi.mkv). */
  name?: string;
  /** Audio encoder (default aac). */
  audioCodec?: string;
}

const LAYOUTS: Record<number, string> = { 1: 'mono', 2: 'stereo', 6: '5.1', 8: '7.1' };

/** A source with the given audio tracks (and a small video unless `video: false`). */
export async function makeMultiAudio(dir: string, opts: MultiAudioOptions): Promise<string> {
  const file = path.join(dir, opts.name ?? 'multi.mkv');
  const args = ['-hide_banner', '-v', 'error', '-y'];
  const video = opts.video !== false;
  if (video) args.push('-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=30');
  for (const t of opts.tracks) {
    const channels = t.channels ?? 1;
    const wave = `${t.amplitude ?? 0.5}*sin(${t.frequency}*2*PI*t)`;
    args.push('-f', 'lavfi', '-i', `aevalsrc=${Array(channels).fill(wave).join('|')}:c=${LAYOUTS[channels]}:s=${RATE}`);
  }
  args.push('-t', String(opts.seconds));
  const first = video ? 1 : 0;
  if (video) args.push('-map', '0:v', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  opts.tracks.forEach((t, i) => {
    args.push('-map', `${first + i}:a`);
    if (t.language) args.push(`-metadata:s:a:${i}`, `language=${t.language}`);
    if (t.title) args.push(`-metadata:s:a:${i}`, `title=${t.title}`);
    args.push(`-disposition:a:${i}`, i === opts.defaultTrack ? 'default' : '0');
  });
  args.push('-c:a', opts.audioCodec ?? 'aac', file);
  await run(FFMPEG, args);
  return file;
}

/** An audio-only file: a sine, with a solid-colour cover picture (attached_pic) when `cover` is given. */
export async function makeAudioFile(
  dir: string,
  name: string,
  opts: { frequency?: number; seconds?: number; cover?: string; codec?: string[] } = {},
): Promise<string> {
  const file = path.join(dir, name);
  const args = ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${opts.frequency ?? 440}:sample_rate=44100`];
  if (opts.cover) args.push('-f', 'lavfi', '-i', `color=c=${opts.cover}:s=320x320`);
  args.push('-t', String(opts.seconds ?? 2), '-map', '0:a', ...(opts.codec ?? []));
  if (opts.cover) args.push('-map', '1:v', '-frames:v', '1', '-c:v', 'mjpeg', '-disposition:v', 'attached_pic');
  await run(FFMPEG, [...args, file]);
  return file;
}

/** The init segment and every media segment of a rendition directory, joined into one playable file. */
export async function joinRendition(outDir: string, name: string, dest: string): Promise<string> {
  const dir = path.join(outDir, name);
  const playlist = parseMediaPlaylist(await readFile(path.join(dir, 'index.m3u8'), 'utf8'));
  const parts = [playlist.initUri!, ...playlist.segments.map((s) => s.uri)];
  await writeFile(dest, Buffer.concat(await Promise.all(parts.map((p) => readFile(path.join(dir, p))))));
  return dest;
}

/** Decoded mono PCM (float, 48 kHz) of a media file's first audio stream. */
async function decodeMono(file: string): Promise<Float32Array> {
  const { stdout } = await run(FFMPEG, ['-v', 'error', '-i', file, '-map', '0:a:0', '-ac', '1', '-ar', String(RATE), '-f', 'f32le', '-'], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  const copy = Buffer.from(stdout);
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

/** Power of one frequency in a signal (Goertzel). */
function goertzel(samples: Float32Array, frequency: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * frequency) / RATE);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/** Which of `candidates` (Hz) dominates a file's audio. */
export async function dominantFrequency(file: string, candidates: readonly number[]): Promise<number> {
  const samples = await decodeMono(file);
  let best = candidates[0]!;
  let bestPower = -1;
  for (const f of candidates) {
    const power = goertzel(samples, f);
    if (power > bestPower) [best, bestPower] = [f, power];
  }
  return best;
}

/** Channel count of a media file's first audio stream. */
export async function audioChannels(file: string): Promise<number> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=channels', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

/** Size of a picture and its mean colour (RGB 0–255). */
export async function pictureInfo(file: string): Promise<{ width: number; height: number; rgb: [number, number, number] }> {
  const { stdout: size } = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', file]);
  const [width, height] = size.trim().split(',').map(Number);
  const { stdout } = await run(FFMPEG, ['-v', 'error', '-i', file, '-vf', 'scale=1:1:flags=area', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    encoding: 'buffer',
  });
  return { width: width ?? 0, height: height ?? 0, rgb: [stdout[0] ?? 0, stdout[1] ?? 0, stdout[2] ?? 0] };
}

/** Sum of a media playlist's EXTINF durations and its last segment's, in seconds. */
export async function playlistDurations(outDir: string, name: string): Promise<{ total: number; last: number; count: number }> {
  const { segments } = parseMediaPlaylist(await readFile(path.join(outDir, name, 'index.m3u8'), 'utf8'));
  return {
    total: segments.reduce((sum, s) => sum + s.duration, 0),
    last: segments[segments.length - 1]?.duration ?? 0,
    count: segments.length,
  };
}
