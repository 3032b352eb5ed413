/*
 * poster.jpg of an audio-only source: its embedded cover art (the attached_pic of an m4a,
 * mp3, flac or ogg) when it has one, else a picture of the default track's waveform
 * (showwavespic) so the watch page and lists still show something that belongs to the file.
 */
import { runFfmpeg, safeInputArgs } from './ffmpeg.js';

/** Size of a generated waveform picture; cover art is only scaled down to fit in it. */
export const AUDIO_POSTER_SIZE = { width: 1280, height: 720 } as const;
/** The waveform's colour on black. */
const WAVE_COLOUR = '0x3ea6ff';

/** Which picture an audio-only poster is. */
export type AudioPosterKind = 'cover_art' | 'waveform';

/** Writes poster.jpg for an audio-only source; says which picture it is. */
export async function makeAudioPoster(
  ffmpegPath: string,
  sourcePath: string,
  outFile: string,
  opts: { coverArt: boolean; track: number; signal?: AbortSignal },
): Promise<AudioPosterKind> {
  const { width, height } = AUDIO_POSTER_SIZE;
  const head = ['-hide_banner', '-nostdin', '-y', ...safeInputArgs(sourcePath)];
  const tail = ['-frames:v', '1', '-q:v', '3', '-update', '1', outFile];
  if (opts.coverArt) {
    try {
      await runFfmpeg(ffmpegPath, [
        ...head, '-map', '0:v:0', '-an', '-sn',
        '-vf', `scale='min(${width},iw)':'min(${height},ih)':force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1,format=yuvj420p`,
        ...tail,
      ], { signal: opts.signal });
      return 'cover_art';
    } catch (err) {
      // Broken artwork must not fail the video: the waveform is still a poster.
      if (opts.signal?.aborted) throw err;
    }
  }
  await runFfmpeg(ffmpegPath, [
    ...head, '-filter_complex', `[0:a:${opts.track}]showwavespic=s=${width}x${height}:colors=${WAVE_COLOUR},format=yuvj420p[w]`,
    '-map', '[w]', ...tail,
  ], { signal: opts.signal });
  return 'waveform';
}
