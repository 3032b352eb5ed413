/**
 * Telemetry over the metadata seam: ingest (one multi-row INSERT per batch, after one query
 * for the batch's distinct video ids) and the per-video totals the stats are made from
 * (counts, sums and distinct counts in portable SQL; TTFF percentiles over a bounded sample).
 */
import type { Expression, Insertable, Kysely, SqlBool } from 'kysely';
import type { Database, PlaybackEventsTable } from '../storage/metadata-db.js';
import type { EventOf, EventType, RejectedEvent, TelemetryEvent, ValidatedBatch } from './events.js';
import { COMPLETION_PERCENT, summarizeStats, type EventTotals, type VideoStats } from './stats.js';

/** Most TTFF values the percentiles are computed over (the newest ones). */
export const TTFF_SAMPLE_LIMIT = 10_000;

type EventRow = Insertable<PlaybackEventsTable>;
type Figures = Pick<EventRow, 'dwell_ms' | 'percent_complete' | 'ttff_ms' | 'duration_ms' | 'kbps' | 'detail'>;

function detail(fields: Record<string, unknown>): string | null {
  const present = Object.entries(fields).filter(([, v]) => v !== undefined);
  return present.length > 0 ? JSON.stringify(Object.fromEntries(present)) : null;
}

/** Where each type's fields go: the figures the stats read get columns, the rest is JSON. */
const figuresOf: { [K in EventType]: (e: EventOf<K>) => Figures } = {
  view_start: () => ({}),
  view_end: (e) => ({ dwell_ms: Math.round(e.dwell_ms), percent_complete: e.percent_complete }),
  play: (e) => ({ detail: detail({ position_s: e.position_s }) }),
  pause: (e) => ({ detail: detail({ position_s: e.position_s }) }),
  seek: (e) => ({ detail: detail({ from_s: e.from_s, to_s: e.to_s }) }),
  playback_error: (e) => ({ detail: detail({ code: e.code, message: e.message, fatal: e.fatal }) }),
  ttff_ms: (e) => ({ ttff_ms: Math.round(e.ttff_ms) }),
  rebuffer: (e) => ({ duration_ms: Math.round(e.duration_ms) }),
  bitrate_change: (e) => ({ kbps: e.kbps, detail: detail({ height: e.height }) }),
};

function toRow(e: TelemetryEvent, receivedAt: number): EventRow {
  const figures = (figuresOf[e.type] as (e: TelemetryEvent) => Figures)(e);
  return {
    video_id: e.video_id,
    session_id: e.session_id,
    type: e.type,
    ts: e.ts,
    received_at: receivedAt,
    dwell_ms: null,
    percent_complete: null,
    ttff_ms: null,
    duration_ms: null,
    kbps: null,
    detail: null,
    ...figures,
  };
}

/** What ingest kept and refused (the 202 body of POST /v1/events). */
export interface IngestResult {
  accepted: number;
  rejected: number;
  errors: RejectedEvent[];
}

export class EventStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The ids among `ids` that name existing videos (one query). */
  async existingVideoIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.selectFrom('videos').select('id').where('id', 'in', ids).execute();
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Keeps the valid events of a batch whose video exists, in one INSERT. Events for unknown
   * videos join the batch's refused ones, reported by their index.
   */
  async ingest(batch: ValidatedBatch): Promise<IngestResult> {
    const rejected = [...batch.rejected];
    let kept = batch.events;
    for (let attempt = 0; ; attempt++) {
      const known = await this.existingVideoIds([...new Set(kept.map((k) => k.event.video_id))]);
      const unknown = kept.filter((k) => !known.has(k.event.video_id));
      kept = kept.filter((k) => known.has(k.event.video_id));
      rejected.push(...unknown.map((k) => ({ index: k.index, message: `video_id: no video ${k.event.video_id}` })));
      if (kept.length === 0) break;
      const receivedAt = this.now();
      try {
        await this.db.insertInto('playback_events').values(kept.map((k) => toRow(k.event, receivedAt))).execute();
        break;
      } catch (err) {
        // A video deleted between the check and the insert fails the foreign key: check again
        // once (dropping its events); any other failure is not ours to hide.
        if (attempt > 0 || unknown.length > 0) throw err;
        const stillKnown = await this.existingVideoIds([...known]);
        if (stillKnown.size === known.size) throw err;
      }
    }
    rejected.sort((a, b) => a.index - b.index);
    return { accepted: kept.length, rejected: rejected.length, errors: rejected };
  }

  /** The sums the stats are made from, in one query. */
  async totals(videoId: string): Promise<EventTotals> {
    const row = await this.db
      .selectFrom('playback_events')
      .where('video_id', '=', videoId)
      .select((eb) => {
        const sessionsWhere = (condition: Expression<SqlBool>) =>
          eb.fn.count(eb.case().when(condition).then(eb.ref('session_id')).end()).distinct();
        return [
          sessionsWhere(eb('type', '=', 'view_start')).as('views'),
          eb.fn.count('session_id').distinct().as('sessions'),
          eb.fn.sum('dwell_ms').as('watch_time_ms'),
          sessionsWhere(eb.and([eb('type', '=', 'view_end'), eb('percent_complete', '>=', COMPLETION_PERCENT)])).as('completed'),
          eb.fn.sum('duration_ms').as('rebuffer_ms'),
          eb.fn.count('duration_ms').as('rebuffer_count'),
          eb.fn.count(eb.case().when('type', '=', 'playback_error').then(eb.lit(1)).end()).as('errors'),
        ];
      })
      .executeTakeFirstOrThrow();
    // Postgres returns counts and bigint sums as strings; SQLite as numbers; empty sums as null.
    return {
      views: Number(row.views),
      sessions: Number(row.sessions),
      watchTimeMs: Number(row.watch_time_ms ?? 0),
      completedSessions: Number(row.completed),
      rebufferMs: Number(row.rebuffer_ms ?? 0),
      rebufferCount: Number(row.rebuffer_count),
      playbackErrors: Number(row.errors),
    };
  }

  /** The newest TTFF values of a video (at most TTFF_SAMPLE_LIMIT). */
  async ttffSample(videoId: string, limit = TTFF_SAMPLE_LIMIT): Promise<number[]> {
    const rows = await this.db
      .selectFrom('playback_events')
      .select('ttff_ms')
      .where('video_id', '=', videoId)
      .where('type', '=', 'ttff_ms')
      .orderBy('received_at', 'desc')
      .limit(limit)
      .execute();
    return rows.flatMap((r) => (r.ttff_ms === null ? [] : [Number(r.ttff_ms)]));
  }

  /** `GET /v1/videos/:id/stats` for a video the caller may see. */
  async stats(videoId: string): Promise<VideoStats> {
    const [totals, ttff] = await Promise.all([this.totals(videoId), this.ttffSample(videoId)]);
    return summarizeStats(videoId, totals, ttff);
  }
}
