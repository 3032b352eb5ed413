/**
 * Multipart uploads straight into the bucket: S3's own CreateMultipartUpload, presigned
 * UploadPart URLs the client PUTs to (no byte passes through a node), ListParts and
 * CompleteMultipartUpload, through the minio client.
 *
 * The part list is checked against ListParts before completing, so a missing part or a
 * wrong ETag is a clear E_BAD_REQUEST rather than the server's InvalidPart. Completing an
 * upload the server already completed (a retry after a lost answer) finds the object in place.
 */
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Client } from 'minio';
import { AppError } from '../../core/errors.js';
import type { MultipartUploads, ObjectInfo, StoredPart } from '../../core/storage/object-store.js';
import { checkPartList } from '../../core/storage/multipart-parts.js';

interface S3Access {
  client: Client;
  bucket: string;
  /** The store's error translation around one backend call. */
  call<T>(what: string, work: () => Promise<T>): Promise<T>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** True when an error (as `call` throws it) means the upload or object does not exist. */
  isMissing(err: unknown): boolean;
}

/** minio keeps ListParts protected; it is the S3 call we need for resume. */
interface ListingClient {
  listParts(bucket: string, key: string, uploadId: string): Promise<{ part: number; etag: string; size: number }[]>;
}

export class S3MultipartUploads implements MultipartUploads {
  constructor(private readonly s3: S3Access) {}

  create(key: string, contentType: string): Promise<string> {
    return this.s3.call(`start a multipart upload of ${key}`, () => this.s3.client.initiateNewMultipartUpload(this.s3.bucket, key, { 'Content-Type': contentType }));
  }

  presignPart(key: string, uploadId: string, partNumber: number, ttlS: number): Promise<string> {
    return this.s3.call(`presign part ${partNumber} of ${key}`, () =>
      this.s3.client.presignedUrl('PUT', this.s3.bucket, key, Math.max(1, Math.round(ttlS)), { partNumber: String(partNumber), uploadId }),
    );
  }

  async putPart(key: string, uploadId: string, partNumber: number, body: Readable): Promise<StoredPart> {
    // Only when clients cannot reach the bucket: a part is at most the part size in memory.
    const bytes = await buffer(body);
    const stored = await this.s3.call(`upload part ${partNumber} of ${key}`, () =>
      this.s3.client.uploadPart({ bucketName: this.s3.bucket, objectName: key, uploadID: uploadId, partNumber, headers: {} }, bytes),
    );
    return { number: partNumber, etag: `"${stored.etag.replace(/"/g, '')}"`, size: bytes.length };
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    try {
      const parts = await this.s3.call(`list the parts of ${key}`, () => (this.s3.client as unknown as ListingClient).listParts(this.s3.bucket, key, uploadId));
      return parts.map((p) => ({ number: p.part, etag: `"${p.etag.replace(/"/g, '')}"`, size: p.size })).sort((a, b) => a.number - b.number);
    } catch (err) {
      if (this.s3.isMissing(err)) throw new AppError('E_NOT_FOUND', 'unknown multipart upload', { cause: err });
      throw err;
    }
  }

  async complete(key: string, uploadId: string, parts: readonly { number: number; etag: string }[]): Promise<ObjectInfo> {
    let stored: StoredPart[];
    try {
      stored = await this.listParts(key, uploadId);
    } catch (err) {
      const done = err instanceof AppError && err.code === 'E_NOT_FOUND' ? await this.s3.head(key) : undefined;
      if (done) return done;
      throw err;
    }
    checkPartList(parts, new Map(stored.map((p) => [p.number, p])));
    await this.s3.call(`complete the multipart upload of ${key}`, () =>
      this.s3.client.completeMultipartUpload(
        this.s3.bucket,
        key,
        uploadId,
        parts.map((p) => ({ part: p.number, etag: p.etag.replace(/"/g, '') })),
      ),
    );
    // Ceph answers CompleteMultipartUpload with an empty ETag: the object's own comes from a HEAD.
    const info = await this.s3.head(key);
    if (!info) throw new AppError('E_CONFLICT', `object ${key} was removed while being completed`);
    return info;
  }

  async abort(key: string, uploadId: string): Promise<void> {
    try {
      await this.s3.call(`abort the multipart upload of ${key}`, () => this.s3.client.abortMultipartUpload(this.s3.bucket, key, uploadId));
    } catch (err) {
      if (!this.s3.isMissing(err)) throw err;
    }
  }
}
