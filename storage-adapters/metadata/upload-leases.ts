/**
 * Upload leases and idle-session expiry, the same portable SQL on both adapters: an upsert
 * whose update only applies to a free, expired or own lease (`INSERT … ON CONFLICT DO UPDATE
 * … WHERE`), and one `DELETE … RETURNING` guarded by the session's state and its lease.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, UploadSessionRow } from '../../core/storage/metadata-db.js';

export async function acquireUploadLock(db: Kysely<Database>, uploadId: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
  const expiresAt = now + ttlMs;
  const result = await db
    .insertInto('upload_locks')
    .values({ upload_id: uploadId, owner, expires_at: expiresAt })
    .onConflict((oc) =>
      oc
        .column('upload_id')
        .doUpdateSet({ owner, expires_at: expiresAt })
        .where((eb) => eb.or([eb('upload_locks.owner', '=', owner), eb('upload_locks.expires_at', '<=', now)])),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function releaseUploadLock(db: Kysely<Database>, uploadId: string, owner: string): Promise<void> {
  await db.deleteFrom('upload_locks').where('upload_id', '=', uploadId).where('owner', '=', owner).execute();
}

export function expireIdleUploadSessions(db: Kysely<Database>, idleBefore: number, now: number): Promise<UploadSessionRow[]> {
  return db
    .deleteFrom('upload_sessions')
    .where('completed_at', 'is', null)
    .where(sql<number>`coalesce(last_activity_at, created_at)`, '<', idleBefore)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('upload_locks')
            .select('upload_locks.upload_id')
            .whereRef('upload_locks.upload_id', '=', 'upload_sessions.id')
            .where('upload_locks.expires_at', '>', now),
        ),
      ),
    )
    .returningAll()
    .execute();
}
