/**
 * The per-token upload rate limit (`uploads.per_token_per_hour`): uploads an API token may
 * start in any sliding hour. Counted in `upload_starts`, a table of its own, so every HTTP
 * process of every node enforces the same limit and deleting videos (or their sessions)
 * gives no uploads back. The admin token has no limit.
 */
import { sql, type Kysely } from 'kysely';
import { AppError } from '../errors.js';
import type { Principal } from '../http/auth.js';
import type { Database } from '../storage/metadata-db.js';

const HOUR_MS = 3_600_000;

/**
 * Counts one upload start for the caller's token, or refuses with 429 E_RATE_LIMITED when
 * the token already started `perHour` in the last hour. The check and the count are one
 * INSERT … SELECT … WHERE, so concurrent creations on SQLite cannot both take the last one.
 */
export async function takeUploadStart(db: Kysely<Database>, principal: Principal, perHour: number, now = Date.now()): Promise<void> {
  if (principal.kind !== 'token' || perHour <= 0) return;
  const since = now - HOUR_MS;
  // Starts older than the window no longer count: the table stays small.
  await db.deleteFrom('upload_starts').where('owner', '=', principal.id).where('created_at', '<=', since).execute();
  const taken = await db
    .insertInto('upload_starts')
    .columns(['owner', 'created_at'])
    .expression(
      db
        .selectNoFrom([sql<string>`cast(${principal.id} as text)`.as('owner'), sql<number>`cast(${now} as bigint)`.as('created_at')])
        .where(
          (eb) => eb.selectFrom('upload_starts').select(sql<number>`count(*)`.as('n')).where('owner', '=', principal.id).where('created_at', '>', since),
          '<',
          perHour,
        ),
    )
    .executeTakeFirst();
  if (Number(taken.numInsertedOrUpdatedRows ?? 0) === 0) {
    throw new AppError('E_RATE_LIMITED', `this token may start ${perHour} uploads per hour; try again later`);
  }
}
