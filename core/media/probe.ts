/*
 * ffprobe → ProbeResult, or the AppError that refuses the source.
 *
 * Decisions:
 * - Only the demuxers of SAFE_INPUT_FORMATS open at all; anything else (playlists, concat
 *   lists, images, text) makes ffprobe fail and becomes E_NOT_MEDIA.
 * - Video codecs are an allow-list of what cameras, phones, editors and the web produce
 *   and libavcodec decodes well (VIDEO_CODECS). Image and raw codecs (png, bmp, gif, tiff,
 *   rawvideo, qtrle, …) are refused with E_CODEC_UNSUPPORTED: they are screen captures or
 *   intermediates with huge bitrates and a common way to smuggle still images in a container.
 * - A picture too large for libavutil to allocate (e.g. 16384x16384) leaves ffprobe with no
 *   size at all; its "Picture size WxH is invalid" on stderr turns that into
 *   E_RESOLUTION_TOO_HIGH instead of a misleading E_NOT_MEDIA.
 * - Cover art (attached_pic) is not video: an m4a with artwork has no video stream.
 * - A source with audio and no video (m4a, mp3, flac, wav, ogg) is accepted: it becomes an
 *   audio-only version (width/height/fps 0, video_codec null). E_NO_VIDEO_STREAM is left for
 *   a container whose streams are neither audio nor video (subtitles, data, attachments).
 * - fps is the nominal rate (video-probe.ts: the highest rate the packets really use; the
 *   average when too few), rounded to 3 decimals so 29.97 and 23.976 survive as such
 *   (transcode-command maps them back to N*1000/1001). The source is VFR when its average and
 *   nominal rates differ by more than 0.5%. The cap (transcode.max_fps) is the transcode's.
 * - Dynamic range, field order and pixel aspect: see video-probe.ts.
 */
import { AppError } from '../errors.js';
import { normaliseLanguage } from './audio-renditions.js';
import { FfmpegError, runFfmpeg, safeInputArgs } from './ffmpeg.js';
import { MAX_SOURCE_CHAPTERS, type AudioTrack, type ProbeResult, type SourceChapter } from './types.js';
import {
  declaredFieldOrder,
  detectFieldOrder,
  dynamicRangeOf,
  measureFrameRate,
  packetTimestamps,
  sampleAspect,
  type FfprobeVideoFields,
} from './video-probe.js';

/** Limits a source must respect (config `limits`). */
export interface ProbeLimits {
  max_duration_s: number;
  max_pixels: number;
}

/** Video codecs accepted as sources (ffprobe codec_name). */
export const VIDEO_CODECS: ReadonlySet<string> = new Set([
  'h264',
  'hevc',
  'vp8',
  'vp9',
  'av1',
  'mpeg4',
  'msmpeg4v2',
  'msmpeg4v3',
  'mpeg2video',
  'mpeg1video',
  'h263',
  'h263p',
  'flv1',
  'wmv1',
  'wmv2',
  'wmv3',
  'vc1',
  'theora',
  'prores',
  'dnxhd',
  'dvvideo',
  'mjpeg',
  'ffv1',
  'cfhd',
]);

interface FfprobeStream extends FfprobeVideoFields {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  channels?: number;
  disposition?: { attached_pic?: number; default?: number };
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number; dv_profile?: number; dv_bl_signal_compatibility_id?: number }[];
}

interface FfprobeOutput {
  format?: { format_name?: string; duration?: string; bit_rate?: string };
  streams?: FfprobeStream[];
  chapters?: { start_time?: string; tags?: { title?: string } }[];
  /** A picture size the decoder refused as too large to allocate ("Picture size WxH is invalid"). */
  refusedSize?: { width: number; height: number };
}

const REFUSED_SIZE = /Picture size (\d+)x(\d+) is invalid/;

/** Parses "30000/1001" or "25"; null for "0/0" and garbage. */
export function parseRational(text: string | undefined): number | null {
  if (!text) return null;
  const [n, d = '1'] = text.split('/');
  const value = Number(n) / Number(d);
  return Number.isFinite(value) && value > 0 ? value : null;
}

/** Clockwise degrees (0/90/180/270) from the display matrix or the legacy rotate tag. */
export function readRotation(stream: Pick<FfprobeStream, 'side_data_list' | 'tags'>): number {
  const matrix = stream.side_data_list?.find((s) => typeof s.rotation === 'number');
  // ffprobe prints the display matrix angle counter-clockwise; the rotate tag is clockwise.
  const clockwise = matrix ? -(matrix.rotation ?? 0) : Number(stream.tags?.rotate ?? 0);
  if (!Number.isFinite(clockwise)) return 0;
  const quarter = Math.round(clockwise / 90) * 90;
  return ((quarter % 360) + 360) % 360;
}

/** The nominal rate (see video-probe.ts) and whether the source's rate varies. */
async function frameRate(ffprobePath: string, file: string, stream: FfprobeStream, signal?: AbortSignal): Promise<{ fps: number; vfr: boolean }> {
  const avg = parseRational(stream.avg_frame_rate);
  const real = parseRational(stream.r_frame_rate);
  const measured = measureFrameRate(await packetTimestamps(ffprobePath, file, stream.index, signal), real);
  const fps = Math.max(1, Math.round((measured?.nominal ?? avg ?? real ?? 30) * 1000) / 1000);
  const average = measured?.average ?? avg;
  return { fps, vfr: average !== null && Math.abs(average - fps) / fps > 0.005 };
}

async function runFfprobe(ffprobePath: string, file: string, signal: AbortSignal | undefined): Promise<FfprobeOutput> {
  let stdout: string;
  let refusedSize: FfprobeOutput['refusedSize'];
  const onStderrLine = (line: string): void => {
    const m = REFUSED_SIZE.exec(line);
    if (m) refusedSize = { width: Number(m[1]), height: Number(m[2]) };
  };
  try {
    stdout = await runFfmpeg(
      ffprobePath,
      ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-show_chapters', ...safeInputArgs(file)],
      { onStderrLine, signal },
    );
  } catch (err) {
    if (err instanceof FfmpegError && err.reason === 'exit') {
      throw new AppError('E_NOT_MEDIA', 'the file is not a video in a supported container', { cause: err });
    }
    throw err;
  }
  try {
    return { ...(JSON.parse(stdout) as FfprobeOutput), refusedSize };
  } catch (err) {
    throw new AppError('E_NOT_MEDIA', 'the file could not be read as media', { cause: err });
  }
}

/** The container's chapters (MP4 chapter track, Matroska editions) that start inside the video. */
function sourceChapters(chapters: FfprobeOutput['chapters'], duration_s: number): SourceChapter[] {
  return (chapters ?? [])
    .map((c, i) => ({ start_s: Math.max(0, Number(c.start_time)), title: (c.tags?.title ?? '').trim() || `Chapter ${i + 1}` }))
    .filter((c) => Number.isFinite(c.start_s) && c.start_s < duration_s)
    .slice(0, MAX_SOURCE_CHAPTERS);
}

/** Seconds of a Matroska DURATION tag ("HH:MM:SS.nnnnnnnnn"); undefined when absent or malformed. */
export function parseTagDuration(tag: string | undefined): number | undefined {
  const m = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(tag?.trim() ?? '');
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : undefined;
}

function audioTrack(stream: FfprobeStream, track: number): AudioTrack {
  return {
    track,
    codec: stream.codec_name ?? 'unknown',
    channels: stream.channels ?? 2,
    language: normaliseLanguage(stream.tags?.language),
    title: stream.tags?.title?.trim() || null,
    default: stream.disposition?.default === 1,
  };
}

/**
 * Probes an uploaded file and checks it against the limits; throws AppError when refused.
 * `signal` stops an ffprobe that hangs (e.g. on a source that never ends).
 */
export async function probeSource(
  ffprobePath: string,
  file: string,
  limits: ProbeLimits,
  /** With ffmpegPath, a source that does not declare its field order gets an idet pass. */
  opts: { ffmpegPath?: string; signal?: AbortSignal } = {},
): Promise<ProbeResult> {
  const out = await runFfprobe(ffprobePath, file, opts.signal);
  const streams = out.streams ?? [];
  if (!out.format || streams.length === 0) throw new AppError('E_NOT_MEDIA', 'the file has no audio or video stream');

  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const audioStreams = streams.filter((s) => s.codec_type === 'audio');
  if (!video && audioStreams.length === 0) {
    throw new AppError('E_NO_VIDEO_STREAM', 'the file has neither audio nor video');
  }
  const codec = video?.codec_name ?? 'unknown';
  if (video) {
    if (!VIDEO_CODECS.has(codec)) {
      throw new AppError('E_CODEC_UNSUPPORTED', `the video codec "${codec}" is not supported`);
    }
    // libavutil refuses pictures over ~268 Mpx before the size reaches the stream: say why.
    if ((!video.width || !video.height) && out.refusedSize) {
      const { width, height } = out.refusedSize;
      throw new AppError('E_RESOLUTION_TOO_HIGH', `the video is ${width}x${height}, too large to decode`);
    }
    if (!video.width || !video.height) throw new AppError('E_NOT_MEDIA', 'the video stream has no picture size');
  }
  const duration_s = Number(out.format.duration ?? video?.duration ?? audioStreams[0]?.duration);
  if (!Number.isFinite(duration_s) || duration_s <= 0) throw new AppError('E_NOT_MEDIA', 'the file has no duration');
  if (duration_s > limits.max_duration_s) {
    throw new AppError('E_TOO_LONG', `the video lasts ${Math.round(duration_s)} s, the limit is ${limits.max_duration_s} s`);
  }
  const bitRate = Number(out.format.bit_rate);
  const common = {
    format_name: out.format.format_name ?? 'unknown',
    duration_ms: Math.round(duration_s * 1000),
    audio_codec: audioStreams[0]?.codec_name ?? null,
    has_audio: audioStreams.length > 0,
    audio_tracks: audioStreams.map(audioTrack),
    cover_art: streams.some((s) => s.codec_type === 'video' && Boolean(s.disposition?.attached_pic)),
    bit_rate: Number.isFinite(bitRate) && bitRate > 0 ? bitRate : null,
    chapters: sourceChapters(out.chapters, duration_s),
  };
  if (!video) {
    return {
      ...common,
      ...{ width: 0, height: 0, rotation: 0, fps: 0, vfr: false, video_codec: null, has_video: false, video_duration_ms: null },
      ...{ dynamic_range: 'SDR', field_order: 'progressive' },
    };
  }

  const width = video.width ?? 0;
  const height = video.height ?? 0;
  if (width * height > limits.max_pixels) {
    throw new AppError('E_RESOLUTION_TOO_HIGH', `the video is ${width}x${height}, the limit is ${limits.max_pixels} pixels`);
  }

  const rotation = readRotation(video);
  const swap = rotation === 90 || rotation === 270;
  // Matroska/WebM keep per-stream durations only as a DURATION tag ("00:00:04.021000000").
  const videoDuration = Number(video.duration ?? parseTagDuration(video.tags?.DURATION) ?? duration_s);
  // Anamorphic pixels are shown wider (or narrower) than coded: the ladder works in square pixels.
  const sar = sampleAspect(video);
  const displayWidth = sar === 1 ? width : Math.max(2, Math.round((width * sar) / 2) * 2);
  const field_order =
    declaredFieldOrder(video) ?? (opts.ffmpegPath ? await detectFieldOrder(opts.ffmpegPath, file, opts.signal) : 'progressive');
  return {
    ...common,
    width: swap ? height : displayWidth,
    height: swap ? displayWidth : height,
    rotation,
    ...(await frameRate(ffprobePath, file, video, opts.signal)),
    video_codec: codec,
    has_video: true,
    video_duration_ms: Number.isFinite(videoDuration) && videoDuration > 0 ? Math.round(videoDuration * 1000) : null,
    dynamic_range: dynamicRangeOf(video),
    field_order,
  };
}
