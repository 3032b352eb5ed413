/**
 * Direct-to-storage uploads (API.md "direct uploads"), beside tus: the client asks for a
 * multipart upload of a video's next version, PUTs the parts to the URLs it is given
 * (presigned S3 UploadPart URLs, so on S3 no uploaded byte passes through a node; on a store
 * clients cannot reach, signed part URLs of the node itself, so the flow is the same), then
 * completes it with the parts' ETags. Creation and completion are the ones tus uploads go
 * through (upload-creation.ts, upload-completion.ts); the object store assembles the parts
 * at the version's source key, so completing needs no copy.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import type { Services } from '../services.js';
import { canManage, requireScope, type Principal } from '../http/auth.js';
import { NodeUrlSigner } from '../http/signed-urls.js';
import { objectKeys, type StoredPart } from '../storage/object-store.js';
import type { UploadSessionRow } from '../storage/metadata-db.js';
import { newId } from '../ids.js';
import { checkUploadSize, openUpload } from './upload-creation.js';
import { completeUpload } from './upload-completion.js';
import { abandonUpload } from './upload-expiry.js';
import { UploadSessions } from './upload-sessions.js';

/** Where the node takes parts itself (stores clients cannot reach): `PUT /v1/multipart-parts/:upload_id/:number`. */
export const NODE_PARTS_PATH = '/v1/multipart-parts';
const PART_URL_PURPOSE = 'multipart-part';
/** S3's limit on the number of parts of one upload. */
const MAX_PARTS = 10_000;

export interface PartUrl {
  number: number;
  url: string;
}

export interface DirectUploadCreated {
  upload_id: string;
  video_id: string;
  version: number;
  part_size: number;
  parts: PartUrl[];
  /** When the part URLs stop working (unix ms): GET the upload for fresh ones. */
  urls_expire_at: number;
}

export interface DirectUploadState {
  upload_id: string;
  video_id: string;
  size: number;
  part_size: number;
  /** Parts already stored. */
  parts: StoredPart[];
  /** Fresh URLs for the parts still missing. */
  pending: PartUrl[];
  urls_expire_at: number;
}

export interface CreateDirectUpload {
  filename: string;
  size: number;
  contentType: string;
}

/** Part size for a file: the configured size, raised so the file fits in S3's 10,000 parts. */
function partSizeFor(s: Services, size: number): number {
  return Math.max(s.config.uploads.multipart_part_bytes, Math.ceil(size / MAX_PARTS));
}

function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

export class DirectUploads {
  readonly #signer: NodeUrlSigner;

  constructor(private readonly s: Services) {
    this.#signer = new NodeUrlSigner(s.config.signing.secret);
  }

  async create(principal: Principal, videoId: string, file: CreateDirectUpload, nodeUrl: string): Promise<DirectUploadCreated> {
    requireScope(principal, 'upload');
    await checkUploadSize(this.s, file.size);
    const uploadId = newId();
    const opened = await openUpload(this.s, principal, {
      uploadId,
      kind: 'multipart',
      size: file.size,
      metadata: { video_id: videoId, filename: file.filename, content_type: file.contentType },
    });
    const key = objectKeys.source(opened.videoId, opened.version);
    try {
      const storageUploadId = await this.s.store.multipart.create(key, file.contentType);
      await new UploadSessions(this.s.db.db).attachStorageUpload(uploadId, storageUploadId);
      const partSize = partSizeFor(this.s, file.size);
      const numbers = Array.from({ length: partCount(file.size, partSize) }, (_, i) => i + 1);
      this.s.logger.info({ video_id: opened.videoId, version: opened.version, upload_id: uploadId, bytes: file.size, parts: numbers.length }, 'direct upload started');
      return {
        upload_id: uploadId,
        video_id: opened.videoId,
        version: opened.version,
        part_size: partSize,
        parts: await this.#partUrls(uploadId, key, storageUploadId, numbers, nodeUrl),
        urls_expire_at: this.#urlsExpireAt(),
      };
    } catch (err) {
      await opened.undo().catch(() => undefined);
      throw err;
    }
  }

  async state(principal: Principal, videoId: string, uploadId: string, nodeUrl: string): Promise<DirectUploadState> {
    const session = await this.#session(principal, videoId, uploadId);
    const key = objectKeys.source(session.video_id, session.version);
    const size = session.size ?? 0;
    const partSize = partSizeFor(this.s, size);
    const parts = await this.s.store.multipart.listParts(key, session.storage_upload_id!);
    const stored = new Set(parts.map((p) => p.number));
    const missing = Array.from({ length: partCount(size, partSize) }, (_, i) => i + 1).filter((n) => !stored.has(n));
    return {
      upload_id: uploadId,
      video_id: session.video_id,
      size,
      part_size: partSize,
      parts,
      pending: await this.#partUrls(uploadId, key, session.storage_upload_id!, missing, nodeUrl),
      urls_expire_at: this.#urlsExpireAt(),
    };
  }

  /**
   * Assembles the parts into the version's source and queues processing. The listed parts
   * must add up to the size declared at creation; `sha256` (hex), when given, must match the
   * assembled file (read back once from storage), or the upload is refused with E_BAD_REQUEST
   * and nothing is processed.
   */
  async complete(principal: Principal, videoId: string, uploadId: string, parts: readonly { number: number; etag: string }[], sha256?: string): Promise<void> {
    const session = await this.#session(principal, videoId, uploadId, { allowCompleted: true });
    if (session.completed_at !== null) return;
    const key = objectKeys.source(session.video_id, session.version);
    const storageUploadId = session.storage_upload_id!;
    const stored = new Map((await this.s.store.multipart.listParts(key, storageUploadId).catch(() => [])).map((p) => [p.number, p]));
    if (stored.size > 0) {
      const total = parts.reduce((sum, p) => sum + (stored.get(p.number)?.size ?? 0), 0);
      if (session.size !== null && total !== session.size) {
        throw new AppError('E_BAD_REQUEST', `the listed parts hold ${total} bytes; the upload was declared as ${session.size}`);
      }
    }
    await completeUpload(this.s, uploadId, session.size ?? 0, async (sourceKey) => {
      await this.s.store.multipart.complete(sourceKey, storageUploadId, parts);
      if (sha256 === undefined || (await this.#digestMatches(sourceKey, sha256))) return;
      // The parts are spent (assembled): the upload cannot be retried, only started again.
      await this.s.store.delete(sourceKey);
      await abandonUpload(this.s, uploadId, 'checksum mismatch');
      throw new AppError('E_BAD_REQUEST', `the assembled file's SHA-256 is not ${sha256}: the upload was discarded, start it again`);
    });
  }

  async abort(principal: Principal, videoId: string, uploadId: string): Promise<void> {
    await this.#session(principal, videoId, uploadId);
    await abandonUpload(this.s, uploadId, 'aborted');
  }

  /** A part PUT to the node's own signed URL (stores clients cannot reach). */
  async putNodePart(pathname: string, query: URLSearchParams, body: Readable): Promise<StoredPart> {
    const check = this.#signer.verify(PART_URL_PURPOSE, pathname, query);
    if (check !== 'ok') throw new AppError('E_FORBIDDEN', `part URL ${check === 'expired' ? 'has expired' : 'is not valid'}`);
    const match = /^\/v1\/multipart-parts\/([^/]+)\/(\d{1,5})$/.exec(pathname);
    if (!match) throw new AppError('E_NOT_FOUND', 'not found');
    const [, uploadId, number] = match as unknown as [string, string, string];
    const sessions = new UploadSessions(this.s.db.db);
    const session = await sessions.find(uploadId);
    if (!session || session.kind !== 'multipart' || session.completed_at !== null || !session.storage_upload_id) throw new AppError('E_NOT_FOUND', 'unknown multipart upload');
    const part = await this.s.store.multipart.putPart(objectKeys.source(session.video_id, session.version), session.storage_upload_id, Number(number), body);
    await sessions.touch(uploadId, this.s.config.uploads.expire_after_s);
    return part;
  }

  async #session(principal: Principal, videoId: string, uploadId: string, opts: { allowCompleted?: boolean } = {}): Promise<UploadSessionRow> {
    requireScope(principal, 'upload');
    const session = await new UploadSessions(this.s.db.db).find(uploadId);
    if (!session || session.kind !== 'multipart' || session.video_id !== videoId || !session.storage_upload_id) throw new AppError('E_NOT_FOUND', `upload ${uploadId} not found`);
    if (session.completed_at !== null && !opts.allowCompleted) throw new AppError('E_CONFLICT', `upload ${uploadId} is already complete`);
    const video = await this.s.catalog.find(videoId);
    if (!video || !canManage(principal, video.owner)) throw new AppError('E_NOT_FOUND', `upload ${uploadId} not found`);
    return session;
  }

  /** `nodeUrl`: this node's base URL as the client reached it (used when `public_url` is unset). */
  async #partUrls(uploadId: string, key: string, storageUploadId: string, numbers: readonly number[], nodeUrl: string): Promise<PartUrl[]> {
    const ttl = this.s.config.uploads.multipart_url_ttl_s;
    const presign = this.s.store.multipart.presignPart?.bind(this.s.store.multipart);
    const base = (this.s.config.public_url || nodeUrl).replace(/\/+$/, '');
    return Promise.all(
      numbers.map(async (number) => ({
        number,
        url: presign ? await presign(key, storageUploadId, number, ttl) : base + this.#signer.sign(PART_URL_PURPOSE, `${NODE_PARTS_PATH}/${uploadId}/${number}`, ttl),
      })),
    );
  }

  #urlsExpireAt(): number {
    return Date.now() + this.s.config.uploads.multipart_url_ttl_s * 1000;
  }

  async #digestMatches(key: string, sha256: string): Promise<boolean> {
    const object = await this.s.store.get(key);
    if (!object) throw new AppError('E_CONFLICT', 'the assembled upload disappeared');
    const hash = createHash('sha256');
    for await (const chunk of object.body) hash.update(chunk as Buffer);
    return hash.digest('hex') === sha256.toLowerCase();
  }
}
