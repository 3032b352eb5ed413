/*
 * Measures what the ladder wrote (segment sizes, real timings, the codec in each init) and
 * writes master.m3u8 and master.mpd from it. The worker calls writeLadderManifests() once the
 * pass is done; the instant-publish sync calls hlsMasterFromFiles() while the ladder grows.
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildDashManifest, numberTemplate, type DashRepresentation } from './dash-manifest.js';
import { readInitTimescale, readInitVideoCodec, readSegmentTiming } from './fmp4.js';
import { audioGroups, buildHlsMaster, groupDefault, variantBandwidth, type MasterAudio, type MasterVideo } from './hls-master.js';
import { parseMediaPlaylist } from './playlists.js';
import { MASTER_PLAYLIST, MEDIA_PLAYLIST, audioRenditionsFor, fpsRational } from './transcode-command.js';
import type { AudioRenditionInfo, RenditionInfo, Rung, TranscodeTask } from './types.js';
import { outputFrameRate } from './video-filters.js';

/** What a version's ladder consists of: the inputs of both manifests besides the files. */
export interface LadderLayout {
  video: Pick<Rung, 'name' | 'width' | 'height'>[];
  /** Output frames per second (outputFrameRate: 29.97 for NTSC). */
  frameRate: number;
  /** Every rung is BT.709 SDR (HDR sources are tone-mapped). */
  videoRange: NonNullable<RenditionInfo['video_range']>;
  audio: AudioRenditionInfo[];
  segmentSeconds: number;
}

/** Used when an init segment cannot be read (it always can for H.264 from our ladder). */
const FALLBACK_VIDEO_CODEC = 'avc1.640028';
export const MPD_FILE = 'master.mpd';

/**
 * The layout of the one-pass ladder: every rung (none for an audio-only source), at the output
 * frame rate, SDR, and every kept source audio track as stereo AAC plus a surround rendition
 * for 5.1/7.1 (audio-renditions.ts).
 */
export function ladderLayout(
  task: Pick<TranscodeTask, 'ladder' | 'probe' | 'audioKbps' | 'maxAudioTracks' | 'segmentSeconds' | 'maxFps'>,
): LadderLayout {
  const audio = audioRenditionsFor(task);
  return {
    video: task.probe.has_video ? task.ladder.map(({ name, width, height }) => ({ name, width, height })) : [],
    frameRate: outputFrameRate(task.probe, task.maxFps),
    videoRange: 'SDR',
    audio,
    segmentSeconds: task.segmentSeconds,
  };
}

/** One media segment as written: its name, size and place on the track's timeline. */
export interface MeasuredSegment {
  uri: string;
  bytes: number;
  /** Seconds. */
  duration: number;
  /** tfdt, in the track's timescale. */
  start: number;
  /** Sample durations summed, in the track's timescale. */
  ticks: number;
}

/** A rendition directory measured. */
export interface MeasuredRendition {
  name: string;
  initUri: string;
  timescale: number;
  /** RFC 6381 codec from the init segment (video only). */
  videoCodec: string | null;
  segments: MeasuredSegment[];
  /** max over segments of bytes·8/duration. */
  peakBps: number;
  /** All segment bytes·8 over the total duration. */
  averageBps: number;
}

/** The moof comes before the media data: this much of a segment holds it (else EXTINF is used). */
const SEGMENT_HEAD_BYTES = 64 * 1024;

async function segmentHead(file: string): Promise<{ bytes: number; head: Uint8Array }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(Math.min(size, SEGMENT_HEAD_BYTES)), 0, Math.min(size, SEGMENT_HEAD_BYTES), 0);
    return { bytes: size, head: buffer.subarray(0, bytesRead) };
  } finally {
    await handle.close();
  }
}

/** Reads a rendition's playlist, init and segments; null while it has no segment yet. */
export async function measureRendition(outDir: string, name: string): Promise<MeasuredRendition | null> {
  const text = await readFile(path.join(outDir, name, MEDIA_PLAYLIST), 'utf8').catch(() => null);
  const playlist = text === null ? null : parseMediaPlaylist(text);
  if (!playlist?.initUri || playlist.segments.length === 0) return null;
  const init = await readFile(path.join(outDir, name, playlist.initUri));
  const timescale = readInitTimescale(init) ?? 90_000;
  const segments: MeasuredSegment[] = [];
  let expected = 0;
  for (const seg of playlist.segments) {
    const { bytes, head } = await segmentHead(path.join(outDir, name, seg.uri));
    const timing = readSegmentTiming(head);
    // The tfdt and samples are exact; EXTINF is rounded (and the fallback if a box is odd).
    const start = timing?.start ?? expected;
    const ticks = timing?.duration || Math.round(seg.duration * timescale);
    expected = start + ticks;
    segments.push({ uri: seg.uri, bytes, duration: ticks / timescale, start, ticks });
  }
  const totalBytes = segments.reduce((sum, s) => sum + s.bytes, 0);
  const totalSeconds = segments.reduce((sum, s) => sum + s.duration, 0);
  return {
    name,
    initUri: playlist.initUri,
    timescale,
    videoCodec: readInitVideoCodec(init),
    segments,
    peakBps: Math.max(...segments.map((s) => (s.bytes * 8) / Math.max(s.duration, 1e-3))),
    averageBps: (totalBytes * 8) / Math.max(totalSeconds, 1e-3),
  };
}

/** Every rendition of the layout measured, or null while one of them has no segment. */
async function measureLadder(outDir: string, layout: LadderLayout): Promise<Map<string, MeasuredRendition> | null> {
  const names = [...layout.video.map((v) => v.name), ...layout.audio.map((a) => a.name)];
  const measured = await Promise.all(names.map((name) => measureRendition(outDir, name)));
  if (measured.some((m) => m === null)) return null;
  return new Map(measured.map((m) => [m!.name, m!]));
}

function mediaUri(name: string): string {
  return `${name}/${MEDIA_PLAYLIST}`;
}

function masterInput(layout: LadderLayout, measured: ReadonlyMap<string, MeasuredRendition>): { video: MasterVideo[]; audio: MasterAudio[] } {
  const video = layout.video.map((rung): MasterVideo => {
    const m = measured.get(rung.name)!;
    return {
      uri: mediaUri(rung.name),
      width: rung.width,
      height: rung.height,
      frameRate: layout.frameRate,
      videoRange: layout.videoRange,
      codecs: m.videoCodec ?? FALLBACK_VIDEO_CODEC,
      peakBps: m.peakBps,
      averageBps: m.averageBps,
    };
  });
  const audio = layout.audio.map((info): MasterAudio => {
    const m = measured.get(info.name)!;
    return { info, uri: mediaUri(info.name), peakBps: m.peakBps, averageBps: m.averageBps };
  });
  return { video, audio };
}

/** The master playlist over what is on disk now; null while a rendition has no segment. */
export async function hlsMasterFromFiles(outDir: string, layout: LadderLayout): Promise<string | null> {
  const measured = await measureLadder(outDir, layout);
  return measured && buildHlsMaster(masterInput(layout, measured));
}

/** The media playlists a layout's master names, relative to the version root. */
export function layoutPlaylists(layout: LadderLayout): string[] {
  return [...layout.video.map((v) => mediaUri(v.name)), ...layout.audio.map((a) => mediaUri(a.name))];
}

function dashRepresentation(m: MeasuredRendition, codecs: string): DashRepresentation {
  const template = numberTemplate(m.segments.map((s) => s.uri));
  if (!template) throw new Error(`segments of ${m.name} are not numbered consecutively; the MPD cannot address them`);
  return {
    id: m.name,
    initialization: `${m.name}/${m.initUri}`,
    media: `${m.name}/${template.media}`,
    startNumber: template.startNumber,
    timescale: m.timescale,
    segments: m.segments.map((s) => ({ start: s.start, duration: s.ticks })),
    bandwidth: m.peakBps,
    codecs,
  };
}

/** What the finished ladder measured, for the API and media_manifest.json. */
export interface LadderManifests {
  /** Video renditions with their real bit rate (video + default audio peak) and codecs. */
  renditions: RenditionInfo[];
  /** The audio renditions with their real bit rate (peak). */
  audio: AudioRenditionInfo[];
  /** Duration of the video (of the first audio rendition without video), ms. */
  duration_ms: number;
}

/** Writes master.m3u8 and master.mpd for a finished ladder and returns the real figures. */
export async function writeLadderManifests(outDir: string, layout: LadderLayout): Promise<LadderManifests> {
  const measured = await measureLadder(outDir, layout);
  if (!measured) throw new Error('a rendition of the ladder has no segment');
  const built = ladderManifests(layout, measured);
  await writeFile(path.join(outDir, MASTER_PLAYLIST), built.master);
  await writeFile(path.join(outDir, MPD_FILE), built.mpd);
  return { renditions: built.renditions, audio: built.audio, duration_ms: built.duration_ms };
}

/**
 * The master playlist and MPD of a ladder from its measured renditions (every one of the
 * layout's), with the real figures: the one pass measures its files, a chunked transcode
 * joins its parts' measurements (vod.finish).
 */
export function ladderManifests(layout: LadderLayout, measured: ReadonlyMap<string, MeasuredRendition>): LadderManifests & { master: string; mpd: string } {
  const input = masterInput(layout, measured);
  const master = buildHlsMaster(input);

  const mainGroup = audioGroups(input.audio)[0];
  const renditions = layout.video.map((rung, i): RenditionInfo => {
    const video = input.video[i]!;
    return {
      name: rung.name,
      width: rung.width,
      height: rung.height,
      bitrate_kbps: Math.round(variantBandwidth(video, mainGroup).peakBps / 1000),
      codecs: [video.codecs, ...(mainGroup ? [groupDefault(mainGroup).info.codecs] : [])].join(','),
      frame_rate: fpsRational(layout.frameRate),
      video_range: layout.videoRange,
    };
  });
  const audio = input.audio.map((a) => ({ ...a.info, bitrate_kbps: Math.round(a.peakBps / 1000) }));

  // The video's length (the audio may run a few AAC frames longer).
  const reference = measured.get(layout.video[0]?.name ?? layout.audio[0]?.name ?? '');
  const duration_ms = Math.round((reference?.segments ?? []).reduce((sum, s) => sum + s.duration, 0) * 1000);
  const mpd = buildDashManifest({
    duration_ms,
    frameRate: fpsRational(layout.frameRate),
    segmentSeconds: layout.segmentSeconds,
    video: input.video.map((v, i) => {
      const rung = layout.video[i]!;
      return { ...dashRepresentation(measured.get(rung.name)!, v.codecs), width: rung.width, height: rung.height };
    }),
    audio: layout.audio.map((info) => {
      const m = measured.get(info.name)!;
      return {
        ...dashRepresentation(m, info.codecs),
        language: info.language,
        label: info.label,
        channels: info.channels,
        default: info.default,
        sampleRate: m.timescale,
      };
    }),
  });
  return { master, mpd, renditions, audio, duration_ms };
}
