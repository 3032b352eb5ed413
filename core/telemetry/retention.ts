/**
 * Raw playback events are kept `telemetry.retention_days`; older ones are rolled up into
 * `playback_daily` (per video and UTC day: the figures GET /v1/videos/:id/stats is made of)
 * and deleted, so the table stops growing and the stats stay the same. The trending feed
 * reads only the last 7 days of raw events, which retention (at least 8 days) never touches.
 *
 * One UTC day per transaction, oldest first: the roll-up and the delete of a day commit
 * together, and a day is short work for SQLite's write lock. One process at a time rolls
 * up (the `telemetry:rollup` lease), so two nodes never count one day twice.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, MetadataDb } from '../storage/metadata-db.js';
import { COMPLETION_PERCENT } from './stats.js';

export const DAY_MS = 86_400_000;
const LEASE = 'telemetry:rollup';
const LEASE_MS = 10 * 60_000;

/** What one roll-up did. */
export interface RollUpResult {
  days: number;
  events: number;
}

/** Rolls up and deletes one UTC day of raw events (those received in [day, day + 1 day)). */
async function rollUpDay(db: Kysely<Database>, day: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const inDay = sql<boolean>`received_at >= ${day} and received_at < ${day + DAY_MS}`;
    await trx
      .insertInto('playback_daily')
      .columns(['video_id', 'day', 'views', 'sessions', 'watch_time_ms', 'completed', 'rebuffer_ms', 'rebuffer_count', 'errors'])
      .expression(
        trx
          .selectFrom('playback_events')
          .where(inDay)
          .groupBy('video_id')
          .select((eb) => {
            const sessionsWhere = (condition: ReturnType<typeof eb.and>) => eb.fn.count(eb.case().when(condition).then(eb.ref('session_id')).end()).distinct();
            return [
              'video_id',
              sql<number>`cast(${day} as bigint)`.as('day'),
              sessionsWhere(eb.and([eb('type', '=', 'view_start')])).as('views'),
              eb.fn.count('session_id').distinct().as('sessions'),
              sql<number>`coalesce(sum(dwell_ms), 0)`.as('watch_time_ms'),
              sessionsWhere(eb.and([eb('type', '=', 'view_end'), eb('percent_complete', '>=', COMPLETION_PERCENT)])).as('completed'),
              sql<number>`coalesce(sum(duration_ms), 0)`.as('rebuffer_ms'),
              eb.fn.count('duration_ms').as('rebuffer_count'),
              eb.fn.count(eb.case().when('type', '=', 'playback_error').then(eb.lit(1)).end()).as('errors'),
            ];
          }),
      )
      // A day is rolled up once (its rows go in the same transaction); adding keeps even a
      // repeated day right.
      .onConflict((oc) =>
        oc.columns(['video_id', 'day']).doUpdateSet((eb) => ({
          views: eb('playback_daily.views', '+', eb.ref('excluded.views')),
          sessions: eb('playback_daily.sessions', '+', eb.ref('excluded.sessions')),
          watch_time_ms: eb('playback_daily.watch_time_ms', '+', eb.ref('excluded.watch_time_ms')),
          completed: eb('playback_daily.completed', '+', eb.ref('excluded.completed')),
          rebuffer_ms: eb('playback_daily.rebuffer_ms', '+', eb.ref('excluded.rebuffer_ms')),
          rebuffer_count: eb('playback_daily.rebuffer_count', '+', eb.ref('excluded.rebuffer_count')),
          errors: eb('playback_daily.errors', '+', eb.ref('excluded.errors')),
        })),
      )
      .execute();
    const deleted = await trx.deleteFrom('playback_events').where(inDay).executeTakeFirst();
    return Number(deleted.numDeletedRows);
  });
}

/**
 * Rolls up every whole UTC day received before `now − retentionDays` and deletes its raw
 * events. Returns nothing done when another process holds the roll-up lease.
 */
export async function rollUpExpiredEvents(db: MetadataDb, retentionDays: number, now = Date.now()): Promise<RollUpResult> {
  const cutoff = Math.floor((now - retentionDays * DAY_MS) / DAY_MS) * DAY_MS;
  const owner = randomUUID();
  const result: RollUpResult = { days: 0, events: 0 };
  if (!(await db.acquireLease(LEASE, owner, LEASE_MS, Date.now()))) return result;
  try {
    for (;;) {
      const oldest = await db.db.selectFrom('playback_events').select((eb) => eb.fn.min('received_at').as('at')).where('received_at', '<', cutoff).executeTakeFirst();
      if (oldest?.at === null || oldest?.at === undefined) break;
      const day = Math.floor(Number(oldest.at) / DAY_MS) * DAY_MS;
      result.events += await rollUpDay(db.db, day);
      result.days++;
      await db.acquireLease(LEASE, owner, LEASE_MS, Date.now());
    }
  } finally {
    await db.releaseLease(LEASE, owner);
  }
  return result;
}
