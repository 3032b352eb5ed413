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
import { setPriority } from 'node:os';
import path from 'node:path';
import { makeAudioPoster } from './audio-poster.js';
import { FfmpegError, runFfmpeg, type FfmpegProgress } from './ffmpeg.js';
import type { ChunkPart } from './chunk-plan.js';
import { withDecodeTime } from './fmp4.js';
import { ladderLayout, measureRendition, writeLadderManifests, type MeasuredRendition } from './ladder-manifests.js';
import { parseMediaPlaylist, vodPlaylist } from './playlists.js';
import { makePoster } from './poster.js';
import { storyboardVtt } from './storyboard.js';
import { MEDIA_PLAYLIST, audioRenditionsFor, buildChunkArgs, buildTranscodeArgs, storyboardTileSize } from './transcode-command.js';
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
  chunk?: Extract<ChunkPart, { kind: 'video' }>,
): Promise<{ loudness: number | null }> {
  const loudness = loudnessReader();
  let reported = -1;
  const report = (doneMs: number): void => {
    const totalMs = chunk ? ((chunk.end_s ?? task.probe.duration_ms / 1000) - chunk.start_s) * 1000 : task.probe.duration_ms;
    const out_time_ms = Math.min(totalMs, Math.round(doneMs));
    if (out_time_ms <= reported) return;
    reported = out_time_ms;
    const percent = Math.min(99, Math.round((out_time_ms / Math.max(1, totalMs)) * 1000) / 10);
    task.progressPort?.postMessage({ out_time_ms, percent } satisfies TranscodeProgress);
  };
  // `frame` counts the first rung (out_time also counts the storyboard's timestamps); an
  // audio-only pass has no frames and no storyboard, so its out_time is right.
  const fps = outputFrameRate(task.probe, task.maxFps);
  // The audio part of a chunked transcode encodes no picture.
  const pictures = task.probe.has_video && task.part?.kind !== 'audio';
  const onProgress = (p: FfmpegProgress): void => report(pictures ? (p.frame / fps) * 1000 : p.out_time_ms);
  // ffmpeg 5.1 prints no -progress while the storyboard output waits for its first full
  // sheet (up to columns×rows×interval seconds of video), so finished segments count too.
  const firstRung = pictures ? task.ladder[0]?.name : audioRenditionsFor(task)[0]?.name;
  const watcher = setInterval(() => {
    if (!firstRung) return;
    readFile(path.join(task.outDir, firstRung, MEDIA_PLAYLIST), 'utf8').then(
      (text) => report(parseMediaPlaylist(text).segments.reduce((sum, seg) => sum + seg.duration, 0) * 1000),
      () => undefined,
    );
  }, SEGMENT_POLL_MS);
  try {
    const args = chunk ? buildChunkArgs({ ...task, encoder }, chunk) : buildTranscodeArgs({ ...task, encoder });
    await runFfmpeg(task.ffmpegPath, args, {
      niceness: task.niceness,
      onProgress,
      onStderrLine: loudness.onLine,
      signal,
    });
  } finally {
    clearInterval(watcher);
  }
  return { loudness: task.probe.has_audio && !chunk ? loudness.value() : null };
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

/** Measures the named renditions of a finished part (each has its VOD playlist). */
async function measureAll(outDir: string, names: readonly string[]): Promise<MeasuredRendition[]> {
  const measured = await Promise.all(names.map((name) => measureRendition(outDir, name)));
  return measured.map((m, i) => {
    if (!m) throw new Error(`the part wrote no segment for ${names[i]}`);
    return m;
  });
}

/**
 * One video chunk of a chunked transcode: every rung from the chunk's keyframe on, then
 * each segment's decode times moved by the frames before the chunk, so its segments sit on
 * the version's timeline exactly where the one pass would have put them.
 */
async function transcodeChunk(task: TranscodeTask, chunk: Extract<ChunkPart, { kind: 'video' }>, signal: AbortSignal): Promise<TranscodeResult> {
  const started = Date.now();
  // No fallback to libx264 here: its init segments would differ from the other chunks'.
  await runLadder(task, task.encoder, signal, chunk);
  const fps = outputFrameRate(task.probe, task.maxFps);
  const names = task.ladder.map((r) => r.name);
  const rewritten: string[] = [];
  // Only the last chunk can end in a crumb of a segment (as the one pass's last segment).
  await Promise.all(names.map((name) => (chunk.end_s === null ? finishPlaylist(task.outDir, name, rewritten) : finishPlaylist(task.outDir, name, []))));
  let frames = 0;
  for (const rendition of await measureAll(task.outDir, names)) {
    const ticksPerFrame = rendition.timescale / fps;
    const offset = Math.round(chunk.first_frame * ticksPerFrame);
    for (const seg of rendition.segments) {
      const file = path.join(task.outDir, rendition.name, seg.uri);
      await writeFile(file, withDecodeTime(await readFile(file), seg.start + offset));
    }
    frames = Math.round(rendition.segments.reduce((sum, s) => sum + s.ticks, 0) / ticksPerFrame);
  }
  const renditions = await measureAll(task.outDir, names);
  const duration_ms = Math.round((frames / fps) * 1000);
  task.progressPort?.postMessage({ out_time_ms: duration_ms, percent: 100 } satisfies TranscodeProgress);
  return { encoder: task.encoder, renditions: [], audio: [], loudness: null, duration_ms, chunk: { renditions, frames }, elapsed_ms: Date.now() - started };
}

/** Transcodes one source into a version directory; see the file comment. */
export default async function transcode(task: TranscodeTask): Promise<TranscodeResult> {
  const started = Date.now();
  // Niceness is per thread on Linux and a child inherits its forking thread's: lowering this
  // worker thread's first makes every ffmpeg it spawns start niced (runFfmpeg's setPriority
  // on the child came a moment after the fork, so a child could run briefly at full priority).
  if (task.niceness) {
    try {
      setPriority(task.niceness);
    } catch {
      // Not permitted: runFfmpeg still renices each child.
    }
  }
  const abort = new AbortController();
  const onControl = (msg: TranscodeControlMessage): void => {
    if (msg.type === 'abort') abort.abort();
  };
  task.controlPort?.on('message', onControl);
  try {
    if (task.part?.kind === 'video') return await transcodeChunk(task, task.part, abort.signal);
    // The audio part of a chunked transcode is the one pass without its rungs.
    const audioPart = task.part?.kind === 'audio';
    const ladderTask = audioPart ? { ...task, ladder: [] } : task;
    let encoder = task.encoder;
    let encoder_fallback: TranscodeResult['encoder_fallback'];
    let loudness: number | null;
    try {
      ({ loudness } = await runLadder(ladderTask, encoder, abort.signal));
    } catch (err) {
      if (encoder === 'libx264' || audioPart || !(err instanceof FfmpegError) || err.reason !== 'exit') throw err;
      encoder_fallback = { from: encoder, reason: err.message };
      encoder = 'libx264';
      await emptyDir(task.outDir);
      ({ loudness } = await runLadder(task, encoder, abort.signal));
    }

    // Our master and MPD replace ffmpeg's master, written from the measured files.
    const hasVideo = task.probe.has_video;
    const layout = ladderLayout(ladderTask);
    const rewritten: string[] = [];
    await Promise.all([...layout.video, ...layout.audio].map((r) => finishPlaylist(task.outDir, r.name, rewritten)));
    const measured = await writeLadderManifests(task.outDir, layout);
    const { audio } = measured;
    // The audio part: the storyboard covers the video, whose length the probe tells (vod.finish rewrites it from the chunks).
    const duration_ms = audioPart ? Math.round((Math.round(((task.probe.video_duration_ms ?? task.probe.duration_ms) / 1000) * outputFrameRate(task.probe, task.maxFps)) / outputFrameRate(task.probe, task.maxFps)) * 1000) : measured.duration_ms;
    // An audio-only version lists its audio renditions, without a picture size.
    const renditions = hasVideo
      ? audioPart
        ? []
        : measured.renditions
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

    // The audio part has no storyboard: vod.finish lays the chunks' tiles out in sheets.
    const withStoryboard = hasVideo && !audioPart;
    const tile = withStoryboard ? storyboardTileSize(task.probe, task.storyboard) : { width: 0, height: 0 };
    const storyboard = { ...task.storyboard, tile_width: tile.width, tile_height: tile.height, sheets: await sheetsWritten(task.outDir) };
    if (!audioPart) await writeFile(path.join(task.outDir, 'storyboard.vtt'), withStoryboard ? storyboardVtt(duration_ms, storyboard) : 'WEBVTT\n');

    task.progressPort?.postMessage({ out_time_ms: duration_ms, percent: 100 } satisfies TranscodeProgress);
    return {
      encoder,
      renditions,
      audio,
      rewritten,
      loudness,
      duration_ms,
      ...(audioPart ? { chunk: { renditions: await measureAll(task.outDir, layout.audio.map((a) => a.name)), frames: 0 } } : {}),
      ...(encoder_fallback ? { encoder_fallback } : {}),
      ...(withStoryboard
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
