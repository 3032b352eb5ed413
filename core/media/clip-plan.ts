/*
 * How a clip is cut from a ready version, rendition by rendition, without a transcode.
 *
 * A rendition is a row of fMP4 segments on one timeline (tfdt ticks). For a clip [start, end):
 *   - segments wholly inside the range are reused byte for byte;
 *   - the partial first and last segments become "cut" pieces: the part inside the range is
 *     re-encoded (video; with the rung's own settings, so the parent's init still describes
 *     it) or remuxed (audio: AAC frames are copied), then moved on the timeline so it joins
 *     the reused segments exactly (fmp4.withDecodeTime);
 *   - with `snap` the range first grows to the segment boundaries around it: nothing is cut.
 * The clip keeps the parent's timeline (its first segment does not start at 0), so the
 * reused segments stay identical; players start at the first segment (HLS) or at the MPD's
 * presentationTimeOffset (DASH).
 */

/** One segment of a parent rendition, on the track's timeline. */
export interface TimelineSegment {
  uri: string;
  /** tfdt, in the track's timescale. */
  start: number;
  ticks: number;
}

/** A parent rendition as measured (ladder-manifests.measureRendition). */
export interface RenditionTimeline {
  name: string;
  timescale: number;
  /** tfdt of the rendition's first segment: where the video's time 0 is. */
  origin: number;
  /** The segments around the range (all of them, or just those the clip may use), in order. */
  segments: readonly TimelineSegment[];
}

/** Seconds from the start of the video. */
export interface ClipRange {
  start_s: number;
  end_s: number;
}

/** Where a cut piece goes on the clip's timeline once its length is known. */
export type PieceAnchor =
  /** It ends where the parent segment `start` ticks begins (a head piece before reused ones). */
  | { kind: 'ends-at'; ticks: number }
  /** It starts at `ticks` (a tail piece, or a clip inside one segment). */
  | { kind: 'starts-at'; ticks: number };

export type ClipPiece =
  | { kind: 'reuse'; segment: TimelineSegment }
  /** [from_s, to_s) in seconds from the start of the parent segment `segment`. */
  | { kind: 'cut'; segment: TimelineSegment; from_s: number; to_s: number; anchor: PieceAnchor };

/** Where segment k of a rendition begins and ends, in seconds from the rendition's first segment. */
function bounds(t: RenditionTimeline): { from: number; to: number }[] {
  return t.segments.map((s) => ({ from: (s.start - t.origin) / t.timescale, to: (s.start - t.origin + s.ticks) / t.timescale }));
}

/** The range grown to the segment boundaries of `t` around it (`"snap": true`). */
export function snapRange(t: RenditionTimeline, range: ClipRange): ClipRange {
  const b = bounds(t);
  const first = [...b].reverse().find((s) => s.from <= range.start_s) ?? b[0];
  const last = b.find((s) => s.to >= range.end_s) ?? b[b.length - 1];
  return { start_s: first?.from ?? 0, end_s: last?.to ?? range.end_s };
}

/**
 * The pieces of one rendition's clip, in order. A cut closer than `tolerance_s` to a segment
 * boundary is taken at the boundary (no sliver of a piece: half a frame for video).
 */
export function planClip(t: RenditionTimeline, range: ClipRange, tolerance_s: number): ClipPiece[] {
  const b = bounds(t);
  const pieces: ClipPiece[] = [];
  t.segments.forEach((segment, k) => {
    const { from, to } = b[k]!;
    const cutFrom = Math.max(0, range.start_s - from);
    const cutTo = Math.min(to, range.end_s) - from;
    const length = to - from;
    if (cutTo - cutFrom <= tolerance_s) return; // outside the range (or a sliver of it)
    const wholeStart = cutFrom <= tolerance_s;
    const wholeEnd = length - cutTo <= tolerance_s;
    if (wholeStart && wholeEnd) {
      pieces.push({ kind: 'reuse', segment });
      return;
    }
    const next = t.segments[k + 1];
    // A head piece joins the segment after it; anything else starts where its content was.
    const anchor: PieceAnchor =
      !wholeStart && wholeEnd && next
        ? { kind: 'ends-at', ticks: next.start }
        : { kind: 'starts-at', ticks: segment.start + Math.round((wholeStart ? 0 : cutFrom) * t.timescale) };
    pieces.push({ kind: 'cut', segment, from_s: wholeStart ? 0 : cutFrom, to_s: wholeEnd ? length : cutTo, anchor });
  });
  return pieces;
}

/** Where a cut piece of `ticks` length starts on the timeline. */
export function pieceStart(anchor: PieceAnchor, ticks: number): number {
  return anchor.kind === 'ends-at' ? anchor.ticks - ticks : anchor.ticks;
}

/** One cue of a storyboard.vtt. */
interface StoryboardCue {
  start_ms: number;
  end_ms: number;
  target: string;
}

function parseTimestamp(text: string): number {
  const m = /^(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})$/.exec(text.trim());
  if (!m) return NaN;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
}

function formatTimestamp(ms: number): string {
  const pad = (n: number, w = 2): string => String(Math.floor(n)).padStart(w, '0');
  return `${pad(ms / 3_600_000)}:${pad((ms % 3_600_000) / 60_000)}:${pad((ms % 60_000) / 1000)}.${pad(ms % 1000, 3)}`;
}

function parseStoryboard(vtt: string): StoryboardCue[] {
  const cues: StoryboardCue[] = [];
  const lines = vtt.split(/\r?\n/);
  lines.forEach((line, i) => {
    const m = /^(\S+)\s+-->\s+(\S+)/.exec(line);
    const target = lines[i + 1]?.trim();
    if (!m || !target) return;
    cues.push({ start_ms: parseTimestamp(m[1]!), end_ms: parseTimestamp(m[2]!), target });
  });
  return cues.filter((c) => Number.isFinite(c.start_ms) && Number.isFinite(c.end_ms));
}

/**
 * The clip's storyboard from the parent's: the cues overlapping the range, moved to the
 * clip's time, pointing at the same tiles of the same sprite sheets. Says which sheets it uses.
 */
export function clipStoryboard(parentVtt: string, range: ClipRange, duration_ms: number): { vtt: string; sheets: string[] } {
  const startMs = Math.round(range.start_s * 1000);
  const out = ['WEBVTT', ''];
  const sheets = new Set<string>();
  for (const cue of parseStoryboard(parentVtt)) {
    const from = Math.max(0, cue.start_ms - startMs);
    const to = Math.min(duration_ms, cue.end_ms - startMs);
    if (to <= from) continue;
    sheets.add(cue.target.split('#')[0]!);
    out.push(`${formatTimestamp(from)} --> ${formatTimestamp(to)}`, cue.target, '');
  }
  return { vtt: out.join('\n'), sheets: [...sheets] };
}
