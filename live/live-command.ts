/*
 * The ffmpeg arguments of one live packager run: the ingest (FLV on stdin, or pulled from an
 * RTMP URL) → one fragmented MP4 per rendition, each streamed to its own pipe (fd 3, 4, …),
 * which live-packager.ts cuts into LL-HLS parts and segments.
 *
 *   [0:v] → split ─┬→ scale WxH, setsar=1, (watermark), pixel format → encoder → fMP4 → pipe:3   (encoded rungs)
 *                  └→ …                                                     pipe:4
 *   [0:v] ───────────────────────────────────────────────→ copy → fMP4 → pipe:N   (passthrough)
 *   [0:a] → AAC (encoded once) ──────────────────────────────────→ fMP4 → pipe:N+1
 *
 * A fragment is written at every keyframe and whenever the part duration passed, and flushed
 * at once. Segments must line up across rungs: when the top rung is copied its segments can
 * only cut at the broadcaster's keyframes, so the encoded rungs take their keyframes from
 * the source (`-force_key_frames source`) and keep its frame times; without a copied rung,
 * keyframes are forced every segment_s as in the VOD ladder. The shared pieces (encoder
 * arguments, bitrates, audio) come from core/media/transcode-command.ts.
 */
import type { Rung, VideoEncoder } from '../core/media/types.js';
import { rungChains, watermarkInputArgs, type WatermarkSpec } from '../core/media/watermark.js';
import {
  audioEncodeArgs,
  encoderBuilders,
  keyintFor,
  rungBitrateArgs,
  type GopSpec,
} from '../core/media/transcode-command.js';

/** A rung of a live ladder; `passthrough` = the ingest's own video, copied. */
export interface LiveRung extends Rung {
  passthrough: boolean;
}

/** Where the packager reads the ingest. */
export type LiveInput = { kind: 'pipe' } | { kind: 'rtmp'; url: string; readTimeoutMs: number };

export interface LiveCommandInput {
  input: LiveInput;
  /** Smallest first; only the last rung may be `passthrough`. */
  ladder: readonly LiveRung[];
  hasAudio: boolean;
  /** The ingest's frame rate (for the GOP length of encoded rungs). */
  fps: number;
  segmentSeconds: number;
  /** LL-HLS part target: no fragment ffmpeg writes is longer. */
  partSeconds: number;
  preset: string;
  audioKbps: number;
  encoder: VideoEncoder;
  /** The mark burned into every encoded rung (core/media/watermark.ts); no rung may be copied then. */
  watermark?: WatermarkSpec | null;
}

/**
 * Encoder settings that keep frames from waiting inside the encoder (x264: no lookahead, no
 * B-frames, sliced threads), measured by bench/live.ts: a segment reaches the playlist about
 * a second sooner.
 */
const LOW_LATENCY: Partial<Record<VideoEncoder, string[]>> = {
  libx264: ['-tune', 'zerolatency'],
};

/** Segment files of a live run: `seg-NNNNN.m4s` inside each rendition directory. */
export function liveSegmentFile(index: number): string {
  return `seg-${String(index).padStart(5, '0')}.m4s`;
}

/** AAC frame length at 48 kHz, seconds (also the encoder's priming). */
export const AAC_FRAME_S = 1024 / 48_000;

/** First file descriptor of the output pipes: rendition i (renditionDirs order) is `pipe:3+i`. */
export const FIRST_OUTPUT_FD = 3;

function inputArgs(input: LiveInput): string[] {
  if (input.kind === 'pipe') return ['-protocol_whitelist', 'pipe', '-f', 'flv', '-i', 'pipe:0'];
  return ['-protocol_whitelist', 'tcp,rtmp', '-rw_timeout', String(input.readTimeoutMs * 1000), '-f', 'flv', '-i', input.url];
}

/**
 * Narrows `-opt value` pairs (encoder builders emit pairs only) to output video stream
 * `index`: `-opt` → `-opt:v:index`, `-opt:v` → `-opt:v:index`.
 */
function forVideoStream(pairs: readonly string[], index: number): string[] {
  return pairs.map((arg, i) => (i % 2 === 1 ? arg : arg.endsWith(':v') ? `${arg}:${index}` : `${arg}:v:${index}`));
}

/**
 * One rendition's output: a fragmented MP4 streamed to a pipe (cmaf-fragments.ts reads it),
 * a fragment at every keyframe and whenever `fragmentSeconds` passed, flushed at once. A
 * fragment ends on the frame that passes the limit: `fragmentSeconds` is one frame short of
 * the part target so that no fragment exceeds it.
 */
function fragmentedOutput(fd: number, fragmentSeconds: number): string[] {
  return [
    '-map_metadata', '-1',
    '-f', 'mp4',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof+skip_sidx+skip_trailer',
    '-frag_duration', String(Math.max(1, Math.round(fragmentSeconds * 1e6))),
    '-flush_packets', '1',
    `pipe:${fd}`,
  ];
}

/**
 * The complete argument list of one packager run: one output per rendition, in the order
 * of LivePackager's rendition directories (the ladder, smallest first, then the audio).
 */
export function buildLiveArgs(cmd: LiveCommandInput): string[] {
  const builder = encoderBuilders[cmd.encoder];
  const encoded = cmd.ladder.filter((r) => !r.passthrough);
  const copied = cmd.ladder.find((r) => r.passthrough);
  const fps = cmd.fps > 0 ? cmd.fps : 30;
  const videoFragment = cmd.partSeconds - 1 / fps;
  // With a copied rung the source decides where keyframes go; x264's own GOP limit stays out of the way.
  const gop: GopSpec = { keyint: keyintFor(fps, cmd.segmentSeconds) * (copied ? 2 : 1), segmentSeconds: cmd.segmentSeconds };
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostats',
    ...(cmd.input.kind === 'pipe' ? [] : ['-nostdin']),
    ...builder.inputArgs,
    ...inputArgs(cmd.input),
    ...(cmd.watermark && encoded.length > 0 ? watermarkInputArgs(cmd.watermark) : []),
  ];
  if (encoded.length > 0) {
    const splits = encoded.map((_, i) => `[s${i}]`).join('');
    const chains = [
      `[0:v:0]split=${encoded.length}${splits}`,
      ...rungChains(encoded, builder.pixelFilter, cmd.watermark ?? null, 1),
    ];
    args.push('-filter_complex', chains.join(';'));
  }
  const encoderArgs = [
    ...builder.videoArgs(gop, cmd.preset),
    ...(LOW_LATENCY[cmd.encoder] ?? []),
    // Every rung cuts where the others do: at the source's keyframes, or every segment_s.
    '-force_key_frames', copied ? 'source' : `expr:gte(t,n_forced*${cmd.segmentSeconds})`,
    // The source's own frame times: no frames duplicated to fill a constant rate (a first
    // segment longer than the publisher's GOP), no waiting for the next frame to decide.
    '-fps_mode', 'passthrough',
  ];
  let fd = FIRST_OUTPUT_FD;
  encoded.forEach((r, i) => {
    args.push('-map', `[v${i}]`, ...forVideoStream(encoderArgs, 0), ...rungBitrateArgs([r]), ...fragmentedOutput(fd++, videoFragment));
  });
  if (copied) args.push('-map', '0:v:0', '-c:v', 'copy', ...fragmentedOutput(fd++, videoFragment));
  if (cmd.hasAudio) args.push('-map', '0:a:0', ...audioEncodeArgs(cmd.audioKbps), ...fragmentedOutput(fd++, cmd.partSeconds - AAC_FRAME_S));
  return args;
}
