/**
 * Telemetry over the metadata seam: admission (one query for the batch's distinct video ids:
 * only public, ready videos take events), storage (multi-row INSERTs, called by the
 * write-behind buffer in event-buffer.ts) and the per-video totals the stats are made from
 * (counts, sums and distinct counts in portable SQL over the raw events plus their daily
 * roll-ups; TTFF percentiles over a bounded sample of the raw events kept).
 */
import type { Expression, Insertable, Kysely, SqlBool } from 'kysely';
import type { Database, PlaybackEventsTable } from '../storage/metadata-db.js';
import type { EventOf, EventType, RejectedEvent, TelemetryEvent, ValidatedBatch } from './events.js';
import { COMPLETION_PERCENT, summarizeStats, type EventTotals, type VideoStats } from './stats.js';

/** Most TTFF values the percentiles are computed over (the newest ones). */
export const TTFF_SAMPLE_LIMIT = 10_000;

export type EventRow = Insertable<PlaybackEventsTable>;
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

/** A batch sorted out: the rows to store (with their place in the batch) and the refused events. */
export interface AdmittedBatch {
  rows: { index: number; row: EventRow }[];
  rejected: RejectedEvent[];
}

/** Most rows one INSERT carries (12 columns each: well under SQLite's 32 766 variables). */
const INSERT_ROWS = 500;

export class EventStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The ids among `ids` of videos that take telemetry: public and ready (one query). */
  async eligibleVideoIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('videos')
      .select('id')
      .where('id', 'in', ids)
      .where('status', '=', 'ready')
      .where('visibility', '=', 'public')
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Sorts a validated batch (one read): events for public, ready videos become rows;
   * the others (unknown, private, unlisted, still processing) join the refused ones by
   * index, all with the same message so that nothing about a private video leaks.
   */
  async admit(batch: ValidatedBatch): Promise<AdmittedBatch> {
    const eligible = await this.eligibleVideoIds([...new Set(batch.events.map((k) => k.event.video_id))]);
    const receivedAt = this.now();
    const rows: AdmittedBatch['rows'] = [];
    const rejected = [...batch.rejected];
    for (const { index, event } of batch.events) {
      if (eligible.has(event.video_id)) rows.push({ index, row: toRow(event, receivedAt) });
      else rejected.push({ index, message: `video_id: no public ready video ${event.video_id}` });
    }
    rejected.sort((a, b) => a.index - b.index);
    return { rows, rejected };
  }

  /**
   * Stores rows, INSERT_ROWS per statement (each takes SQLite's write lock briefly, so other
   * writers get their turn in between). A video deleted since its events were admitted
   * fails its statement's foreign key: that statement is retried once without them.
   */
  async insert(rows: readonly EventRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += INSERT_ROWS) {
      let chunk = rows.slice(i, i + INSERT_ROWS);
      try {
        await this.db.insertInto('playback_events').values(chunk).execute();
      } catch (err) {
        const ids = [...new Set(chunk.map((r) => r.video_id))];
        const existing = await this.db.selectFrom('videos').select('id').where('id', 'in', ids).execute();
        if (existing.length === ids.length) throw err;
        const kept = new Set(existing.map((r) => r.id));
        chunk = chunk.filter((r) => kept.has(r.video_id));
        if (chunk.length > 0) await this.db.insertInto('playback_events').values(chunk).execute();
      }
    }
  }

  /** Admits and stores a batch at once (no buffer: tools and tests). */
  async ingest(batch: ValidatedBatch): Promise<IngestResult> {
    const { rows, rejected } = await this.admit(batch);
    await this.insert(rows.map((r) => r.row));
    return { accepted: rows.length, rejected: rejected.length, errors: rejected };
  }

  /**
   * The sums the stats are made from: the raw events kept, plus the daily roll-ups of older
   * ones (core/telemetry/retention.ts). A session whose events span a rolled-up day and a
   * later one counts in both (sessions are distinct per day once rolled up).
   */
  async totals(videoId: string): Promise<EventTotals> {
    const [raw, daily] = await Promise.all([this.rawTotals(videoId), this.dailyTotals(videoId)]);
    return {
      views: raw.views + daily.views,
      sessions: raw.sessions + daily.sessions,
      watchTimeMs: raw.watchTimeMs + daily.watchTimeMs,
      completedSessions: raw.completedSessions + daily.completedSessions,
      rebufferMs: raw.rebufferMs + daily.rebufferMs,
      rebufferCount: raw.rebufferCount + daily.rebufferCount,
      playbackErrors: raw.playbackErrors + daily.playbackErrors,
    };
  }

  /** The sums of the rolled-up days, in one query. */
  private async dailyTotals(videoId: string): Promise<EventTotals> {
    const row = await this.db
      .selectFrom('playback_daily')
      .where('video_id', '=', videoId)
      .select((eb) => [
        eb.fn.sum('views').as('views'),
        eb.fn.sum('sessions').as('sessions'),
        eb.fn.sum('watch_time_ms').as('watch_time_ms'),
        eb.fn.sum('completed').as('completed'),
        eb.fn.sum('rebuffer_ms').as('rebuffer_ms'),
        eb.fn.sum('rebuffer_count').as('rebuffer_count'),
        eb.fn.sum('errors').as('errors'),
      ])
      .executeTakeFirstOrThrow();
    return {
      views: Number(row.views ?? 0),
      sessions: Number(row.sessions ?? 0),
      watchTimeMs: Number(row.watch_time_ms ?? 0),
      completedSessions: Number(row.completed ?? 0),
      rebufferMs: Number(row.rebuffer_ms ?? 0),
      rebufferCount: Number(row.rebuffer_count ?? 0),
      playbackErrors: Number(row.errors ?? 0),
    };
  }

  /** The sums of the raw events kept, in one query. */
  private async rawTotals(videoId: string): Promise<EventTotals> {
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
