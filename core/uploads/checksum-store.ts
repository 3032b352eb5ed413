/**
 * The tus checksum extension (sha1), which @tus/server does not implement: a DataStore
 * wrapper that hashes a PATCH body while it is written and, on mismatch, rolls the upload
 * back to the offset it had and answers 460 Checksum Mismatch. The expected checksum comes
 * from the request's `Upload-Checksum` header, handed to `write()` through the upload's lock
 * (ChecksumExpectations) because the DataStore API does not see the request.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { DataStore, type Lock, type Locker, type Upload } from '@tus/utils';

export const CHECKSUM_ALGORITHMS = ['sha1'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export interface ExpectedChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64 digest, as sent in `Upload-Checksum`. */
  digest: string;
}

/**
 * The checksum each upload's current writer expects, published while that request holds the
 * upload's lock, so two requests for one upload never see each other's, and read by `write()`.
 * Explicit on purpose: an AsyncLocalStorage turns Node's promise hooks on for the whole
 * process, which cost every request (the origin's hot playlists included) ~2 µs of CPU.
 */
export class ChecksumExpectations {
  private readonly byUpload = new Map<string, ExpectedChecksum>();

  /** The checksum the writer holding `uploadId`'s lock expects; undefined when it sent none. */
  get(uploadId: string): ExpectedChecksum | undefined {
    return this.byUpload.get(uploadId);
  }

  /** `inner` for one request: each lock it hands out publishes `checksum` while held. */
  lockerFor(inner: Locker, checksum: ExpectedChecksum | undefined): Locker {
    const byUpload = this.byUpload;
    return {
      newLock(id: string): Lock {
        const lock = inner.newLock(id);
        return {
          async lock(signal, cancelReq) {
            await lock.lock(signal, cancelReq);
            if (checksum) byUpload.set(id, checksum);
            else byUpload.delete(id);
          },
          async unlock() {
            byUpload.delete(id);
            await lock.unlock();
          },
        };
      },
    };
  }
}

/** Parses `Upload-Checksum: sha1 <base64>`; 'unsupported' for other algorithms, undefined when absent. */
export function parseChecksumHeader(header: string | undefined): ExpectedChecksum | 'unsupported' | 'invalid' | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z0-9-]+)\s+([A-Za-z0-9+/=]+)\s*$/.exec(header);
  if (!m) return 'invalid';
  const algorithm = m[1]!.toLowerCase();
  if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(algorithm)) return 'unsupported';
  return { algorithm: algorithm as ChecksumAlgorithm, digest: m[2]! };
}

/** Rolls an upload back to `offset` bytes (drops a rejected chunk). */
export type Rollback = (uploadId: string, offset: number) => Promise<void>;

export class ChecksumDataStore extends DataStore {
  /** Fed by the lockers `expectations.lockerFor` makes; tus must lock with one of those. */
  readonly expectations = new ChecksumExpectations();

  constructor(
    private readonly inner: DataStore,
    private readonly rollback: Rollback,
  ) {
    super();
    this.extensions = [...inner.extensions, 'checksum'];
  }

  override create(file: Upload): Promise<Upload> {
    return this.inner.create(file);
  }
  override remove(id: string): Promise<void> {
    return this.inner.remove(id);
  }
  override getUpload(id: string): Promise<Upload> {
    return this.inner.getUpload(id);
  }
  override declareUploadLength(id: string, length: number): Promise<void> {
    return this.inner.declareUploadLength(id, length);
  }
  override deleteExpired(): Promise<number> {
    return this.inner.deleteExpired();
  }
  override getExpiration(): number {
    return this.inner.getExpiration();
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const expected = this.expectations.get(id);
    if (!expected) return this.inner.write(stream, id, offset);
    const hash = createHash(expected.algorithm);
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    stream.on('error', (err) => tap.destroy(err));
    let newOffset: number;
    try {
      newOffset = await this.inner.write(stream.pipe(tap), id, offset);
    } catch (err) {
      // Part of the chunk may be on disk but it was never verified: drop it (a full disk
      // also gets that space back), so the client resumes from the last verified byte.
      await this.rollback(id, offset).catch(() => undefined);
      throw err;
    }
    if (hash.digest('base64') !== expected.digest) {
      await this.rollback(id, offset);
      throw { status_code: 460, body: 'Checksum Mismatch\n' };
    }
    return newOffset;
  }
}
