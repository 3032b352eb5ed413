/*
 * storyboard.vtt: one cue per storyboard interval, pointing at its tile in a sprite sheet.
 * The one-pass transcode takes the first frame of every interval (tile K shows time K·i) and
 * tiles them COLSxROWS per sheet, sprite-0.jpg first; the last sheet may be partly empty.
 */
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
