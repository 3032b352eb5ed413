/*
 * The ffmpeg arguments of the one-pass ladder.
 *
 * One process decodes the source once:
 *   [0:v] → (bwdif) → fps (CFR) → (HDR→SDR) → split ─┬→ scale WxH, setsar=1, pixel format → encoder → HLS rung
 *                                                   ├→ … one branch per rung
 *                                                   └→ 1 frame per interval → scale → tile CxR → sprite-%d.jpg
 *   [0:a:N] → 48 kHz → (trim to the video) → asplit ─┬→ stereo AAC        one per audio track,
 *                                                   ├→ 5.1/7.1 AAC       (multichannel tracks)
 *                                                   └→ ebur128           (the default track only)
 * Every audio rendition is a member of one HLS audio group (audio-renditions.ts decides which).
 * An audio-only source has no video branch, no storyboard and no GOP settings.
 * Every rung gets a keyframe exactly on each segment boundary (-force_key_frames) plus a
 * fixed GOP of segment_s×fps frames and no scene-cut keyframes, so segments line up across
 * rungs and a player can switch at any boundary. The encoder-specific part comes from
 * `encoderBuilders`, which hwaccel.ts also uses for its test encodes. What happens before the
 * split (deinterlacing, the output rate, the tone-map) is video-filters.ts.
 */
import path from 'node:path';
import { safeInputArgs } from './ffmpeg.js';
import { channelLayout, planAudioRenditions } from './audio-renditions.js';
import type { AudioRenditionInfo, ProbeResult, Rung, StoryboardSpec, TranscodeTask, VideoEncoder } from './types.js';
import { outputFrameRate, SDR_TAGS, sourcePictureFilters } from './video-filters.js';

/** How the GOP must look: `keyint` frames, a forced keyframe every `segmentSeconds`. */
export interface GopSpec {
  keyint: number;
  segmentSeconds: number;
}

/** The encoder-specific pieces of an ffmpeg command. */
export interface EncoderBuilder {
  /** Arguments before the input (device setup). */
  inputArgs: string[];
  /** Filter appended to every rung's chain: the pixel format (and upload) the encoder takes. */
  pixelFilter: string;
  /** Output arguments shared by every video stream of this encoder. */
  videoArgs(gop: GopSpec, preset: string): string[];
}

/** Maps an x264 preset to the nearest NVENC one (p1 fastest … p7 slowest). */
const NVENC_PRESETS: Record<string, string> = {
  ultrafast: 'p1',
  superfast: 'p2',
  veryfast: 'p3',
  faster: 'p3',
  fast: 'p4',
  medium: 'p5',
  slow: 'p6',
  slower: 'p7',
  veryslow: 'p7',
};

/** Encoder-specific arguments; typed over VideoEncoder so a new encoder cannot be forgotten. */
export const encoderBuilders: { [E in VideoEncoder]: EncoderBuilder } = {
  libx264: {
    inputArgs: [],
    pixelFilter: 'format=yuv420p',
    videoArgs: ({ keyint }, preset) => [
      '-c:v', 'libx264', '-preset', preset, '-profile:v', 'high',
      '-g', String(keyint), '-keyint_min', String(keyint), '-sc_threshold', '0', '-flags', '+cgop',
      '-x264-params', 'open_gop=0:scenecut=0',
    ],
  },
  h264_nvenc: {
    inputArgs: [],
    pixelFilter: 'format=yuv420p',
    videoArgs: ({ keyint }, preset) => [
      '-c:v', 'h264_nvenc', '-preset', NVENC_PRESETS[preset] ?? 'p4', '-profile:v', 'high', '-rc', 'vbr',
      '-g', String(keyint), '-no-scenecut', '1', '-forced-idr', '1', '-strict_gop', '1',
    ],
  },
  h264_qsv: {
    inputArgs: [],
    pixelFilter: 'format=nv12',
    videoArgs: ({ keyint }, preset) => [
      '-c:v', 'h264_qsv', '-preset', preset === 'ultrafast' || preset === 'superfast' ? 'veryfast' : preset,
      '-profile:v', 'high', '-g', String(keyint), '-idr_interval', '0', '-look_ahead', '0', '-forced_idr', '1',
    ],
  },
  h264_vaapi: {
    inputArgs: ['-vaapi_device', '/dev/dri/renderD128'],
    pixelFilter: 'format=nv12,hwupload',
    videoArgs: ({ keyint }) => ['-c:v', 'h264_vaapi', '-profile:v', 'high', '-g', String(keyint), '-idr_interval', '0'],
  },
};

/** The fps filter's rate: NTSC-style rates (29.97, 23.976, 59.94) as their exact N*1000/1001. */
export function fpsRational(fps: number): string {
  const ntsc = fps * 1.001;
  if (!Number.isInteger(fps) && Math.abs(ntsc - Math.round(ntsc)) < 0.005) return `${Math.round(ntsc) * 1000}/1001`;
  return String(fps);
}

/** Frames per GOP: one GOP per segment. */
export function keyintFor(fps: number, segmentSeconds: number): number {
  return Math.max(1, Math.round(segmentSeconds * fps));
}

/** The size of one storyboard tile: `tile_width` wide, even height, source aspect. */
export function storyboardTileSize(probe: Pick<ProbeResult, 'width' | 'height'>, spec: StoryboardSpec): {
  width: number;
  height: number;
} {
  const width = Math.round(spec.tile_width / 2) * 2;
  return { width, height: Math.max(2, Math.round((width * probe.height) / probe.width / 2) * 2) };
}

/** Name of the HLS audio rendition's directory (live: one audio track). */
export const AUDIO_RENDITION = 'audio';
/** `transcode.max_audio_tracks` when a task does not say. */
export const DEFAULT_MAX_AUDIO_TRACKS = 8;
/** Audio sample rate of every rendition. */
export const AUDIO_SAMPLE_RATE = 48_000;
/** Samples per AAC frame; the encoder also adds one frame of priming before the first. */
const AAC_FRAME = 1024;
/** Media playlist name inside each rendition directory. */
export const MEDIA_PLAYLIST = 'index.m3u8';
export const MASTER_PLAYLIST = 'master.m3u8';
export const SPRITE_PATTERN = 'sprite-%d.jpg';

/** Init segment name of a rendition: `init_{name}.mp4` (ffmpeg insists on a per-variant name). */
export function initSegmentName(rendition: string): string {
  return `init_${rendition}.mp4`;
}

/** Options of the one-pass command (a TranscodeTask without its ports). */
export type TranscodeCommandInput = Pick<
  TranscodeTask,
  | 'sourcePath'
  | 'outDir'
  | 'probe'
  | 'ladder'
  | 'segmentSeconds'
  | 'preset'
  | 'audioKbps'
  | 'maxAudioTracks'
  | 'encoder'
  | 'storyboard'
  | 'maxFps'
>;

/** The audio renditions a task produces, in output (and master) order. */
export function audioRenditionsFor(input: Pick<TranscodeCommandInput, 'probe' | 'audioKbps' | 'maxAudioTracks'>): AudioRenditionInfo[] {
  return planAudioRenditions(input.probe.audio_tracks, input.audioKbps, input.maxAudioTracks ?? DEFAULT_MAX_AUDIO_TRACKS);
}

/**
 * Where the audio must stop so it ends with the video: the first AAC frame boundary at or
 * after the video's end, counting the encoder's priming frame. The video's end is where the
 * fps filter stops at the output rate `fps` (it rounds the stream's end to the nearest
 * frame). Without it the audio ran
 * ~32 ms past the video and left a 0.02 s trailing audio segment; ending the audio before the
 * video instead would make players report a duration under the video's (3.999 s for 4 s).
 * Null for audio-only sources.
 */
export function audioEndSample(probe: Pick<ProbeResult, 'has_video' | 'video_duration_ms'>, fps: number): number | null {
  if (!probe.has_video || !probe.video_duration_ms || !fps) return null;
  const videoEnd = Math.round((probe.video_duration_ms / 1000) * fps) / fps;
  // Encoded frames, the priming one included; the epsilon keeps 187.0000001 from becoming 188.
  const frames = Math.ceil((videoEnd * AUDIO_SAMPLE_RATE) / AAC_FRAME - 1e-6);
  return Math.max(1, frames - 1) * AAC_FRAME;
}

/** The filter chain turning a video stream into storyboard sheets (one tile per interval). */
export function storyboardChain(tile: { width: number; height: number }, storyboard: StoryboardSpec): string {
  // One picture per interval (the first frame of each), so tile K/N covers [K·i, (K+1)·i).
  return (
    `select='isnan(prev_selected_t)+gt(floor(t/${storyboard.interval_s}),floor(prev_selected_t/${storyboard.interval_s}))',` +
    `scale=${tile.width}:${tile.height},setsar=1,tile=${storyboard.columns}x${storyboard.rows}`
  );
}

/** Per-rung video bitrate arguments (`-b:v:i`, `-maxrate:v:i`, `-bufsize:v:i`) for output video streams 0…n-1. */
export function rungBitrateArgs(ladder: readonly Pick<Rung, 'video_kbps'>[]): string[] {
  return ladder.flatMap((r, i) => [
    `-b:v:${i}`, `${r.video_kbps}k`, `-maxrate:v:${i}`, `${Math.round(r.video_kbps * 1.1)}k`, `-bufsize:v:${i}`, `${r.video_kbps * 2}k`,
  ]);
}

/** The one AAC encode every ladder shares: stereo, 48 kHz. */
export function audioEncodeArgs(audioKbps: number): string[] {
  return ['-c:a', 'aac', '-b:a', `${audioKbps}k`, '-ac', '2', '-ar', '48000'];
}

/** Per-output-stream AAC arguments of the audio renditions (output audio streams 0…n-1). */
export function audioRenditionArgs(audio: readonly Pick<AudioRenditionInfo, 'bitrate_kbps'>[]): string[] {
  return ['-c:a', 'aac', '-ar', String(AUDIO_SAMPLE_RATE), ...audio.flatMap((a, i) => [`-b:a:${i}`, `${a.bitrate_kbps}k`])];
}

/** The CMAF HLS output of a ladder: one variant per rung (output video streams in order), the audio as its own group. */
export interface HlsLadderOutput {
  /** Rendition names, in the order of the output video streams. */
  names: readonly string[];
  /** One audio rendition named AUDIO_RENDITION (live); ignored when `audio` is given. */
  hasAudio: boolean;
  /** The audio renditions, in the order of the output audio streams (VOD). */
  audio?: readonly Pick<AudioRenditionInfo, 'name' | 'language' | 'default' | 'channels'>[];
  segmentSeconds: number;
  outDir: string;
  /** Segments kept in ffmpeg's own playlists (0 = all). */
  listSize: number;
  /** Segment file name inside each rendition directory (`%05d` is the sequence number). */
  segmentPattern?: string;
}

export function hlsLadderOutputArgs(out: HlsLadderOutput): string[] {
  const audio = out.audio ?? (out.hasAudio ? [{ name: AUDIO_RENDITION, language: 'und', default: true, channels: 2 }] : []);
  const names = [...out.names, ...audio.map((a) => a.name)];
  const group = audio.length > 0 ? ',agroup:aud' : '';
  const streamMap = [
    ...out.names.map((name, i) => `v:${i}${group},name:${name}`),
    // LANGUAGE and DEFAULT already in ffmpeg's master, which instant publish serves while encoding.
    ...audio.map((a, i) => {
      if (!out.audio) return `a:${i}${group},name:${a.name}`;
      const isDefault = a.default && a.channels === 2 ? ',default:yes' : '';
      return `a:${i}${group},name:${a.name},language:${a.language}${isDefault}`;
    }),
  ].join(' ');
  return [
    '-f', 'hls',
    '-hls_time', String(out.segmentSeconds),
    '-hls_list_size', String(out.listSize),
    '-hls_playlist_type', 'event',
    '-hls_segment_type', 'fmp4',
    '-hls_flags', 'independent_segments+temp_file',
    // With several variants ffmpeg substitutes %v; with one it would keep the name as given.
    '-hls_fmp4_init_filename', names.length > 1 ? initSegmentName('%v') : initSegmentName(names[0] ?? ''),
    '-hls_segment_filename', path.join(out.outDir, '%v', out.segmentPattern ?? 'seg-%05d.m4s'),
    '-master_pl_name', MASTER_PLAYLIST,
    '-var_stream_map', streamMap,
    path.join(out.outDir, '%v', MEDIA_PLAYLIST),
  ];
}

/** The audio chains: per kept track, one branch per rendition plus ebur128 on the default track. */
function audioChains(audio: readonly AudioRenditionInfo[], endSample: number | null): string[] {
  const trim = endSample === null ? '' : `,atrim=end_sample=${endSample}`;
  const chains: string[] = [];
  const tracks = [...new Set(audio.map((a) => a.track))];
  for (const track of tracks) {
    const outputs = audio.flatMap((a, i) => (a.track === track ? [`[a${i}p]`] : []));
    // Loudness is the default track's (the stereo one: the renditions share the source).
    const measured = audio.some((a) => a.track === track && a.default);
    const branches = [...outputs, ...(measured ? ['[aloud]'] : [])];
    const head = `[0:a:${track}]aresample=${AUDIO_SAMPLE_RATE}${trim}`;
    chains.push(branches.length > 1 ? `${head},asplit=${branches.length}${branches.join('')}` : `${head}${branches[0]}`);
    audio.forEach((a, i) => {
      // aformat makes the auto-inserted resampler downmix (or keep) to the rendition's layout.
      if (a.track === track) chains.push(`[a${i}p]aformat=channel_layouts=${channelLayout(a.channels)}[a${i}]`);
    });
    if (measured) chains.push('[aloud]ebur128=framelog=verbose,anullsink');
  }
  return chains;
}

function videoChains(input: TranscodeCommandInput, builder: EncoderBuilder): string[] {
  const { probe, ladder, storyboard } = input;
  const tile = storyboardTileSize(probe, storyboard);
  const splits = ladder.map((_, i) => `[s${i}]`).join('');
  // An HDR source is tone-mapped once, at the largest rung's size (a plugin may have reordered the ladder).
  const largest = ladder.reduce<Rung | undefined>((big, r) => (!big || r.width * r.height > big.width * big.height ? r : big), undefined);
  const picture = sourcePictureFilters(probe, { rate: fpsRational(outputFrameRate(probe, input.maxFps)), size: largest });
  return [
    `[0:v:0]${picture.join(',')},split=${ladder.length + 1}${splits}[ssb]`,
    ...ladder.map((r: Rung, i) => `[s${i}]scale=${r.width}:${r.height},setsar=1,${builder.pixelFilter}[v${i}]`),
    `[ssb]${storyboardChain(tile, storyboard)}[sb]`,
  ];
}

/**
 * How much of a source the transcode reads, in seconds: the duration its header claims plus
 * a margin (10 %, at least 3 s). A file that lies about its length (claims 1 s, holds hours)
 * cannot keep a worker encoding; the job compares what came out with this (vod-process).
 */
export function decodeCapSeconds(claimedMs: number): number {
  const claimed = claimedMs / 1000;
  return Math.round((claimed + Math.max(3, claimed * 0.1)) * 1000) / 1000;
}

/** The complete argument list of the one-pass transcode (progress on stdout). */
export function buildTranscodeArgs(input: TranscodeCommandInput): string[] {
  const { probe, ladder, segmentSeconds, outDir } = input;
  const video = probe.has_video;
  const audio = audioRenditionsFor(input);
  const builder = encoderBuilders[input.encoder];
  const fps = video ? outputFrameRate(probe, input.maxFps) : 0;
  const args = ['-hide_banner', '-nostdin', '-y', '-nostats', '-progress', 'pipe:1', ...(video ? builder.inputArgs : [])];
  args.push('-t', String(decodeCapSeconds(probe.duration_ms)), ...safeInputArgs(input.sourcePath));
  const chains = [...(video ? videoChains(input, builder) : []), ...audioChains(audio, audioEndSample(probe, fps))];
  args.push('-filter_complex', chains.join(';'));

  // The HLS output: every rung, then every audio rendition.
  args.push('-map_metadata', '-1', '-map_chapters', '-1');
  if (video) {
    ladder.forEach((_, i) => args.push('-map', `[v${i}]`));
  }
  audio.forEach((_, i) => args.push('-map', `[a${i}]`));
  if (video) {
    const gop: GopSpec = { keyint: keyintFor(fps, segmentSeconds), segmentSeconds };
    args.push(...builder.videoArgs(gop, input.preset));
    if (probe.dynamic_range !== 'SDR') args.push(...SDR_TAGS);
    args.push('-force_key_frames', `expr:gte(t,n_forced*${segmentSeconds})`);
    args.push(...rungBitrateArgs(ladder));
  }
  if (audio.length > 0) args.push(...audioRenditionArgs(audio));
  const names = video ? ladder.map((r) => r.name) : [];
  args.push(...hlsLadderOutputArgs({ names, hasAudio: audio.length > 0, audio, segmentSeconds, outDir, listSize: 0 }));

  // The storyboard output.
  if (video) {
    args.push(
      '-map', '[sb]', '-c:v', 'mjpeg', '-q:v', '5', '-fps_mode', 'passthrough',
      '-f', 'image2', '-start_number', '0', path.join(outDir, SPRITE_PATTERN),
    );
  }
  return args;
}
