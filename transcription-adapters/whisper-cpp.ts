/**
 * Transcription with an operator-installed whisper.cpp (`whisper-cli`, formerly `main`) and a
 * ggml model file named in config (`transcription.whisper_cpp.binary` / `.model`). Nothing is
 * downloaded: the operator installs both. The command writes its segments as JSON
 * (`-oj -of BASE` → BASE.json, `transcription[].offsets.{from,to}` in ms and `text`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFfmpeg } from '../core/media/ffmpeg.js';
import type { TranscriberFactory, TranscriptSegment } from '../core/transcription/transcriber.js';

interface WhisperJson {
  transcription?: { offsets?: { from?: number; to?: number }; text?: string }[];
}

/** Segments of whisper.cpp's `-oj` output (empty texts and blank-audio marks left out). */
export function parseWhisperJson(text: string): TranscriptSegment[] {
  const out = JSON.parse(text) as WhisperJson;
  return (out.transcription ?? [])
    .map((s) => ({ startMs: Math.round(s.offsets?.from ?? 0), endMs: Math.round(s.offsets?.to ?? 0), text: (s.text ?? '').trim() }))
    .filter((s) => s.text !== '' && !/^\[[A-Z_ ]+\]$/.test(s.text) && s.endMs > s.startMs);
}

const whisperCpp: TranscriberFactory = (config) => ({
  name: 'whisper-cpp',
  async transcribe(wavPath, opts) {
    const { binary, model, threads } = config.whisper_cpp;
    if (!binary || !model) throw new Error('transcription.whisper_cpp.binary and .model must name the whisper.cpp command and its model file');
    const base = join(opts.workDir, 'whisper');
    const language = opts.language.split('-')[0]!.toLowerCase();
    await runFfmpeg(binary, ['-m', model, '-f', wavPath, '-l', language, '-t', String(threads), '-oj', '-of', base, '-np'], { signal: opts.signal });
    return parseWhisperJson(await readFile(`${base}.json`, 'utf8'));
  },
});

export default whisperCpp;
