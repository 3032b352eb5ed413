/*
 * The one ffmpeg run that makes every cut piece of a clip (clip-plan.ts): each input is a
 * parent segment with its init in front (a small fMP4 file), read from `from_s` to `to_s`;
 * each output is a one-segment CMAF HLS rendition in its own directory, so the piece is
 * muxed exactly as the ladder muxes its segments.
 *   video: decoded and encoded again with the rung's encoder settings and bit rate (the same
 *          GOP arguments as the ladder: its init, hence its sample description, stays valid);
 *   audio: AAC frames copied (no re-encode, no new priming at the splice).
 */
import path from 'node:path';
import { safeInputArgs } from './ffmpeg.js';
import { encoderBuilders, keyintFor, rungBitrateArgs } from './transcode-command.js';
import type { VideoEncoder } from './types.js';

/** The file name (inside its directory) of a cut piece's media segment and init. */
export const PIECE_SEGMENT = 'piece-0.m4s';
export const PIECE_INIT = 'init.mp4';

/** How a piece's media is made again. */
export type PieceTreatment =
  | { kind: 'video'; video_kbps: number }
  | { kind: 'audio' };

export interface CutJob {
  /** Local fMP4 file: the parent's init followed by the segment. */
  input: string;
  from_s: number;
  to_s: number;
  /** Directory that receives PIECE_INIT and PIECE_SEGMENT. */
  outDir: string;
  treatment: PieceTreatment;
}

export interface CutCommandInput {
  cuts: readonly CutJob[];
  encoder: VideoEncoder;
  preset: string;
  fps: number;
  segmentSeconds: number;
}

/** Output arguments per treatment: the compiler makes sure each kind has its own. */
const treatmentArgs: { [K in PieceTreatment['kind']]: (input: CutCommandInput, t: Extract<PieceTreatment, { kind: K }>) => string[] } = {
  video: (input, t) => {
    const builder = encoderBuilders[input.encoder];
    const gop = { keyint: keyintFor(input.fps, input.segmentSeconds), segmentSeconds: input.segmentSeconds };
    return [
      '-vf', `setsar=1,${builder.pixelFilter}`,
      ...builder.videoArgs(gop, input.preset),
      ...rungBitrateArgs([{ video_kbps: t.video_kbps }]),
    ];
  },
  audio: () => ['-c:a', 'copy'],
};

function outputArgs(input: CutCommandInput, cut: CutJob, index: number): string[] {
  const stream = cut.treatment.kind === 'video' ? 'v:0' : 'a:0';
  const specific =
    cut.treatment.kind === 'video' ? treatmentArgs.video(input, cut.treatment) : treatmentArgs.audio(input, cut.treatment);
  return [
    '-map', `${index}:${stream}`,
    ...specific,
    '-map_metadata', '-1', '-map_chapters', '-1',
    '-f', 'hls',
    // Longer than any piece: each piece is one segment.
    '-hls_time', String(input.segmentSeconds * 10),
    '-hls_list_size', '0',
    '-hls_playlist_type', 'vod',
    '-hls_segment_type', 'fmp4',
    '-hls_fmp4_init_filename', PIECE_INIT,
    '-hls_segment_filename', path.join(cut.outDir, 'piece-%d.m4s'),
    path.join(cut.outDir, 'piece.m3u8'),
  ];
}

/** The complete argument list: every cut as one input and one output. */
export function buildCutArgs(input: CutCommandInput): string[] {
  const args = ['-hide_banner', '-nostdin', '-y', '-nostats', '-v', 'error'];
  for (const cut of input.cuts) {
    // Input seeking is from the file's own start: the piece starts at from_s into the segment.
    args.push('-ss', cut.from_s.toFixed(6), '-to', cut.to_s.toFixed(6), ...safeInputArgs(cut.input));
  }
  input.cuts.forEach((cut, i) => args.push(...outputArgs(input, cut, i)));
  return args;
}
