/*
 * The piscina worker: one source → a whole version directory (see OUTPUT LAYOUT in types.ts).
 *
 * 1. One ffmpeg pass (transcode-command.ts): every rung, the audio once, the storyboard sheets
 *    and the integrated loudness. A failing hardware encoder is retried once with libx264.
 * 2. Cheap finishing steps: VOD playlists, our own master.m3u8 and master.mpd from the
 *    measured files (ladder-manifests.ts), poster, storyboard.vtt.
 * Progress goes to task.progressPort; `{type:'abort'}` on task.controlPort kills ffmpeg.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FfmpegError, runFfmpeg, type FfmpegProgress } from './ffmpeg.js';
import { ladderLayout, writeLadderManifests } from './ladder-manifests.js';
import { parseMediaPlaylist, vodPlaylist } from './playlists.js';
import { makePoster } from './poster.js';
import { storyboardVtt } from './storyboard.js';
import { MEDIA_PLAYLIST, buildTranscodeArgs, storyboardTileSize } from './transcode-command.js';
import type {
  TranscodeControlMessage,
  TranscodeProgress,
  TranscodeResult,
  TranscodeTask,
  VideoEncoder,
} from './types.js';
import { outputFrameRate } from './video-filters.js';

const SEGMENT_POLL_MS = 500;

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
  // `frame` counts the first rung (out_time also counts the storyboard's timestamps).
  const fps = outputFrameRate(task.probe, task.maxFps);
  const onProgress = (p: FfmpegProgress): void => report((p.frame / fps) * 1000);
  // ffmpeg 5.1 prints no -progress while the storyboard output waits for its first full
  // sheet (up to columns×rows×interval seconds of video), so finished segments count too.
  const firstRung = task.ladder[0]?.name;
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

/** Rewrites a rendition's EVENT playlist as the final VOD one. */
async function finishPlaylist(outDir: string, name: string): Promise<void> {
  const file = path.join(outDir, name, MEDIA_PLAYLIST);
  await writeFile(file, vodPlaylist(await readFile(file, 'utf8')));
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
    const layout = ladderLayout(task);
    await Promise.all([...layout.video, ...layout.audio].map((r) => finishPlaylist(task.outDir, r.name)));
    const { renditions, duration_ms } = await writeLadderManifests(task.outDir, layout);

    const top = task.ladder[task.ladder.length - 1] ?? { width: task.probe.width, height: task.probe.height };
    await makePoster(task.ffmpegPath, task.sourcePath, path.join(task.outDir, 'poster.jpg'), {
      duration_ms,
      width: top.width,
      height: top.height,
      picture: task.probe,
      signal: abort.signal,
    });

    const tile = storyboardTileSize(task.probe, task.storyboard);
    const storyboard = { ...task.storyboard, tile_width: tile.width, tile_height: tile.height, sheets: await sheetsWritten(task.outDir) };
    await writeFile(path.join(task.outDir, 'storyboard.vtt'), storyboardVtt(duration_ms, storyboard));

    task.progressPort?.postMessage({ out_time_ms: duration_ms, percent: 100 } satisfies TranscodeProgress);
    return {
      encoder,
      renditions,
      loudness,
      duration_ms,
      ...(encoder_fallback ? { encoder_fallback } : {}),
      storyboard: {
        sheets: storyboard.sheets,
        tile_width: tile.width,
        tile_height: tile.height,
        columns: task.storyboard.columns,
        rows: task.storyboard.rows,
      },
      elapsed_ms: Date.now() - started,
    };
  } finally {
    task.controlPort?.off('message', onControl);
    task.controlPort?.close();
  }
}
