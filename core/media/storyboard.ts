/*
 * storyboard.vtt: one cue per storyboard interval, pointing at its tile in a sprite sheet.
 * The one-pass transcode takes the first frame of every interval (tile K shows time K·i) and
 * tiles them COLSxROWS per sheet, sprite-0.jpg first; the last sheet may be partly empty.
 * A chunked transcode gets the same tiles one file each from its chunks (the frames that
 * open an interval, transcode-command.ts `storyboardTileChain`) and `layOutSheets` tiles
 * them afterwards, so no part decodes the whole video again for them.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { runFfmpeg } from './ffmpeg.js';
import { SPRITE_PATTERN, TILE_PATTERN } from './transcode-command.js';
import type { StoryboardSpec } from './types.js';

/** Where the storyboard's tiles are. */
export interface StoryboardLayout extends StoryboardSpec {
  tile_height: number;
  /** Sheets actually written (sprite-0.jpg … sprite-{sheets-1}.jpg). */
  sheets: number;
}

function timestamp(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(Math.round(ms % 1000), 3)}`;
}

/** Number of tiles the transcode's select filter emits for a video of this duration. */
export function storyboardTileCount(duration_ms: number, interval_s: number): number {
  return Math.max(1, Math.ceil(duration_ms / 1000 / interval_s - 1e-6));
}

/** The WebVTT text; cues cover [0, duration] and name `sprite-K.jpg#xywh=x,y,w,h`. */
export function storyboardVtt(duration_ms: number, layout: StoryboardLayout): string {
  const perSheet = layout.columns * layout.rows;
  const count = Math.min(storyboardTileCount(duration_ms, layout.interval_s), Math.max(1, layout.sheets) * perSheet);
  const out = ['WEBVTT', ''];
  for (let k = 0; k < count; k++) {
    const start = Math.round(k * layout.interval_s * 1000);
    const end = k === count - 1 ? duration_ms : Math.round((k + 1) * layout.interval_s * 1000);
    const idx = k % perSheet;
    const x = (idx % layout.columns) * layout.tile_width;
    const y = Math.floor(idx / layout.columns) * layout.tile_height;
    out.push(`${timestamp(start)} --> ${timestamp(end)}`);
    out.push(`sprite-${Math.floor(k / perSheet)}.jpg#xywh=${x},${y},${layout.tile_width},${layout.tile_height}`, '');
  }
  return out.join('\n');
}

/** A chunk's tile file name (transcode-command.ts TILE_PATTERN) → its number on the version's timeline. */
export function tileNumber(file: string): number | null {
  const m = /^tile-(\d+)\.jpg$/.exec(file);
  return m ? Number(m[1]) : null;
}

/**
 * Lays a chunked transcode's tiles (`tile-00000.jpg` … in `tilesDir`, one per interval) out
 * in sheets `sprite-K.jpg` in `outDir`, as the one pass's `tile` filter does; returns how
 * many sheets. The tiles must be numbered 0…n-1 without a hole (a missing chunk's tiles
 * would shift every later cue): anything else throws.
 */
export async function layOutSheets(
  ffmpegPath: string,
  tilesDir: string,
  outDir: string,
  spec: Pick<StoryboardSpec, 'columns' | 'rows'>,
  signal?: AbortSignal,
): Promise<number> {
  const numbers = (await readdir(tilesDir)).map(tileNumber).filter((n): n is number => n !== null).sort((a, b) => a - b);
  const hole = numbers.findIndex((n, i) => n !== i);
  if (numbers.length === 0 || hole >= 0) {
    throw new Error(numbers.length === 0 ? 'the chunks wrote no storyboard tile' : `storyboard tile ${hole} is missing (the chunks wrote ${numbers.length} tiles up to ${numbers[numbers.length - 1]})`);
  }
  // Our own tiles, but a remote runner wrote them: only JPEG is decoded, only local files opened.
  await runFfmpeg(
    ffmpegPath,
    [
      '-hide_banner', '-nostdin', '-y', '-nostats',
      '-protocol_whitelist', 'file', '-f', 'image2', '-c:v', 'mjpeg', '-framerate', '1', '-start_number', '0',
      '-i', `file:${path.resolve(tilesDir, TILE_PATTERN)}`,
      '-vf', `tile=${spec.columns}x${spec.rows}`,
      '-c:v', 'mjpeg', '-q:v', '5', '-fps_mode', 'passthrough',
      '-f', 'image2', '-start_number', '0', path.join(outDir, SPRITE_PATTERN),
    ],
    signal ? { signal } : {},
  );
  return Math.ceil(numbers.length / (spec.columns * spec.rows));
}
