/**
 * Named leases and idle-upload expiry, the same portable SQL on both adapters: an upsert
 * whose update only applies to a free, expired or own lease (`INSERT … ON CONFLICT DO UPDATE
 * … WHERE`), and one `DELETE … RETURNING` guarded by the session's state and its lease.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, UploadSessionRow } from '../../core/storage/metadata-db.js';

export async function acquireLease(db: Kysely<Database>, name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
  const expiresAt = now + ttlMs;
  const result = await db
    .insertInto('leases')
    .values({ name, owner, expires_at: expiresAt })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet({ owner, expires_at: expiresAt })
        .where((eb) => eb.or([eb('leases.owner', '=', owner), eb('leases.expires_at', '<=', now)])),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function releaseLease(db: Kysely<Database>, name: string, owner: string): Promise<void> {
  await db.deleteFrom('leases').where('name', '=', name).where('owner', '=', owner).execute();
}

/** See MetadataDb `expireIdleUploadSessions`; the lease name is `uploadLeaseName(id)`. */
export function expireIdleUploadSessions(db: Kysely<Database>, idleBefore: number, now: number): Promise<UploadSessionRow[]> {
  return db
    .deleteFrom('upload_sessions')
    .where('completed_at', 'is', null)
    .where(sql<number>`coalesce(last_activity_at, created_at)`, '<', idleBefore)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('leases')
            .select('leases.name')
            .where('leases.name', '=', sql<string>`'upload:' || upload_sessions.id`)
            .where('leases.expires_at', '>', now),
        ),
      ),
    )
    .returningAll()
    .execute();
}
