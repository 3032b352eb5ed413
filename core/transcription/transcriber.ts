/**
 * The transcription seam: speech in a WAV file → timed text. Core owns this interface and
 * what is done with the result (core/jobs/handlers/captions-generate.ts makes it a caption
 * track); `transcription-adapters/*.ts` implement it around an engine (one file each,
 * default-exported factory); core/app.ts picks one by `transcription.engine`. A plugin may
 * stand in for the engine with the `filter:captions.transcribe` hook.
 */
import type { Config } from '../../config/schema.js';
import type { Logger } from '../logger.js';

/** A stretch of recognised speech, milliseconds from the start of the audio. */
export interface TranscriptSegment {
  startMs: number;
  endMs: number;
  text: string;
}

/** One recognised word with its timing (engines that time words, e.g. pocketsphinx). */
export interface TranscriptWord {
  startMs: number;
  endMs: number;
  word: string;
}

export interface TranscribeOptions {
  /** BCP 47 language of the speech (one of `transcription.languages`). */
  language: string;
  signal: AbortSignal;
  /** A scratch directory the adapter may write into (removed after the job). */
  workDir: string;
}

export interface Transcriber {
  /** Engine name, for logs and the caption's provenance. */
  readonly name: string;
  /**
   * Recognises the speech of `wavPath` (16 kHz mono 16-bit PCM). Rejects when the engine
   * fails or `signal` aborts (the engine's process is ended).
   */
  transcribe(wavPath: string, opts: TranscribeOptions): Promise<TranscriptSegment[]>;
}

export type TranscriberFactory = (config: Readonly<Config['transcription']>, logger: Logger) => Transcriber;

/** Longest caption cue made from words, and the pause that always starts a new one. */
const MAX_CUE_MS = 6000;
const MAX_CUE_CHARS = 84;
const PAUSE_MS = 700;

/**
 * Words grouped into caption-sized segments: a new one after a pause, or when the current
 * one would run past ~6 s or two 42-character lines.
 */
export function groupWords(words: readonly TranscriptWord[]): TranscriptSegment[] {
  const out: TranscriptSegment[] = [];
  let current: TranscriptSegment | undefined;
  for (const w of words) {
    const breaks =
      !current ||
      w.startMs - current.endMs > PAUSE_MS ||
      w.endMs - current.startMs > MAX_CUE_MS ||
      current.text.length + 1 + w.word.length > MAX_CUE_CHARS;
    if (breaks) {
      current = { startMs: w.startMs, endMs: w.endMs, text: w.word };
      out.push(current);
    } else {
      current!.endMs = w.endMs;
      current!.text += ` ${w.word}`;
    }
  }
  return out;
}
