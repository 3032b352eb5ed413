/**
 * Transcription with CMU PocketSphinx (Debian `pocketsphinx` + `pocketsphinx-en-us`): offline,
 * CPU only, no model download. `pocketsphinx_continuous -time yes` prints every recognised
 * word with its start and end in seconds; they are grouped into caption-sized segments.
 *
 * Its accuracy on ordinary speech is low (a US-English 2010s acoustic model with a generic
 * language model): expect a rough draft to edit, not finished captions (README).
 */
import { runFfmpeg } from '../core/media/ffmpeg.js';
import { groupWords, type TranscriberFactory, type TranscriptWord } from '../core/transcription/transcriber.js';

/** "word 1.230 1.560 0.983412" (fillers and silences are left out). */
const WORD_LINE = /^(\S+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) [\d.e-]+$/;
const NOT_SPEECH = /^(<s>|<\/s>|<sil>|\[[A-Z_]+\]|\+\+.*\+\+)$/;

/** The timed words of `pocketsphinx_continuous -time yes` output. */
export function parseTimedWords(stdout: string): TranscriptWord[] {
  const words: TranscriptWord[] = [];
  for (const line of stdout.split('\n')) {
    const m = WORD_LINE.exec(line.trim());
    if (!m || NOT_SPEECH.test(m[1]!)) continue;
    // Alternate pronunciations are numbered: "the(2)".
    words.push({ word: m[1]!.replace(/\(\d+\)$/, ''), startMs: Math.round(Number(m[2]) * 1000), endMs: Math.round(Number(m[3]) * 1000) });
  }
  return words;
}

const pocketsphinx: TranscriberFactory = (config) => ({
  name: 'pocketsphinx',
  async transcribe(wavPath, opts) {
    const model = config.pocketsphinx;
    const args = ['-infile', wavPath, '-time', 'yes', '-logfn', '/dev/null'];
    if (model.hmm) args.push('-hmm', model.hmm);
    if (model.lm) args.push('-lm', model.lm);
    if (model.dict) args.push('-dict', model.dict);
    const stdout = await runFfmpeg(model.binary, args, { signal: opts.signal });
    return groupWords(parseTimedWords(stdout));
  },
});

export default pocketsphinx;
