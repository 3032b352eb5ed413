/**
 * The per-token upload rate limit (`uploads.per_token_per_hour`): uploads an API token may
 * start in any sliding hour. Counted from the upload sessions in the database, so every
 * HTTP process of every node enforces the same limit. The admin token has no limit.
 */
import { sql, type Kysely } from 'kysely';
import { AppError } from '../errors.js';
import type { Principal } from '../http/auth.js';
import type { Database } from '../storage/metadata-db.js';

const HOUR_MS = 3_600_000;

export async function checkUploadRate(db: Kysely<Database>, principal: Principal, perHour: number, now = Date.now()): Promise<void> {
  if (principal.kind !== 'token' || perHour <= 0) return;
  const row = await db
    .selectFrom('upload_sessions as u')
    .innerJoin('videos as v', 'v.id', 'u.video_id')
    .select(sql<number>`count(*)`.as('n'))
    .where('v.owner', '=', principal.id)
    .where('u.created_at', '>', now - HOUR_MS)
    .executeTakeFirst();
  if (Number(row?.n ?? 0) >= perHour) {
    throw new AppError('E_RATE_LIMITED', `this token may start ${perHour} uploads per hour; try again later`);
  }
}
