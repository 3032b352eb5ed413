/*
 * Which H.264 encoder to use. Being compiled in proves nothing (Debian's ffmpeg lists
 * nvenc/vaapi/qsv on machines without the hardware), so each candidate does a real 5-frame
 * test encode with the same encoder arguments the transcode uses. libx264 is always the
 * last candidate, so forcing an unavailable hardware encoder falls back with its reason kept.
 */
import { FfmpegError, FfmpegUnavailableError, runFfmpeg } from './ffmpeg.js';
import { encoderBuilders, keyintFor } from './transcode-command.js';
import type { VideoEncoder } from './types.js';

/** config `transcode.hwaccel`. */
export type HwaccelMode = 'auto' | 'none' | 'vaapi' | 'nvenc' | 'qsv';

/** Candidates per mode, best first; each ends with libx264. */
export const ENCODER_CANDIDATES: { [M in HwaccelMode]: readonly VideoEncoder[] } = {
  auto: ['h264_nvenc', 'h264_qsv', 'h264_vaapi', 'libx264'],
  none: ['libx264'],
  vaapi: ['h264_vaapi', 'libx264'],
  nvenc: ['h264_nvenc', 'libx264'],
  qsv: ['h264_qsv', 'libx264'],
};

/** The outcome of one test encode. */
export interface EncoderTrial {
  encoder: VideoEncoder;
  ok: boolean;
  /** "ok", or why the test encode failed (last lines of ffmpeg's stderr). */
  reason: string;
}

export interface EncoderDetection {
  /** Encoders whose test encode succeeded, in preference order. */
  usable: VideoEncoder[];
  tried: EncoderTrial[];
}

const TRIAL_TIMEOUT_MS = 20_000;

async function trial(ffmpegPath: string, encoder: VideoEncoder): Promise<EncoderTrial> {
  const builder = encoderBuilders[encoder];
  try {
    await runFfmpeg(
      ffmpegPath,
      [
        '-hide_banner', '-nostdin', '-v', 'error', ...builder.inputArgs,
        '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10',
        '-frames:v', '5', '-vf', builder.pixelFilter,
        ...builder.videoArgs({ keyint: keyintFor(10, 2), segmentSeconds: 2 }, 'veryfast'),
        '-f', 'null', '-',
      ],
      { timeoutMs: TRIAL_TIMEOUT_MS },
    );
    return { encoder, ok: true, reason: 'ok' };
  } catch (err) {
    const reason = err instanceof FfmpegError ? err.stderrTail.trim().split('\n').slice(-2).join(' | ') || err.message : String(err);
    return { encoder, ok: false, reason };
  }
}

/** Test-encodes every candidate of `mode` (sequentially: GPUs dislike parallel probing). */
export async function detectEncoders(ffmpegPath: string, mode: HwaccelMode): Promise<EncoderDetection> {
  const tried: EncoderTrial[] = [];
  for (const encoder of ENCODER_CANDIDATES[mode]) tried.push(await trial(ffmpegPath, encoder));
  return { usable: tried.filter((t) => t.ok).map((t) => t.encoder), tried };
}

/** The encoder to use for `mode`, with the trials that led to it. */
export async function pickEncoder(
  ffmpegPath: string,
  mode: HwaccelMode,
): Promise<{ encoder: VideoEncoder; tried: EncoderTrial[] }> {
  const detection = await detectEncoders(ffmpegPath, mode);
  const encoder = detection.usable[0];
  if (!encoder) {
    const why = detection.tried.map((t) => `${t.encoder}: ${t.reason}`).join('; ');
    throw new FfmpegUnavailableError(`no H.264 encoder works in ${ffmpegPath} (${why})`);
  }
  return { encoder, tried: detection.tried };
}
