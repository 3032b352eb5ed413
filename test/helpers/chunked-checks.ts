/**
 * What a chunked transcode must come out as, checked over HTTP like a player sees it:
 * every rendition's segments continuous on its timeline (tfdt of each = previous tfdt +
 * previous duration, parsed from the served bytes), one init segment per rung whose every
 * segment decodes (ffprobe counts the frames), the source's frame count and duration, each
 * segment's video bit rate within its rung's maxrate, and the audio decoding to the end.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { readInitTimescale, readSegmentTiming } from '../../core/media/fmp4.js';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../core/media/playlists.js';
import { FFMPEG, FFPROBE } from './media-fixtures.js';

const run = promisify(execFile);


async function bytes(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

export interface RenditionReport {
  uri: string;
  segments: number;
  seconds: number;
  /** Worst segment's bits per second. */
  peakBps: number;
  /** Where the timeline breaks (none when continuous). */
  breaks: string[];
}

/** Reads one rendition's segments and checks their timeline. */
export async function readRendition(playlistUrl: string): Promise<RenditionReport> {
  const playlist = parseMediaPlaylist((await bytes(playlistUrl)).toString('utf8'));
  const init = await bytes(new URL(playlist.initUri!, playlistUrl).href);
  const timescale = readInitTimescale(init)!;
  let expected = 0;
  let ticks = 0;
  let peakBps = 0;
  const breaks: string[] = [];
  for (const seg of playlist.segments) {
    const body = await bytes(new URL(seg.uri, playlistUrl).href);
    const timing = readSegmentTiming(body)!;
    if (timing.start !== expected) breaks.push(`${seg.uri} starts at ${timing.start}, expected ${expected}`);
    expected = timing.start + timing.duration;
    ticks += timing.duration;
    // A short last segment (a crumb under 0.5 s) says nothing about the rate.
    if (timing.duration / timescale >= 0.5) peakBps = Math.max(peakBps, (body.length * 8) / (timing.duration / timescale));
  }
  return { uri: playlistUrl, segments: playlist.segments.length, seconds: ticks / timescale, peakBps, breaks };
}

/** Frames ffprobe decodes from a playlist (every segment through its rung's one init). */
export async function decodedFrames(playlistUrl: string): Promise<number> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', playlistUrl]);
  return Number(stdout.trim().split('\n')[0]);
}

/** Seconds of audio ffmpeg decodes from a playlist. */
export async function decodedAudioSeconds(playlistUrl: string): Promise<number> {
  const { stderr } = await run(FFMPEG, ['-v', 'info', '-i', playlistUrl, '-map', '0:a:0', '-f', 'null', '-'], { maxBuffer: 1 << 24 });
  let last = 0;
  for (const m of stderr.matchAll(/time=(\d+):(\d+):([\d.]+)/g)) last = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  return last;
}

export interface ChunkedExpectation {
  frames: number;
  seconds: number;
  /** Rung name → its configured video_kbps (maxrate is 1.1 ×). */
  videoKbps: Record<string, number>;
}

/** Checks a published version's master and everything it names; returns the per-rendition reports. */
export async function checkChunkedVersion(t: Test, masterUrl: string, want: ChunkedExpectation): Promise<RenditionReport[]> {
  const master = parseMasterPlaylist((await bytes(masterUrl)).toString('utf8'));
  const reports: RenditionReport[] = [];
  for (const variant of master.variants) {
    const url = new URL(variant.uri, masterUrl).href;
    const name = variant.uri.split('/')[0]!;
    const report = await readRendition(url);
    reports.push(report);
    t.equal(report.breaks.join('; '), '', `${name}: every segment starts where the one before ends (${report.segments} segments)`);
    t.ok(Math.abs(report.seconds - want.seconds) < 0.001, `${name}: ${report.seconds} s of video, as the source`);
    const maxrate = (want.videoKbps[name] ?? 0) * 1.1 * 1000;
    t.ok(report.peakBps <= maxrate, `${name}: peak segment ${Math.round(report.peakBps / 1000)} kb/s within maxrate ${maxrate / 1000} kb/s`);
    t.equal(await decodedFrames(url), want.frames, `${name}: every frame decodes (${want.frames})`);
  }
  for (const media of master.media.filter((m) => m.type === 'AUDIO' && m.uri)) {
    const url = new URL(media.uri!, masterUrl).href;
    const report = await readRendition(url);
    reports.push(report);
    t.equal(report.breaks.join('; '), '', `audio ${media.name}: continuous (${report.segments} segments)`);
    const decoded = await decodedAudioSeconds(url);
    t.ok(Math.abs(decoded - want.seconds) < 0.1, `audio ${media.name}: decodes for ${decoded} s`);
  }
  return reports;
}

export const CHUNKED_LADDER = [
  { name: '240p', height: 240, video_kbps: 300 },
  { name: '360p', height: 360, video_kbps: 600 },
];
export const CHUNKED_CONFIG = { transcode: { chunk_min_s: 10, chunk_s: 8, ladder: CHUNKED_LADDER } };

/** A 24 s 360p clip with sound whose keyframes fall every 2 s (as a phone's or OBS's do). */
export async function makeChunkableSource(dir: string): Promise<string> {
  const file = join(dir, 'long.mp4');
  await run(FFMPEG, [
    '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', '24', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '60', '-c:a', 'aac', '-b:a', '96k', file,
  ]);
  return file;
}

