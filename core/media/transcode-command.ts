/*
 * The ffmpeg arguments of the one-pass ladder.
 *
 * One process decodes the source once:
 *   [0:v] → (bwdif) → fps (CFR) → (HDR→SDR) → split ─┬→ scale WxH, setsar=1, (watermark), pixel format → encoder → HLS rung
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
 * split (deinterlacing, the output rate, the tone-map) is video-filters.ts; the watermark
 * overlaid on each rung after its scale (ffmpeg input 1, when the video has one) is watermark.ts.
 */
import path from 'node:path';
import { safeInputArgs } from './ffmpeg.js';
import { channelLayout, planAudioRenditions } from './audio-renditions.js';
import type { ChunkPart } from './chunk-plan.js';
import type { AudioRenditionInfo, ProbeResult, Rung, StoryboardSpec, TranscodeTask, VideoEncoder } from './types.js';
import { outputFrameRate, SDR_TAGS, sourcePictureFilters } from './video-filters.js';
import { rungChains, watermarkInputArgs } from './watermark.js';

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
  /**
   * Output arguments shared by every video stream of this encoder. `steadyRate`: hold the
   * bit rate close to the target GOP by GOP (a chunk of a chunked transcode: its rate control
   * starts afresh, and would otherwise make up an early undershoot by overshooting later).
   */
  videoArgs(gop: GopSpec, preset: string, steadyRate?: boolean): string[];
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
    videoArgs: ({ keyint }, preset, steadyRate) => [
      '-c:v', 'libx264', '-preset', preset, '-profile:v', 'high',
      '-g', String(keyint), '-keyint_min', String(keyint), '-sc_threshold', '0', '-flags', '+cgop',
      // ratetol=0.1: seen here, an 8 s chunk's 2 s segments at 0.97–1.04× the target instead
      // of 0.90–1.10× (x264's default 1.0 lets ABR catch up late); the SPS, so the init, is unchanged.
      '-x264-params', steadyRate ? 'open_gop=0:scenecut=0:ratetol=0.1' : 'open_gop=0:scenecut=0',
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
  | 'watermark'
  | 'part'
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

/**
 * A video chunk's storyboard: its tiles one picture each (`TILE_PATTERN`), numbered on the
 * version's timeline, for vod.finish to lay out in sheets as the one pass's `tile` does.
 * Frame g (from the source's start) opens tile floor(g / (interval × fps)); the chunk keeps
 * the frames that open one, so each tile comes from the chunk that holds its first frame
 * and is that frame, the one the one pass picks. `n` counts the chunk's output frames
 * (constant rate: the picture filters end in fps).
 */
export function storyboardTileChain(tile: { width: number; height: number }, storyboard: StoryboardSpec, firstFrame: number, fps: number): string {
  const perTile = storyboard.interval_s * fps;
  return `select='gt(floor((${firstFrame}+n)/${perTile}),floor((${firstFrame}+n-1)/${perTile}))',scale=${tile.width}:${tile.height},setsar=1`;
}

/** The number of a chunk's first tile: the first tile that opens at or after its first frame. */
export function firstTileOfChunk(storyboard: Pick<StoryboardSpec, 'interval_s'>, firstFrame: number, fps: number): number {
  const perTile = storyboard.interval_s * fps;
  const at = Math.floor(firstFrame / perTile);
  // The same arithmetic as the select expression (doubles both), so the numbering agrees with it.
  return at > Math.floor((firstFrame - 1) / perTile) ? at : at + 1;
}

/** A chunk's storyboard tiles, in its output directory (chunk-plan.ts stores them for vod.finish). */
export const TILE_PATTERN = 'tile-%05d.jpg';

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
  /** Number of the first segment (a chunk continues the numbering of the chunks before it); default 0. */
  startNumber?: number;
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
    ...(out.startNumber ? ['-start_number', String(out.startNumber)] : []),
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

/** ffmpeg input index of the watermark image (after the source). */
const WATERMARK_INPUT = 1;

/**
 * The video chains: one branch per rung (`[v{i}]`), plus the storyboard's (`[sb]`): sheets
 * in the one pass, a video chunk's own tiles (`chunk`) in a chunked transcode.
 */
function videoChains(input: TranscodeCommandInput, builder: EncoderBuilder, chunk?: Extract<ChunkPart, { kind: 'video' }>): string[] {
  const { probe, ladder, storyboard } = input;
  const tile = storyboardTileSize(probe, storyboard);
  const fps = outputFrameRate(probe, input.maxFps);
  const splits = [...ladder.map((_, i) => `[s${i}]`), '[ssb]'];
  // An HDR source is tone-mapped once, at the largest rung's size (a plugin may have reordered the ladder).
  const largest = ladder.reduce<Rung | undefined>((big, r) => (!big || r.width * r.height > big.width * big.height ? r : big), undefined);
  const picture = sourcePictureFilters(probe, { rate: fpsRational(outputFrameRate(probe, input.maxFps)), size: largest });
  return [
    `[0:v:0]${picture.join(',')},split=${splits.length}${splits.join('')}`,
    ...rungChains(ladder, builder.pixelFilter, input.watermark ?? null, WATERMARK_INPUT),
    `[ssb]${chunk ? storyboardTileChain(tile, storyboard, chunk.first_frame, fps) : storyboardChain(tile, storyboard)}[sb]`,
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

/** The video encoder's arguments for every rung: GOP, forced keyframes on segment boundaries, bit rates. */
function rungEncodeArgs(input: TranscodeCommandInput, fps: number, steadyRate = false): string[] {
  const { segmentSeconds } = input;
  const gop: GopSpec = { keyint: keyintFor(fps, segmentSeconds), segmentSeconds };
  return [
    ...encoderBuilders[input.encoder].videoArgs(gop, input.preset, steadyRate),
    ...(input.probe.dynamic_range !== 'SDR' ? SDR_TAGS : []),
    '-force_key_frames', `expr:gte(t,n_forced*${segmentSeconds})`,
    ...rungBitrateArgs(input.ladder),
  ];
}

/**
 * The arguments of one video chunk of a chunked transcode (chunk-plan.ts): the source read
 * from the chunk's keyframe to the next chunk's, every rung encoded exactly as the one pass
 * does (so the init segments match), no audio and no storyboard, segments numbered on from
 * the chunks before. Its decode times start at 0; the worker moves them to the chunk's start.
 */
export function buildChunkArgs(input: TranscodeCommandInput, part: Extract<ChunkPart, { kind: 'video' }>): string[] {
  const { probe, ladder, segmentSeconds, outDir } = input;
  const builder = encoderBuilders[input.encoder];
  const fps = outputFrameRate(probe, input.maxFps);
  const args = ['-hide_banner', '-nostdin', '-y', '-nostats', '-progress', 'pipe:1', ...builder.inputArgs];
  const end = part.end_s ?? decodeCapSeconds(probe.duration_ms);
  if (part.start_s > 0) args.push('-ss', String(part.start_s));
  args.push(part.end_s === null ? '-t' : '-to', String(part.end_s === null ? Math.max(0, end - part.start_s) : end));
  args.push(...safeInputArgs(input.sourcePath));
  // The same mark as the one pass: every chunk of every rung carries it.
  if (input.watermark) args.push(...watermarkInputArgs(input.watermark));
  args.push('-filter_complex', videoChains(input, builder, part).join(';'));
  args.push('-map_metadata', '-1', '-map_chapters', '-1', '-an');
  ladder.forEach((_, i) => args.push('-map', `[v${i}]`));
  args.push(...rungEncodeArgs(input, fps, true));
  args.push(
    ...hlsLadderOutputArgs({ names: ladder.map((r) => r.name), hasAudio: false, segmentSeconds, outDir, listSize: 0, startNumber: part.first_segment }),
  );
  // Its storyboard tiles, sharp (vod.finish compresses them again as sheets).
  args.push(
    '-map', '[sb]', '-c:v', 'mjpeg', '-q:v', '2', '-fps_mode', 'passthrough',
    '-f', 'image2', '-start_number', String(firstTileOfChunk(input.storyboard, part.first_frame, fps)), path.join(outDir, TILE_PATTERN),
  );
  return args;
}

/** The complete argument list of the one-pass transcode (progress on stdout). */
export function buildTranscodeArgs(input: TranscodeCommandInput): string[] {
  const { probe, ladder, segmentSeconds, outDir } = input;
  // The audio part of a chunked transcode reads no picture: the chunks make the rungs and the storyboard's tiles.
  const video = probe.has_video && input.part?.kind !== 'audio';
  const audio = audioRenditionsFor(input);
  const builder = encoderBuilders[input.encoder];
  // The audio still ends with the video (audioEndSample), in an audio part too.
  const fps = probe.has_video ? outputFrameRate(probe, input.maxFps) : 0;
  const args = ['-hide_banner', '-nostdin', '-y', '-nostats', '-progress', 'pipe:1', ...(video ? builder.inputArgs : [])];
  args.push('-t', String(decodeCapSeconds(probe.duration_ms)), ...safeInputArgs(input.sourcePath));
  if (video && input.watermark) args.push(...watermarkInputArgs(input.watermark));
  const chains = [...(video ? videoChains(input, builder) : []), ...audioChains(audio, audioEndSample(probe, fps))];
  args.push('-filter_complex', chains.join(';'));

  // The HLS output: every rung, then every audio rendition.
  args.push('-map_metadata', '-1', '-map_chapters', '-1');
  if (video) {
    ladder.forEach((_, i) => args.push('-map', `[v${i}]`));
  }
  audio.forEach((_, i) => args.push('-map', `[a${i}]`));
  if (video && ladder.length > 0) args.push(...rungEncodeArgs(input, fps));
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
