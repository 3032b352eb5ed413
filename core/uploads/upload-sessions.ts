/**
 * Upload sessions: the one module that writes `upload_sessions`.
 *
 * A session is an upload in progress, tus or direct-to-storage (multipart): it names the
 * video and the version its bytes will become the source of. It is opened when the upload
 * is created, touched as bytes arrive (expiry follows inactivity), marked complete exactly
 * once (the caller that marks it queues the processing job), and removed when it is
 * abandoned (terminated, aborted, expired) or its video is deleted.
 */
import type { Kysely } from 'kysely';
import type { Database, MetadataDb, UploadSessionRow } from '../storage/metadata-db.js';

export type UploadKind = UploadSessionRow['kind'];

export interface NewUploadSession {
  id: string;
  kind: UploadKind;
  videoId: string;
  version: number;
  size: number | null;
  filename: string | null;
  /** Seconds of inactivity after which the upload expires. */
  expireAfterS: number;
}

export class UploadSessions {
  constructor(private readonly db: Kysely<Database>) {}

  async open(session: NewUploadSession, now = Date.now()): Promise<void> {
    await this.db
      .insertInto('upload_sessions')
      .values({
        id: session.id,
        kind: session.kind,
        video_id: session.videoId,
        version: session.version,
        size: session.size,
        filename: session.filename,
        created_at: now,
        expires_at: now + session.expireAfterS * 1000,
        completed_at: null,
        last_activity_at: now,
        storage_upload_id: null,
      })
      .execute();
  }

  find(id: string): Promise<UploadSessionRow | undefined> {
    return this.db.selectFrom('upload_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Sessions whose last byte has not been accepted as a source yet. */
  listOpen(): Promise<UploadSessionRow[]> {
    return this.db.selectFrom('upload_sessions').selectAll().where('completed_at', 'is', null).execute();
  }

  /** Ids of a video's uploads still in progress. */
  async openIdsOf(videoId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('upload_sessions').select('id').where('video_id', '=', videoId).where('completed_at', 'is', null).execute();
    return rows.map((r) => r.id);
  }

  /** Records the object store's id of a multipart upload (made once the session names its source key). */
  async attachStorageUpload(id: string, storageUploadId: string): Promise<void> {
    await this.db.updateTable('upload_sessions').set({ storage_upload_id: storageUploadId }).where('id', '=', id).execute();
  }

  /** Marks an open upload active now: it expires `expireAfterS` from now if nothing else arrives. */
  async touch(id: string, expireAfterS: number, now = Date.now()): Promise<void> {
    await this.db
      .updateTable('upload_sessions')
      .set({ last_activity_at: now, expires_at: now + expireAfterS * 1000 })
      .where('id', '=', id)
      .where('completed_at', 'is', null)
      .execute();
  }

  /**
   * Marks the session complete; true only for the one caller that did (run it in the
   * transaction that also queues the job, so that exactly one job is queued).
   */
  async markCompleted(id: string, now = Date.now()): Promise<boolean> {
    const marked = await this.db.updateTable('upload_sessions').set({ completed_at: now }).where('id', '=', id).where('completed_at', 'is', null).executeTakeFirst();
    return Number(marked.numUpdatedRows) > 0;
  }

  /** Removes an open session (abandoned); false when it completed meanwhile or is gone. */
  async removeOpen(id: string): Promise<boolean> {
    const removed = await this.db.deleteFrom('upload_sessions').where('id', '=', id).where('completed_at', 'is', null).executeTakeFirst();
    return Number(removed.numDeletedRows) > 0;
  }

  /** Removes every session of a video (the video is being deleted). */
  async removeAllOf(videoId: string): Promise<void> {
    await this.db.deleteFrom('upload_sessions').where('video_id', '=', videoId).execute();
  }

  /**
   * Removes the sessions idle since before `idleBefore` that no request is writing (one
   * guarded statement of the metadata adapter: see MetadataDb `expireIdleUploadSessions`).
   */
  static expireIdle(db: MetadataDb, idleBefore: number, now: number): Promise<UploadSessionRow[]> {
    return db.expireIdleUploadSessions(idleBefore, now);
  }
}
