/**
 * Multipart uploads on the filesystem store, shaped like S3's so the client flow is the same:
 * parts are files under `<root>/.multipart/<upload id>/` (a hidden directory: never a key,
 * never listed), each with an MD5 ETag as S3 gives; completing streams them, in order, into
 * the object through the store's atomic put, then drops the directory.
 *
 * Clients cannot reach the disk, so there is no `presignPart`: the node serves signed part
 * URLs and writes parts through `putPart`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../core/errors.js';
import { checkPartList } from '../../core/storage/multipart-parts.js';
import type { MultipartUploads, ObjectInfo, PutBody, StoredPart } from '../../core/storage/object-store.js';

const UPLOAD_ID = /^[0-9a-f]{32}$/;
const PART_SUFFIX = '.part';
/** S3's bounds on part numbers. */
const MAX_PART_NUMBER = 10_000;

interface UploadMeta {
  key: string;
  contentType: string;
}

export class FsMultipartUploads implements MultipartUploads {
  readonly #dir: string;

  /**
   * @param root the store's root directory.
   * @param put the store's atomic put (the object appears whole or not at all).
   * @param head the store's head.
   */
  constructor(
    root: string,
    private readonly put: (key: string, body: PutBody) => Promise<ObjectInfo>,
    private readonly head: (key: string) => Promise<ObjectInfo | undefined>,
  ) {
    this.#dir = path.join(root, '.multipart');
  }

  #uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new AppError('E_NOT_FOUND', 'unknown multipart upload');
    return path.join(this.#dir, uploadId);
  }

  async #meta(key: string, uploadId: string): Promise<UploadMeta> {
    const meta = await readFile(path.join(this.#uploadDir(uploadId), 'upload.json'), 'utf8')
      .then((text) => JSON.parse(text) as UploadMeta)
      .catch(() => undefined);
    if (!meta || meta.key !== key) throw new AppError('E_NOT_FOUND', 'unknown multipart upload');
    return meta;
  }

  async create(key: string, contentType: string): Promise<string> {
    const uploadId = randomBytes(16).toString('hex');
    const dir = this.#uploadDir(uploadId);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'upload.json'), JSON.stringify({ key, contentType } satisfies UploadMeta));
    return uploadId;
  }

  async putPart(key: string, uploadId: string, partNumber: number, body: Readable): Promise<StoredPart> {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) throw new AppError('E_BAD_REQUEST', `part numbers go from 1 to ${MAX_PART_NUMBER}`);
    await this.#meta(key, uploadId);
    const dir = this.#uploadDir(uploadId);
    const target = path.join(dir, `${partNumber}${PART_SUFFIX}`);
    // A part sent again replaces the earlier one whole (as on S3): written aside, then renamed.
    const temp = path.join(dir, `.${partNumber}.${randomBytes(6).toString('hex')}.tmp`);
    const md5 = createHash('md5');
    let size = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, done) {
        md5.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, hashing, createWriteStream(temp, { flags: 'wx', flush: true }));
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return { number: partNumber, etag: `"${md5.digest('hex')}"`, size };
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    await this.#meta(key, uploadId);
    const dir = this.#uploadDir(uploadId);
    const parts: StoredPart[] = [];
    for (const name of await readdir(dir)) {
      if (!name.endsWith(PART_SUFFIX) || name.startsWith('.')) continue;
      const file = path.join(dir, name);
      const md5 = createHash('md5');
      for await (const chunk of createReadStream(file)) md5.update(chunk as Buffer);
      parts.push({ number: Number(name.slice(0, -PART_SUFFIX.length)), etag: `"${md5.digest('hex')}"`, size: (await stat(file)).size });
    }
    return parts.sort((a, b) => a.number - b.number);
  }

  async complete(key: string, uploadId: string, parts: readonly { number: number; etag: string }[]): Promise<ObjectInfo> {
    const dir = this.#uploadDir(uploadId);
    const meta = await this.#meta(key, uploadId).catch(async (err: unknown) => {
      // Completed before (the directory went after the object was written): repeatable.
      const done = await this.head(key);
      if (done) return undefined;
      throw err;
    });
    if (!meta) return (await this.head(key))!;
    const stored = new Map((await this.listParts(key, uploadId)).map((p) => [p.number, p]));
    checkPartList(parts, stored);
    const files = parts.map((p) => path.join(dir, `${p.number}${PART_SUFFIX}`));
    const info = await this.put(key, Readable.from(concatenate(files)));
    await rm(dir, { recursive: true, force: true });
    return info;
  }

  async abort(_key: string, uploadId: string): Promise<void> {
    await rm(this.#uploadDir(uploadId), { recursive: true, force: true });
  }
}

async function* concatenate(files: readonly string[]): AsyncGenerator<Buffer> {
  for (const file of files) for await (const chunk of createReadStream(file)) yield chunk as Buffer;
}
