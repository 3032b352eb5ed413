/**
 * The figures of `GET /v1/videos/:id/stats`, computed from SQL totals and a sample of TTFF
 * values. Pure functions: the queries live in event-store.ts.
 */

/** What the database sums up for one video (event-store.ts). */
export interface EventTotals {
  /** Sessions that sent a view_start (a repeated view_start in one page view counts once). */
  views: number;
  /** Distinct sessions that sent any event. */
  sessions: number;
  /** Sum of view_end dwell_ms. */
  watchTimeMs: number;
  /** Sessions whose furthest view_end percent_complete is at least COMPLETION_PERCENT. */
  completedSessions: number;
  /** Sum of rebuffer duration_ms. */
  rebufferMs: number;
  rebufferCount: number;
  playbackErrors: number;
}

/** `GET /v1/videos/:id/stats`. */
export interface VideoStats {
  video_id: string;
  views: number;
  unique_sessions: number;
  watch_time_ms: number;
  /** Completed sessions ÷ views, 0..1 (0 without views). */
  completion_rate: number;
  /** null when no ttff_ms event arrived. */
  ttff_p50_ms: number | null;
  ttff_p95_ms: number | null;
  /** Stall time ÷ watch time (0 without watch time). */
  rebuffer_ratio: number;
  rebuffer_count: number;
  rebuffer_ms: number;
  playback_errors: number;
}

/** A session counts as completed once it reached this far (percent of the duration). */
export const COMPLETION_PERCENT = 90;

/**
 * Nearest-rank percentile of ascending values: the smallest value with at least p% of the
 * values at or below it. null for no values.
 */
export function percentile(ascending: readonly number[], p: number): number | null {
  if (ascending.length === 0) return null;
  if (!(p > 0)) return ascending[0]!;
  const rank = Math.ceil((Math.min(p, 100) / 100) * ascending.length);
  return ascending[rank - 1]!;
}

/** Puts the totals and the TTFF sample together into the public figures. */
export function summarizeStats(videoId: string, totals: EventTotals, ttffValues: readonly number[]): VideoStats {
  const ttff = [...ttffValues].sort((a, b) => a - b);
  return {
    video_id: videoId,
    views: totals.views,
    unique_sessions: totals.sessions,
    watch_time_ms: totals.watchTimeMs,
    // A view_end without its view_start (lost batch) must not push the rate over 1.
    completion_rate: totals.views > 0 ? Math.min(1, totals.completedSessions / totals.views) : 0,
    ttff_p50_ms: percentile(ttff, 50),
    ttff_p95_ms: percentile(ttff, 95),
    rebuffer_ratio: totals.watchTimeMs > 0 ? totals.rebufferMs / totals.watchTimeMs : 0,
    rebuffer_count: totals.rebufferCount,
    rebuffer_ms: totals.rebufferMs,
    playback_errors: totals.playbackErrors,
  };
}
