/*
 * The piscina worker: one source → a whole version directory (see OUTPUT LAYOUT in types.ts).
 *
 * 1. One ffmpeg pass (transcode-command.ts): every rung, every audio rendition, the storyboard
 *    sheets and the integrated loudness. A failing hardware encoder is retried once with libx264.
 * 2. Cheap finishing steps: VOD playlists (a last segment under 0.1 s joins the one before
 *    it), our own master.m3u8 and master.mpd from the measured files (ladder-manifests.ts),
 *    poster, storyboard.vtt.
 * An audio-only source gets the audio renditions only, a poster from its cover art or its
 * waveform, and a storyboard.vtt without cues (there is nothing to preview).
 * Progress goes to task.progressPort; `{type:'abort'}` on task.controlPort kills ffmpeg.
 */
import { appendFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeAudioPoster } from './audio-poster.js';
import { FfmpegError, runFfmpeg, type FfmpegProgress } from './ffmpeg.js';
import { ladderLayout, writeLadderManifests } from './ladder-manifests.js';
import { parseMediaPlaylist, vodPlaylist } from './playlists.js';
import { makePoster } from './poster.js';
import { storyboardVtt } from './storyboard.js';
import { MEDIA_PLAYLIST, audioRenditionsFor, buildTranscodeArgs, storyboardTileSize } from './transcode-command.js';
import type {
  TranscodeControlMessage,
  TranscodeProgress,
  TranscodeResult,
  TranscodeTask,
  VideoEncoder,
} from './types.js';
import { outputFrameRate } from './video-filters.js';

const SEGMENT_POLL_MS = 500;
/** A last segment shorter than this joins the one before it. */
export const MIN_TAIL_SECONDS = 0.1;

/** Reads "I: -23.0 LUFS" of the LAST ebur128 summary (an early graph reconfiguration prints one too). */
function loudnessReader(): { onLine(line: string): void; value(): number | null } {
  let inSummary = false;
  let value: number | null = null;
  return {
    onLine(line) {
      if (line.includes('Summary:')) inSummary = true;
      const m = inSummary ? /^\s*I:\s*(-?\d+(?:\.\d+)?) LUFS/.exec(line) : null;
      if (m?.[1]) {
        value = Number(m[1]);
        inSummary = false;
      }
    },
    value: () => value,
  };
}

async function emptyDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) await rm(path.join(dir, entry), { recursive: true, force: true });
}

async function runLadder(
  task: TranscodeTask,
  encoder: VideoEncoder,
  signal: AbortSignal,
): Promise<{ loudness: number | null }> {
  const loudness = loudnessReader();
  let reported = -1;
  const report = (doneMs: number): void => {
    const out_time_ms = Math.min(task.probe.duration_ms, Math.round(doneMs));
    if (out_time_ms <= reported) return;
    reported = out_time_ms;
    const percent = Math.min(99, Math.round((out_time_ms / Math.max(1, task.probe.duration_ms)) * 1000) / 10);
    task.progressPort?.postMessage({ out_time_ms, percent } satisfies TranscodeProgress);
  };
  // `frame` counts the first rung (out_time also counts the storyboard's timestamps); an
  // audio-only pass has no frames and no storyboard, so its out_time is right.
  const fps = outputFrameRate(task.probe, task.maxFps);
  const onProgress = (p: FfmpegProgress): void => report(task.probe.has_video ? (p.frame / fps) * 1000 : p.out_time_ms);
  // ffmpeg 5.1 prints no -progress while the storyboard output waits for its first full
  // sheet (up to columns×rows×interval seconds of video), so finished segments count too.
  const firstRung = task.probe.has_video ? task.ladder[0]?.name : audioRenditionsFor(task)[0]?.name;
  const watcher = setInterval(() => {
    if (!firstRung) return;
    readFile(path.join(task.outDir, firstRung, MEDIA_PLAYLIST), 'utf8').then(
      (text) => report(parseMediaPlaylist(text).segments.reduce((sum, seg) => sum + seg.duration, 0) * 1000),
      () => undefined,
    );
  }, SEGMENT_POLL_MS);
  try {
    await runFfmpeg(task.ffmpegPath, buildTranscodeArgs({ ...task, encoder }), {
      niceness: task.niceness,
      onProgress,
      onStderrLine: loudness.onLine,
      signal,
    });
  } finally {
    clearInterval(watcher);
  }
  return { loudness: task.probe.has_audio ? loudness.value() : null };
}

/**
 * Joins a last segment under MIN_TAIL_SECONDS to the one before it (an fMP4 segment may hold
 * several moof+mdat fragments), so no player fetches a 0.02 s crumb at the end (a source
 * whose length is just over a segment boundary). Says which segment file grew.
 */
async function absorbShortTail(dir: string, text: string): Promise<{ text: string; grown?: string }> {
  const { segments } = parseMediaPlaylist(text);
  const last = segments[segments.length - 1];
  const previous = segments[segments.length - 2];
  if (!last || !previous || last.duration >= MIN_TAIL_SECONDS) return { text };
  await appendFile(path.join(dir, previous.uri), await readFile(path.join(dir, last.uri)));
  await rm(path.join(dir, last.uri));
  const joined = (previous.duration + last.duration).toFixed(6);
  const lines = text.split('\n');
  const lastAt = lines.lastIndexOf(last.uri);
  const previousAt = lines.lastIndexOf(previous.uri);
  // Drop the tail's EXTINF and URI; the previous segment's EXTINF gets both durations.
  lines.splice(lastAt - 1, 2);
  lines[previousAt - 1] = `#EXTINF:${joined},`;
  return { text: lines.join('\n'), grown: previous.uri };
}

/** Rewrites a rendition's EVENT playlist as the final VOD one; notes a segment it rewrote. */
async function finishPlaylist(outDir: string, name: string, rewritten: string[]): Promise<void> {
  const file = path.join(outDir, name, MEDIA_PLAYLIST);
  const joined = await absorbShortTail(path.join(outDir, name), await readFile(file, 'utf8'));
  if (joined.grown) rewritten.push(path.posix.join(name, joined.grown));
  await writeFile(file, vodPlaylist(joined.text));
}

async function sheetsWritten(outDir: string): Promise<number> {
  return (await readdir(outDir)).filter((f) => /^sprite-\d+\.jpg$/.test(f)).length;
}

/** Transcodes one source into a version directory; see the file comment. */
export default async function transcode(task: TranscodeTask): Promise<TranscodeResult> {
  const started = Date.now();
  const abort = new AbortController();
  const onControl = (msg: TranscodeControlMessage): void => {
    if (msg.type === 'abort') abort.abort();
  };
  task.controlPort?.on('message', onControl);
  try {
    let encoder = task.encoder;
    let encoder_fallback: TranscodeResult['encoder_fallback'];
    let loudness: number | null;
    try {
      ({ loudness } = await runLadder(task, encoder, abort.signal));
    } catch (err) {
      if (encoder === 'libx264' || !(err instanceof FfmpegError) || err.reason !== 'exit') throw err;
      encoder_fallback = { from: encoder, reason: err.message };
      encoder = 'libx264';
      await emptyDir(task.outDir);
      ({ loudness } = await runLadder(task, encoder, abort.signal));
    }

    // Our master and MPD replace ffmpeg's master, written from the measured files.
    const hasVideo = task.probe.has_video;
    const layout = ladderLayout(task);
    const rewritten: string[] = [];
    await Promise.all([...layout.video, ...layout.audio].map((r) => finishPlaylist(task.outDir, r.name, rewritten)));
    const measured = await writeLadderManifests(task.outDir, layout);
    const { duration_ms, audio } = measured;
    // An audio-only version lists its audio renditions, without a picture size.
    const renditions = hasVideo
      ? measured.renditions
      : audio.map((a) => ({ name: a.name, width: 0, height: 0, bitrate_kbps: a.bitrate_kbps, codecs: a.codecs }));

    const posterFile = path.join(task.outDir, 'poster.jpg');
    if (hasVideo) {
      const top = task.ladder[task.ladder.length - 1] ?? { width: task.probe.width, height: task.probe.height };
      await makePoster(task.ffmpegPath, task.sourcePath, posterFile, {
        duration_ms,
        width: top.width,
        height: top.height,
        picture: task.probe,
        signal: abort.signal,
      });
    } else {
      const track = (audio.find((a) => a.default) ?? audio[0])?.track ?? 0;
      await makeAudioPoster(task.ffmpegPath, task.sourcePath, posterFile, { coverArt: task.probe.cover_art, track, signal: abort.signal });
    }

    const tile = hasVideo ? storyboardTileSize(task.probe, task.storyboard) : { width: 0, height: 0 };
    const storyboard = { ...task.storyboard, tile_width: tile.width, tile_height: tile.height, sheets: await sheetsWritten(task.outDir) };
    await writeFile(path.join(task.outDir, 'storyboard.vtt'), hasVideo ? storyboardVtt(duration_ms, storyboard) : 'WEBVTT\n');

    task.progressPort?.postMessage({ out_time_ms: duration_ms, percent: 100 } satisfies TranscodeProgress);
    return {
      encoder,
      renditions,
      audio,
      rewritten,
      loudness,
      duration_ms,
      ...(encoder_fallback ? { encoder_fallback } : {}),
      ...(hasVideo
        ? {
            storyboard: {
              sheets: storyboard.sheets,
              tile_width: tile.width,
              tile_height: tile.height,
              columns: task.storyboard.columns,
              rows: task.storyboard.rows,
            },
          }
        : {}),
      elapsed_ms: Date.now() - started,
    };
  } finally {
    task.controlPort?.off('message', onControl);
    task.controlPort?.close();
  }
}
