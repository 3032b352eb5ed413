/**
 * A video's chapters: `[{start_s, title}]`, set through `PATCH /v1/videos/:id` or read from
 * the source's own chapter marks, published as a WebVTT chapters track (one cue per chapter,
 * running to the next one or the end of the video).
 */
import { z } from 'zod';
import type { SourceChapter } from '../media/types.js';
import type { Cue } from './cues.js';

export type Chapter = SourceChapter;

/** What PATCH takes: up to 500 chapters, distinct start times, any order (kept sorted). */
export const chaptersSchema = z
  .array(
    z.object({
      start_s: z.number().min(0).max(14 * 24 * 3600),
      title: z.string().trim().min(1).max(200),
    }).strict(),
  )
  .max(500)
  .transform((list) => [...list].sort((a, b) => a.start_s - b.start_s))
  .refine((list) => list.every((c, i) => i === 0 || c.start_s !== list[i - 1]!.start_s), 'two chapters start at the same time');

/** The chapters stored on a video row (none when unset). */
export function storedChapters(json: string | null | undefined): Chapter[] {
  return json ? (JSON.parse(json) as Chapter[]) : [];
}

/** One cue per chapter that starts before the end, running to the next one (or the end). */
export function chapterCues(chapters: readonly Chapter[], durationMs: number): Cue[] {
  const inside = chapters.filter((c) => Math.round(c.start_s * 1000) < durationMs);
  return inside.map((c, i) => ({
    startMs: Math.round(c.start_s * 1000),
    endMs: i + 1 < inside.length ? Math.round(inside[i + 1]!.start_s * 1000) : durationMs,
    text: c.title.replace(/\s*\n\s*/g, ' '),
  }));
}
