/**
 * The object-storage seam. Core code reads and writes media only through this interface;
 * `storage-adapters/objects/*.ts` implement it (one file each, default-exported factory).
 *
 * Keys are relative, slash-separated, built by core from validated ids (see `objectKeys`):
 * adapters refuse anything else (`..`, absolute paths, backslashes, NUL) with `InvalidKeyError`.
 *
 * Layout:
 *   sources/{videoId}/v{N}/source      the uploaded original
 *   staging/{videoId}/v{N}/…           a version being written (served while processing)
 *   media/{videoId}/v{N}/…             a published, immutable version
 *   tus/…                              in-flight uploads (owned by the tus data store)
 */
import type { Readable } from 'node:stream';
import type { DataStore } from '@tus/utils';

export interface ObjectInfo {
  key: string;
  size: number;
  /** Strong validator for the exact bytes (quoted, ready for the ETag header). */
  etag: string;
  mtimeMs: number;
}

/** Inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ObjectBody {
  info: ObjectInfo;
  body: Readable;
}

export type PutBody = Readable | Buffer | string;

/** A multipart upload the backend holds that was never completed (S3 and the like). */
export interface IncompleteUpload {
  key: string;
  uploadId: string;
  /** Bytes held in its parts. */
  size: number;
  initiatedMs: number;
}

/** One stored part of a multipart upload. */
export interface StoredPart {
  /** 1-based, as S3 numbers parts. */
  number: number;
  /** The part's ETag as the client got it from its PUT (quoted, as S3 sends it). */
  etag: string;
  size: number;
}

/**
 * Direct-to-storage multipart uploads (S3's CreateMultipartUpload / UploadPart /
 * CompleteMultipartUpload, and the same flow on the other stores): a client PUTs the parts of
 * one object straight to the storage, then the node completes the object from the parts'
 * ETags. The object appears under its key only when completed.
 */
export interface MultipartUploads {
  /** Starts a multipart upload of `key`; returns the store's upload id. */
  create(key: string, contentType: string): Promise<string>;
  /**
   * A time-limited URL the client PUTs part `partNumber` to, straight to the storage
   * (S3's presigned UploadPart). Undefined for a store clients cannot reach: then the node
   * serves a signed part URL of its own and writes the part with `putPart`.
   */
  presignPart?(key: string, uploadId: string, partNumber: number, ttlS: number): Promise<string>;
  /** Stores part `partNumber` from `body` (the node-served path); returns its ETag and size. */
  putPart(key: string, uploadId: string, partNumber: number, body: Readable): Promise<StoredPart>;
  /** The parts stored so far, by number (resume). E_NOT_FOUND when the upload is gone. */
  listParts(key: string, uploadId: string): Promise<StoredPart[]>;
  /**
   * Assembles the object from `parts` (ascending numbers, every ETag as stored): an unknown
   * part or a wrong ETag is E_BAD_REQUEST and leaves the upload as it was. Repeatable: a
   * completed upload whose object is in place answers with the object.
   */
  complete(key: string, uploadId: string, parts: readonly { number: number; etag: string }[]): Promise<ObjectInfo>;
  /** Drops the upload and its parts; missing is not an error. */
  abort(key: string, uploadId: string): Promise<void>;
}

export interface ObjectStore {
  /** Adapter name, for logs and /readyz. */
  readonly name: string;

  /** Writes an object; readers see either the old object or the whole new one. */
  put(key: string, body: PutBody): Promise<ObjectInfo>;

  /** Stores a local file under `key` (the fs adapter hard-links when it can). */
  putFile(key: string, localPath: string): Promise<ObjectInfo>;

  /** Reads an object, or the inclusive byte range of it; undefined when missing. */
  get(key: string, range?: ByteRange): Promise<ObjectBody | undefined>;

  /** Size and validator, or undefined when missing. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /** Every object whose key starts with `prefix` (a folder prefix should end with '/'). */
  list(prefix: string): Promise<ObjectInfo[]>;

  /** Deletes one object; missing is not an error. */
  delete(key: string): Promise<void>;

  /** Deletes every object under `prefix`; returns how many were removed. */
  deletePrefix(prefix: string): Promise<number>;

  /** Renames one object (source to its final place). */
  move(fromKey: string, toKey: string): Promise<void>;

  /**
   * Moves everything under `fromPrefix` to `toPrefix`, which must not exist yet. When
   * `atomicPublish` is not false, readers of `toPrefix` never see a partial set; otherwise
   * (S3: a copy of every object) they may while it runs, so core points viewers at
   * `toPrefix` only after it returns.
   */
  publishPrefix(fromPrefix: string, toPrefix: string): Promise<void>;

  /** False when `publishPrefix` is not atomic for readers of the target (default true). */
  readonly atomicPublish?: boolean;

  /**
   * A time-limited URL a client can GET the object from directly (origin redirect mode);
   * only adapters whose objects are reachable over HTTP offer it.
   */
  presign?(key: string, ttlS: number): Promise<string>;

  /**
   * A time-limited URL a client can PUT the object's bytes to directly (remote runners'
   * outputs, direct uploads), so no byte passes through a node; only adapters whose objects
   * are reachable over HTTP offer it (core/storage/object-urls.ts signs node URLs otherwise).
   */
  presignPut?(key: string, ttlS: number): Promise<string>;

  /** Multipart uploads under `prefix` that were started and never completed (fsck). */
  listIncompleteUploads?(prefix: string): Promise<IncompleteUpload[]>;

  /** Drops an incomplete multipart upload and its parts; missing is not an error. */
  abortIncompleteUpload?(key: string, uploadId: string): Promise<void>;

  /**
   * A local file path holding the object when the adapter keeps objects on local disk
   * (lets ffmpeg read a source without a copy); undefined otherwise.
   */
  localPath?(key: string): string | undefined;

  /**
   * Copies the object to a local file (used when `localPath` is not available). `signal`
   * stops a download that hangs (the transfer is torn down, the promise rejects).
   */
  download(key: string, localPath: string, opts?: { signal?: AbortSignal | undefined }): Promise<void>;

  /** Direct-to-storage multipart uploads into this store. */
  readonly multipart: MultipartUploads;

  /** The @tus/server data store that writes uploads under `tus/` in this same storage. */
  tusDataStore(opts: { expirationPeriodInMilliseconds: number }): DataStore;

  /** The object key the tus data store used for an upload id. */
  tusUploadKey(uploadId: string): string;

  /** True when the backend answers (used by /readyz). */
  ping(): Promise<boolean>;

  close?(): Promise<void>;
}

export class InvalidKeyError extends Error {
  override name = 'InvalidKeyError';
}

const KEY_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*\/?$/;

/** Throws unless `key` is a safe relative key (no `..`, no absolute path, no odd bytes). */
export function assertSafeKey(key: string): void {
  if (key.length === 0 || key.length > 1024 || !KEY_RE.test(key) || key.split('/').some((p) => p === '..' || p === '.')) {
    throw new InvalidKeyError(`invalid object key: ${JSON.stringify(key)}`);
  }
}

/** Where things live in the object store; the only place keys are built. */
export const objectKeys = {
  source: (videoId: string, version: number) => `sources/${videoId}/v${version}/source`,
  sourcePrefix: (videoId: string) => `sources/${videoId}/`,
  staging: (videoId: string, version: number) => `staging/${videoId}/v${version}/`,
  /** Inside a version's staging: what one remote runner's attempt uploads (a stale runner never writes into another attempt's). */
  stagingAttempt: (videoId: string, version: number, jobId: number, attempt: number) => `staging/${videoId}/v${version}/runner-j${jobId}-a${attempt}/`,
  media: (videoId: string, version: number) => `media/${videoId}/v${version}/`,
  mediaPrefix: (videoId: string) => `media/${videoId}/`,
  stagingPrefix: (videoId: string) => `staging/${videoId}/`,
} as const;

/** Factory signature each adapter default-exports. */
export type ObjectStoreFactory = (url: URL, opts: { dataDir: string }) => ObjectStore | Promise<ObjectStore>;
