/**
 * The upload sweep (run periodically by the media process) and abandoning uploads.
 *
 * It finishes uploads whose last byte was stored but whose node died before queuing them,
 * then removes uploads that received nothing for `uploads.expire_after_s` (inactivity, not
 * age: a slow upload that keeps sending lives on). The removal is one guarded statement
 * (MetadataDb `expireIdleUploadSessions`): it never takes a session completed meanwhile or
 * one a request is writing. What an abandoned upload left in storage goes by its kind.
 */
import type { DataStore } from '@tus/utils';
import type { Services } from '../services.js';
import { objectKeys } from '../storage/object-store.js';
import type { UploadSessionRow } from '../storage/metadata-db.js';
import { completeUpload } from './upload-completion.js';
import { placeTusUpload } from './tus-source.js';
import { UploadSessions, type UploadKind } from './upload-sessions.js';

/** A lease expired this long ago is left over from a holder that died: the sweep deletes it. */
const STALE_LEASE_MS = 3_600_000;

/** A complete upload untouched this long was cut off from its finishing step (the node died). */
const RECOVER_AFTER_MS = 30_000;

/** Removes what an abandoned upload of each kind left in storage. */
const discardStoredBytes: { [kind in UploadKind]: (s: Services, session: UploadSessionRow) => Promise<void> } = {
  tus: (s, session) => s.store.delete(s.store.tusUploadKey(session.id)),
  multipart: async (s, session) => {
    if (session.storage_upload_id === null) return;
    await s.store.multipart.abort(objectKeys.source(session.video_id, session.version), session.storage_upload_id);
  },
};

/**
 * An upload that will never finish (terminated, aborted): its session and version go, and
 * what it stored. False when it had completed meanwhile (then nothing is touched).
 */
export async function abandonUpload(s: Services, uploadId: string, why: string): Promise<boolean> {
  const sessions = new UploadSessions(s.db.db);
  const session = await sessions.find(uploadId);
  if (!session || !(await sessions.removeOpen(uploadId))) return false;
  await s.catalog.abandonVersion(session.video_id, session.version);
  await discardStoredBytes[session.kind](s, session).catch((err: unknown) => s.logger.warn({ err, upload_id: uploadId }, 'removing an abandoned upload’s bytes failed'));
  s.logger.info({ video_id: session.video_id, version: session.version, upload_id: uploadId, why }, 'upload abandoned');
  return true;
}

function recoverAfterMs(s: Services): number {
  return Math.min(RECOVER_AFTER_MS, (s.config.uploads.expire_after_s * 1000) / 2);
}

/**
 * How many bytes of an open upload are stored in full and waiting for their finishing step
 * (the node died before it, or between placing the source and marking it); undefined when
 * it is not complete or may still be finishing.
 */
async function strandedUploadBytes(s: Services, tusStore: DataStore, session: UploadSessionRow): Promise<number | undefined> {
  const quietSince = Date.now() - recoverAfterMs(s);
  const upload = session.kind === 'tus' ? await tusStore.getUpload(session.id).catch(() => undefined) : undefined;
  if (upload) {
    const info = await s.store.head(s.store.tusUploadKey(session.id));
    const complete = upload.size !== undefined && upload.offset === upload.size;
    return complete && info && info.mtimeMs < quietSince ? upload.offset : undefined;
  }
  if (session.size === null || (session.last_activity_at ?? session.created_at) >= quietSince) return undefined;
  const source = await s.store.head(objectKeys.source(session.video_id, session.version));
  return source?.size === session.size ? source.size : undefined;
}

/** The sweep; returns how many uploads expired. */
export async function expireUploads(s: Services): Promise<number> {
  const tusStore = s.store.tusDataStore({ expirationPeriodInMilliseconds: 0 });
  const sessions = new UploadSessions(s.db.db);
  for (const session of await sessions.listOpen()) {
    const bytes = await strandedUploadBytes(s, tusStore, session);
    if (bytes === undefined) continue;
    s.logger.warn({ upload_id: session.id, video_id: session.video_id, bytes }, 'finishing an upload whose node stopped before queuing it');
    // The bytes are in place (a tus upload is moved, a multipart one was assembled as the source).
    await completeUpload(s, session.id, bytes, (sourceKey) => (session.kind === 'tus' ? placeTusUpload(s, session.id, bytes, sourceKey) : Promise.resolve()));
  }
  const now = Date.now();
  const expired = await UploadSessions.expireIdle(s.db, now - s.config.uploads.expire_after_s * 1000, now);
  for (const session of expired) {
    await s.catalog.abandonVersion(session.video_id, session.version);
    await discardStoredBytes[session.kind](s, session).catch(() => undefined);
    s.logger.info({ video_id: session.video_id, version: session.version, upload_id: session.id, kind: session.kind }, 'upload expired');
  }
  // Leases whose holder died without releasing them (a request cut off with its process).
  await s.db.db.deleteFrom('leases').where('expires_at', '<', now - STALE_LEASE_MS).execute();
  return expired.length;
}
