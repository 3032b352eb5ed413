/**
 * Resumable uploads: the wiring of @tus/server 2 at /v1/uploads, beside Koa in one http
 * server.
 *
 * Before tus sees a request: auth, the tus version, the size limit and checksums. Creation
 * is upload-creation.ts (the video named by `video_id` metadata, API.md flow 1, or a new one
 * from `filename`/`title`, flow 2, its id returned in `Framecast-Video-Id`); the last byte
 * hands the upload to upload-completion.ts; termination and expiry are upload-expiry.ts.
 */
import { truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as TusServer } from '@tus/server';
import { EVENTS, TUS_RESUMABLE, type DataStore, type Upload } from '@tus/utils';
// @tus/server's own Node adapter (it depends on srvx): its handle() is handleWeb + these two.
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import { AppError, asAppError } from '../errors.js';
import { sendErrorBody } from '../http/raw-errors.js';
import type { Services } from '../services.js';
import { requireScope, type Principal } from '../http/auth.js';
import { ChecksumDataStore, parseChecksumHeader, type ExpectedChecksum } from './checksum-store.js';
import { VerifyFirstDataStore } from './verify-first-store.js';
import { DbLocker } from './db-locker.js';
import { withErrorBody } from './tus-errors.js';
import { checkUploadSize, openUpload } from './upload-creation.js';
import { completeUpload } from './upload-completion.js';
import { abandonUpload } from './upload-expiry.js';
import { placeTusUpload } from './tus-source.js';

export const UPLOADS_PATH = '/v1/uploads';
export const VIDEO_ID_HEADER = 'Framecast-Video-Id';

/** API.md's error body; `status` when the tus protocol prescribes another than the code's. */
function sendError(res: ServerResponse, err: AppError, status = err.status): void {
  sendErrorBody(res, err, { 'Tus-Resumable': '1.0.0', 'Access-Control-Allow-Origin': '*' }, status);
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
      await finishTusUpload(s, inner, upload.id, upload.offset, uploadRequests.get(req)?.res);
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
    void abandonUpload(s, id, 'terminated').catch((err: unknown) => logger.error({ err, upload_id: id }, 'cleanup after termination failed'));
  });

  /** tus's creation hook: the upload is opened; a creation tus refuses after all is undone. */
  async function prepareCreation(upload: Upload, request: UploadRequest): Promise<Record<string, string | null>> {
    const opened = await openUpload(s, request.principal, { uploadId: upload.id, kind: 'tus', size: upload.size, metadata: upload.metadata ?? {} });
    request.res.setHeader(VIDEO_ID_HEADER, opened.videoId);
    request.res.once('finish', () => {
      if (request.res.statusCode < 400) return;
      // Nothing was uploaded, so nothing is kept.
      void opened.undo().catch((err: unknown) => logger.error({ err, video_id: opened.videoId }, 'undo of a refused upload failed'));
    });
    return { ...opened.metadata, framecast_version: String(opened.version) };
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
        if (req.method === 'POST' && typeof length === 'string') await checkUploadSize(s, Number(length));
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

/**
 * The last byte of a tus upload arrived: it becomes the version's source and processing is
 * queued (upload-completion.ts). A local upload is copied to the source and its tus file
 * dropped after tus has answered (creation-with-upload still reads it); a remote one (S3) was
 * moved.
 */
async function finishTusUpload(s: Services, inner: DataStore, uploadId: string, bytes: number, res?: ServerResponse): Promise<void> {
  await completeUpload(s, uploadId, bytes, (sourceKey) => placeTusUpload(s, uploadId, bytes, sourceKey));
  if (!s.store.localPath?.(s.store.tusUploadKey(uploadId))) return;
  const drop = () => void inner.remove(uploadId).catch((err: unknown) => s.logger.warn({ err, upload_id: uploadId }, 'removing a finished upload failed'));
  if (res) res.once('close', drop);
  else drop();
}
