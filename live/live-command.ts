/*
 * The ffmpeg arguments of one live packager run: the ingest (FLV on stdin, or pulled from an
 * RTMP URL) → a CMAF HLS ladder, one process per run.
 *
 *   [0:v] → split ─┬→ scale WxH, setsar=1, pixel format → encoder → HLS rung   (encoded rungs)
 *                  └→ …
 *   [0:v] ───────────────────────────────────────────────→ copy → HLS top rung (passthrough)
 *   [0:a] → AAC (encoded once, its own HLS audio group)
 *
 * Segments must line up across rungs. When the top rung is copied, its segments can only cut
 * at the broadcaster's keyframes, so the encoded rungs take their keyframes from the source
 * (`-force_key_frames source`) and every variant cuts at the same instants. Without a copied
 * rung, keyframes are forced every segment_s as in the VOD ladder. The shared pieces (encoder
 * arguments, bitrates, audio, the HLS output) come from core/media/transcode-command.ts.
 */
import type { Rung, VideoEncoder } from '../core/media/types.js';
import {
  audioEncodeArgs,
  encoderBuilders,
  hlsLadderOutputArgs,
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
  /** Local directory of this run (rendition directories are made under it). */
  outDir: string;
  /** Smallest first; only the last rung may be `passthrough`. */
  ladder: readonly LiveRung[];
  hasAudio: boolean;
  /** The ingest's frame rate (for the GOP length of encoded rungs). */
  fps: number;
  segmentSeconds: number;
  preset: string;
  audioKbps: number;
  encoder: VideoEncoder;
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
export const LIVE_SEGMENT_PATTERN = 'seg-%05d.m4s';

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

/** The complete argument list of one packager run. */
export function buildLiveArgs(cmd: LiveCommandInput): string[] {
  const builder = encoderBuilders[cmd.encoder];
  const encoded = cmd.ladder.filter((r) => !r.passthrough);
  const copied = cmd.ladder.find((r) => r.passthrough);
  const fps = cmd.fps > 0 ? cmd.fps : 30;
  // With a copied rung the source decides where keyframes go; x264's own GOP limit stays out of the way.
  const gop: GopSpec = { keyint: keyintFor(fps, cmd.segmentSeconds) * (copied ? 2 : 1), segmentSeconds: cmd.segmentSeconds };
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostats',
    ...(cmd.input.kind === 'pipe' ? [] : ['-nostdin']),
    ...builder.inputArgs,
    ...inputArgs(cmd.input),
  ];
  if (encoded.length > 0) {
    const splits = encoded.map((_, i) => `[s${i}]`).join('');
    const chains = [
      `[0:v:0]split=${encoded.length}${splits}`,
      ...encoded.map((r, i) => `[s${i}]scale=${r.width}:${r.height},setsar=1,${builder.pixelFilter}[v${i}]`),
    ];
    args.push('-filter_complex', chains.join(';'));
  }
  args.push('-map_metadata', '-1');
  encoded.forEach((_, i) => args.push('-map', `[v${i}]`));
  if (copied) args.push('-map', '0:v:0');
  if (cmd.hasAudio) args.push('-map', '0:a:0');
  const encoderArgs = [
    ...builder.videoArgs(gop, cmd.preset),
    ...(LOW_LATENCY[cmd.encoder] ?? []),
    '-force_key_frames', copied ? 'source' : `expr:gte(t,n_forced*${cmd.segmentSeconds})`,
  ];
  // Encoder options go to the encoded streams only: the copied stream has no encoder to take them.
  encoded.forEach((_, i) => args.push(...forVideoStream(encoderArgs, i)));
  args.push(...rungBitrateArgs(encoded));
  if (copied) args.push(`-c:v:${encoded.length}`, 'copy');
  if (cmd.hasAudio) args.push(...audioEncodeArgs(cmd.audioKbps));
  args.push(
    ...hlsLadderOutputArgs({
      names: [...encoded, ...(copied ? [copied] : [])].map((r) => r.name),
      hasAudio: cmd.hasAudio,
      segmentSeconds: cmd.segmentSeconds,
      outDir: cmd.outDir,
      listSize: 0,
      segmentPattern: LIVE_SEGMENT_PATTERN,
    }),
  );
  return args;
}
