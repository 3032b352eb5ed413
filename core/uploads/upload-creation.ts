/**
 * Creating an upload, whichever way its bytes will arrive (tus or multipart): the checks
 * before anything is stored (auth on the video, size, disk space, the hourly limit, plugins),
 * the video (named, or made from the filename/title) and its new version, and the session.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError } from '../errors.js';
import { isId } from '../ids.js';
import type { Services } from '../services.js';
import { canManage, ownerOf, type Principal } from '../http/auth.js';
import { hookPrincipal } from '../plugins/hook-principal.js';
import { takeUploadStart } from './upload-rate-limit.js';
import { UploadSessions, type UploadKind } from './upload-sessions.js';

export interface UploadRequestInfo {
  /** The session id (tus's upload id, or ours for multipart). */
  uploadId: string;
  kind: UploadKind;
  /** Total bytes, when the client says (tus may defer it). */
  size: number | undefined;
  /** Client metadata: `video_id`, `filename`, `title`, … (plugins may rewrite it). */
  metadata: Record<string, string | null>;
}

export interface OpenedUpload {
  videoId: string;
  version: number;
  /** The metadata after plugins, with `video_id` set. */
  metadata: Record<string, string | null>;
  /** Undoes the creation (the upload was refused after all): the version, or the video made for it, goes. */
  undo(): Promise<void>;
}

/**
 * Refuses, before anything is created, an upload over `limits.max_upload_bytes` (413
 * E_TOO_LARGE) or one that cannot fit on the local disk uploads are written to (507
 * E_STORAGE_FULL). A size that cannot be known yet passes.
 */
export async function checkUploadSize(s: Services, size: number | undefined): Promise<void> {
  if (size === undefined || !Number.isFinite(size)) return;
  const limit = s.config.limits.max_upload_bytes;
  if (size > limit) throw new AppError('E_TOO_LARGE', `the upload is ${size} bytes; the limit is ${limit}`);
  if (!(await localSpaceFor(s, size))) throw new AppError('E_STORAGE_FULL', `not enough free storage space for an upload of ${size} bytes; try again later`);
}

/** False when the local disk uploads land on has fewer than `bytes` free; true when it fits or cannot be known (S3). */
async function localSpaceFor(s: Services, bytes: number): Promise<boolean> {
  const path = s.store.localPath?.(s.store.tusUploadKey('space-check'));
  if (!path) return true;
  const fsStats = await statfs(dirname(path)).catch(() => undefined);
  return !fsStats || fsStats.bavail * fsStats.bsize >= bytes;
}

/**
 * Opens an upload for `principal`: checks it may upload to the named video (or creates the
 * video), takes one of the token's hourly uploads, lets `filter:upload.accept` plugins
 * decide, opens a new version and records the session.
 */
export async function openUpload(s: Services, principal: Principal, request: UploadRequestInfo): Promise<OpenedUpload> {
  const { catalog, config } = s;
  let meta: Record<string, string | null> = { ...request.metadata };
  let videoId = meta.video_id ?? undefined;
  if (videoId) {
    const video = isId(videoId) ? await catalog.find(videoId) : undefined;
    if (!video) throw new AppError('E_NOT_FOUND', `video ${videoId} not found`);
    if (!canManage(principal, video.owner)) throw new AppError('E_FORBIDDEN', 'this token may not upload to this video');
  }
  await takeUploadStart(s.db.db, principal, config.uploads.per_token_per_hour);
  if (s.plugins.has('filter:upload.accept')) {
    // Plugins decide before anything is created or stored; they may rewrite the metadata.
    const accepted = await s.plugins.filter(
      'filter:upload.accept',
      { video_id: videoId ?? null, filename: meta.filename ?? null, size: request.size ?? null, metadata: meta },
      { principal: hookPrincipal(principal) },
    );
    meta = { ...accepted.metadata, ...(videoId ? { video_id: videoId } : {}) };
  }
  let createdHere = false;
  if (!videoId) {
    const title = (meta.title || meta.filename || 'Untitled').slice(0, 500);
    videoId = (await catalog.create({ title, owner: ownerOf(principal) })).id;
    createdHere = true;
  }
  const id = videoId;
  const version = await catalog.openVersion(id, { status: 'uploading', source_filename: meta.filename ?? null, source_bytes: request.size ?? null });
  await new UploadSessions(s.db.db).open({
    id: request.uploadId,
    kind: request.kind,
    videoId: id,
    version,
    size: request.size ?? null,
    filename: meta.filename ?? null,
    expireAfterS: config.uploads.expire_after_s,
  });
  return {
    videoId: id,
    version,
    metadata: { ...meta, video_id: id },
    undo: () => (createdHere ? catalog.delete(id) : catalog.abandonVersion(id, version)),
  };
}
