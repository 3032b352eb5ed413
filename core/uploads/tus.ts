/**
 * Resumable uploads: @tus/server 2 at /v1/uploads, beside Koa in one http server.
 *
 * Creation (POST) is prepared here before tus sees it: auth, the size limit (413
 * E_TOO_LARGE), and the video: either the one named by `video_id` metadata (API.md flow 1)
 * or a new one from `filename`/`title` (flow 2, id returned in `Framecast-Video-Id`). Each
 * upload opens a new version of its video. When the last byte arrives the upload becomes the
 * version's source and a `vod.process` job is queued.
 */
import { statfs, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as TusServer } from '@tus/server';
import { EVENTS, TUS_RESUMABLE, type DataStore, type Upload } from '@tus/utils';
// @tus/server's own Node adapter (it depends on srvx): its handle() is handleWeb + these two.
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import { AppError, asAppError } from '../errors.js';
import { isId } from '../ids.js';
import type { Services } from '../services.js';
import { objectKeys } from '../storage/object-store.js';
import { canManage, ownerOf, requireScope, type Principal } from '../http/auth.js';
import { ChecksumDataStore, parseChecksumHeader, type ExpectedChecksum } from './checksum-store.js';
import { VerifyFirstDataStore } from './verify-first-store.js';
import { takeUploadStart } from './upload-rate-limit.js';
import { DbLocker } from './db-locker.js';
import { withErrorBody } from './tus-errors.js';
import { hookPrincipal } from '../plugins/hook-principal.js';
import { uploadMetrics } from '../telemetry/metrics.js';
import { VideoCatalog } from '../catalog/videos.js';
import { JobQueue } from '../jobs/queue.js';
import type { Database, MetadataDb, UploadSessionRow } from '../storage/metadata-db.js';
import type { Kysely } from 'kysely';

export const UPLOADS_PATH = '/v1/uploads';
export const VIDEO_ID_HEADER = 'Framecast-Video-Id';

/** API.md's error body; `status` when the tus protocol prescribes another than the code's. */
function sendError(res: ServerResponse, err: AppError, status = err.status): void {
  const body = JSON.stringify(err.toBody());
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Tus-Resumable': '1.0.0',
    'Access-Control-Allow-Origin': '*',
  });
  res.end(body);
}

/** The request an upload hook runs for (tus hooks do not see our response or principal). */
interface UploadRequest {
  principal: Principal;
  res: ServerResponse;
  checksum: ExpectedChecksum | undefined;
}

/**
 * Keyed by the web Request we hand tus (its hooks and locker get that same object). A WeakMap,
 * not AsyncLocalStorage: that would turn promise hooks on for every request in the process.
 */
const uploadRequests = new WeakMap<Request, UploadRequest>();

export interface UploadHandler {
  /** Handles a request under /v1/uploads. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function createUploadHandler(s: Services): UploadHandler {
  const { store, catalog, config, logger } = s;
  // No expiry inside tus: it counts from creation. Uploads expire after inactivity
  // (expireUploads, from the session's last_activity_at).
  const inner = store.tusDataStore({ expirationPeriodInMilliseconds: 0 });
  // A rejected chunk is cut off a local upload file; a store without local files (S3)
  // cannot take bytes back, so there a chunk is verified before it is written.
  const dataStore = store.localPath
    ? new ChecksumDataStore(inner, async (id, offset) => {
        const local = store.localPath?.(store.tusUploadKey(id));
        if (!local) throw new Error('checksum rollback needs a local upload file');
        await truncate(local, offset);
      })
    : new VerifyFirstDataStore(inner, join(config.data_dir, 'tmp', 'upload-spool'));

  // One writer per upload across HTTP processes and nodes (a lease row in the metadata DB).
  const locker = new DbLocker(s.db, { idleExpiryMs: config.uploads.expire_after_s * 1000 });
  const tus = new TusServer({
    path: UPLOADS_PATH,
    datastore: dataStore,
    // Each request's locks also tell the data store which checksum that request's body must have.
    locker: (req: Request) => dataStore.expectations.lockerFor(locker, uploadRequests.get(req)?.checksum),
    maxSize: config.limits.max_upload_bytes,
    relativeLocation: true,
    respectForwardedHeaders: true,
    exposedHeaders: [VIDEO_ID_HEADER, 'Upload-Checksum'],
    allowedHeaders: ['Authorization', 'Upload-Checksum'],
    async onUploadCreate(req, upload) {
      const request = uploadRequests.get(req);
      if (!request) throw { status_code: 500, body: 'upload request without context' };
      try {
        const metadata = await prepareCreation(upload, request);
        return { metadata };
      } catch (err) {
        if (err instanceof AppError) throw { status_code: err.status, body: JSON.stringify(err.toBody()) };
        throw err;
      }
    },
    async onUploadFinish(req, upload) {
      await completeUpload(s, inner, upload.id, upload.offset, uploadRequests.get(req)?.res);
      return {};
    },
    onResponseError(_req, err) {
      // A full or read-only disk (507) or a database that cannot be used (503) keeps its
      // code: the client retries later and resumes from the offset really stored.
      const known = asAppError(err);
      if (known) {
        logger.warn({ err, code: known.code }, 'upload request failed');
        return { status_code: known.status, body: JSON.stringify(known.toBody()) };
      }
      if (err instanceof Error) logger.error({ err }, 'upload request failed');
      return undefined;
    },
  });

  tus.on(EVENTS.POST_TERMINATE, (_req: unknown, _res: unknown, id: string) => {
    void abandonSession(id, 'terminated').catch((err: unknown) => logger.error({ err, upload_id: id }, 'cleanup after termination failed'));
  });

  /**
   * False when the local disk the uploads are written to has fewer than `bytes` free, so an
   * upload that cannot fit is refused before anything is created. True when it fits or
   * cannot be known (a store without local files).
   */
  async function localSpaceFor(bytes: number): Promise<boolean> {
    const dir = store.localPath?.(store.tusUploadKey('space-check'));
    if (!dir || !Number.isFinite(bytes)) return true;
    const fsStats = await statfs(dirname(dir)).catch(() => undefined);
    return !fsStats || fsStats.bavail * fsStats.bsize >= bytes;
  }

  /** An upload that will never finish (terminated or expired): its version goes away. */
  async function abandonSession(uploadId: string, why: string): Promise<void> {
    const session = await s.db.db.selectFrom('upload_sessions').selectAll().where('id', '=', uploadId).executeTakeFirst();
    if (!session || session.completed_at !== null) return;
    await s.db.db.deleteFrom('upload_sessions').where('id', '=', uploadId).execute();
    await catalog.abandonVersion(session.video_id, session.version);
    logger.info({ video_id: session.video_id, version: session.version, upload_id: uploadId, why }, 'upload abandoned');
  }

  /**
   * A new upload: checks the caller may upload to the named video (or creates the video),
   * opens a version and records the session. Returns the metadata tus stores.
   */
  async function prepareCreation(upload: Upload, request: UploadRequest): Promise<Record<string, string | null>> {
    let meta: Record<string, string | null> = { ...upload.metadata };
    let videoId = meta.video_id ?? undefined;
    let createdHere = false;
    if (videoId) {
      const video = isId(videoId) ? await catalog.find(videoId) : undefined;
      if (!video) throw new AppError('E_NOT_FOUND', `video ${videoId} not found`);
      if (!canManage(request.principal, video.owner)) throw new AppError('E_FORBIDDEN', 'this token may not upload to this video');
    }
    await takeUploadStart(s.db.db, request.principal, config.uploads.per_token_per_hour);
    if (s.plugins.has('filter:upload.accept')) {
      // Plugins decide before anything is created or stored; they may rewrite the metadata.
      const accepted = await s.plugins.filter(
        'filter:upload.accept',
        { video_id: videoId ?? null, filename: meta.filename ?? null, size: upload.size ?? null, metadata: meta },
        { principal: hookPrincipal(request.principal) },
      );
      meta = { ...accepted.metadata, ...(videoId ? { video_id: videoId } : {}) };
    }
    if (!videoId) {
      const title = (meta.title || meta.filename || 'Untitled').slice(0, 500);
      videoId = (await catalog.create({ title, owner: ownerOf(request.principal) })).id;
      createdHere = true;
    }
    const version = await catalog.openVersion(videoId, {
      status: 'uploading',
      source_filename: meta.filename ?? null,
      source_bytes: upload.size ?? null,
    });
    const t = Date.now();
    await s.db.db
      .insertInto('upload_sessions')
      .values({
        id: upload.id,
        video_id: videoId,
        version,
        size: upload.size ?? null,
        filename: meta.filename ?? null,
        created_at: t,
        expires_at: t + config.uploads.expire_after_s * 1000,
        completed_at: null,
        last_activity_at: t,
      })
      .execute();
    request.res.setHeader(VIDEO_ID_HEADER, videoId);
    const id = videoId;
    request.res.once('finish', () => {
      if (request.res.statusCode < 400) return;
      // tus refused the creation after all: nothing was uploaded, so nothing is kept.
      const undo = createdHere ? catalog.delete(id) : catalog.abandonVersion(id, version);
      void undo.catch((err: unknown) => logger.error({ err, video_id: id }, 'undo of a refused upload failed'));
    });
    return { ...meta, video_id: videoId, framecast_version: String(version) };
  }

  return {
    async handle(req, res) {
      try {
        let principal: Principal = { kind: 'anonymous' };
        if (req.method === 'OPTIONS') res.setHeader('Tus-Checksum-Algorithm', 'sha1');
        else {
          principal = await s.auth.principal(req.headers.authorization);
          requireScope(principal, 'upload');
          // @tus/server only checks that Tus-Resumable is there; tus 1.0.0 answers 412 to any other version.
          const version = req.headers['tus-resumable'];
          if (typeof version === 'string' && version !== '' && version !== TUS_RESUMABLE) {
            res.setHeader('Tus-Version', TUS_RESUMABLE);
            return sendError(res, new AppError('E_BAD_REQUEST', `Tus-Resumable ${version} is not supported (use ${TUS_RESUMABLE})`), 412);
          }
        }
        const length = req.headers['upload-length'];
        if (req.method === 'POST' && typeof length === 'string' && Number(length) > config.limits.max_upload_bytes) {
          throw new AppError('E_TOO_LARGE', `the upload is ${length} bytes; the limit is ${config.limits.max_upload_bytes}`);
        }
        if (req.method === 'POST' && typeof length === 'string' && !(await localSpaceFor(Number(length)))) {
          throw new AppError('E_STORAGE_FULL', `not enough free storage space for an upload of ${length} bytes; try again later`);
        }
        const checksum = parseChecksumHeader(req.headers['upload-checksum'] as string | undefined);
        if (checksum === 'unsupported') throw new AppError('E_BAD_REQUEST', 'Upload-Checksum algorithm not supported (use sha1)');
        if (checksum === 'invalid') throw new AppError('E_BAD_REQUEST', 'malformed Upload-Checksum header');
        // What tus.handle does, with its error bodies made ours in between.
        const request = new NodeRequest({ req, res });
        uploadRequests.set(request, { principal, res, checksum });
        const response = await tus.handleWeb(request);
        await sendNodeResponse(res, await withErrorBody(response));
      } catch (err) {
        const known = asAppError(err);
        if (known) return sendError(res, known);
        logger.error({ err }, 'upload handler failed');
        return sendError(res, new AppError('E_INTERNAL'));
      }
    },
  };
}

/** `s.db` with its Kysely handle swapped for a transaction's (the seam's other methods stay). */
function inTransaction(db: MetadataDb, trx: Kysely<Database>): MetadataDb {
  return Object.create(db, { db: { value: trx } }) as MetadataDb;
}

/**
 * The upload is complete: it becomes the version's source and processing is queued.
 *
 * Idempotent and crash-safe: of the callers (the request that wrote the last byte, a retry,
 * the recovery sweep after a crash), only the one that marks the session complete queues
 * the job, and marking, the version's state and the job are one transaction. The tus upload
 * is removed only after that. A local upload is copied to the source; a remote one (S3) is
 * moved server-side (copy, then delete), and a source already in place with the upload's
 * size means a previous attempt moved it and stopped before marking: it is used as is.
 */
async function completeUpload(s: Services, inner: DataStore, uploadId: string, bytes: number, res?: ServerResponse): Promise<void> {
  const { store, logger } = s;
  const session = await s.db.db.selectFrom('upload_sessions').selectAll().where('id', '=', uploadId).executeTakeFirst();
  if (!session) throw { status_code: 404, body: 'unknown upload' };
  const tusKey = store.tusUploadKey(uploadId);
  const local = store.localPath?.(tusKey);
  const dropTusUpload = () => {
    // tus still reads the upload while it answers (creation-with-upload): drop it after.
    const drop = () => void inner.remove(uploadId).catch((err: unknown) => logger.warn({ err, upload_id: uploadId }, 'removing a finished upload failed'));
    if (res) res.once('close', drop);
    else drop();
  };
  if (session.completed_at !== null) {
    if (local) dropTusUpload();
    return;
  }
  const { video_id: videoId, version } = session;
  const sourceKey = objectKeys.source(videoId, version);
  if (local) {
    await store.putFile(sourceKey, local);
  } else if ((await store.head(sourceKey))?.size !== bytes) {
    await store.move(tusKey, sourceKey);
  }
  const job = await s.db.db.transaction().execute(async (trx) => {
    const marked = await trx
      .updateTable('upload_sessions')
      .set({ completed_at: Date.now() })
      .where('id', '=', uploadId)
      .where('completed_at', 'is', null)
      .executeTakeFirst();
    if (Number(marked.numUpdatedRows) === 0) return undefined;
    await new VideoCatalog(trx).markUploaded(videoId, version, bytes);
    return new JobQueue(inTransaction(s.db, trx), s.config.jobs).enqueue('vod.process', { videoId, version }, { videoId, version });
  });
  if (local) dropTusUpload();
  if (!job) return;
  uploadMetrics.completed(Number(session.created_at));
  logger.info({ video_id: videoId, version, upload_id: uploadId, bytes, job_id: job.id }, 'upload complete, processing queued');
}

/** A lease expired this long ago is left over from a holder that died: the sweep deletes it. */
const STALE_LEASE_MS = 3_600_000;

/** A complete upload untouched this long was cut off from its finishing step (the node died). */
const RECOVER_AFTER_MS = 30_000;

function recoverAfterMs(s: Services): number {
  return Math.min(RECOVER_AFTER_MS, (s.config.uploads.expire_after_s * 1000) / 2);
}

/**
 * How many bytes of an open upload are stored in full and waiting for their finishing step
 * (the node died before it, or between moving a remote upload and marking it); undefined
 * when it is not complete or may still be finishing.
 */
async function strandedUploadBytes(s: Services, dataStore: DataStore, session: UploadSessionRow): Promise<number | undefined> {
  const upload = await dataStore.getUpload(session.id).catch(() => undefined);
  const quietSince = Date.now() - recoverAfterMs(s);
  if (upload) {
    const info = await s.store.head(s.store.tusUploadKey(session.id));
    const complete = upload.size !== undefined && upload.offset === upload.size;
    return complete && info && info.mtimeMs < quietSince ? upload.offset : undefined;
  }
  if (session.size === null || (session.last_activity_at ?? session.created_at) >= quietSince) return undefined;
  const source = await s.store.head(objectKeys.source(session.video_id, session.version));
  return source?.size === session.size ? source.size : undefined;
}

/**
 * Run periodically by the media process: finishes uploads whose last byte was stored but
 * whose node died before queuing them, then removes uploads that received nothing for
 * `uploads.expire_after_s` (inactivity, not age: a slow upload that keeps sending lives
 * on). The removal is one guarded statement (MetadataDb `expireIdleUploadSessions`): it
 * never takes a session completed meanwhile or one a request is writing.
 */
export async function expireUploads(s: Services): Promise<number> {
  const dataStore = s.store.tusDataStore({ expirationPeriodInMilliseconds: 0 });
  const open = await s.db.db.selectFrom('upload_sessions').selectAll().where('completed_at', 'is', null).execute();
  for (const session of open) {
    const bytes = await strandedUploadBytes(s, dataStore, session);
    if (bytes === undefined) continue;
    s.logger.warn({ upload_id: session.id, video_id: session.video_id, bytes }, 'finishing an upload whose node stopped before queuing it');
    await completeUpload(s, dataStore, session.id, bytes);
  }
  const now = Date.now();
  const expired = await s.db.expireIdleUploadSessions(now - s.config.uploads.expire_after_s * 1000, now);
  for (const session of expired) {
    await s.catalog.abandonVersion(session.video_id, session.version);
    await s.store.delete(s.store.tusUploadKey(session.id)).catch(() => undefined);
    s.logger.info({ video_id: session.video_id, version: session.version, upload_id: session.id }, 'upload expired');
  }
  // Leases whose holder died without releasing them (a request cut off with its process).
  await s.db.db.deleteFrom('leases').where('expires_at', '<', now - STALE_LEASE_MS).execute();
  return expired.length;
}
