/**
 * Object store on the local filesystem: one file per key under a root directory.
 *
 * Design notes:
 * - Writes go to a hidden temp file in the destination directory and are renamed into
 *   place, so readers see the old object or the whole new one. Hidden names (leading dot)
 *   can never be keys (assertSafeKey refuses them), so `list` skips them safely.
 * - `publishPrefix` is one directory rename: a version appears under `media/` whole.
 * - ETags come from (size, mtime in ns, inode) rather than the bytes: hashing content on
 *   every read would cost a full read per request. Every put makes a new inode (temp file
 *   + rename) and in-place writes change mtime, so the validator changes whenever the
 *   bytes can have changed; two names of one hard-linked file share it, which is right.
 * - Uploads in flight belong to @tus/file-store under `<root>/tus`: it keeps the data in
 *   `tus/<id>` and its metadata in `tus/<id>.json`. Moving or deleting an upload's key
 *   also drops that sidecar, so the upload is gone for tus too (a HEAD answers 404) and
 *   no orphan JSON stays behind (its expiry sweep only sees data+JSON pairs).
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, createWriteStream, mkdirSync, type BigIntStats } from 'node:fs';
import { access, copyFile, link, lstat, mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FileStore } from '@tus/file-store';
import { ERRORS as TUS_ERRORS, type DataStore } from '@tus/utils';
import { AppError, ERRORS, storageErrorCode } from '../../core/errors.js';
import {
  assertSafeKey,
  InvalidKeyError,
  type ByteRange,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type PutBody,
} from '../../core/storage/object-store.js';
import { FsMultipartUploads } from './fs-multipart.js';

const TUS_DIR = 'tus';
const TUS_SIDECAR_SUFFIX = '.json';
/** Errors after which a hard link cannot work but a copy can. */
const LINK_FALLBACK_CODES = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP']);
/** Errors meaning "there is no object at this path". */
const MISSING_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function isMissing(err: unknown): boolean {
  return MISSING_CODES.has(errorCode(err) ?? '');
}

function etagOf(st: BigIntStats): string {
  const digest = createHash('sha1').update(`${st.size}:${st.mtimeNs}:${st.ino}`).digest('hex');
  return `"${digest.slice(0, 32)}"`;
}

function infoOf(key: string, st: BigIntStats): ObjectInfo {
  return { key, size: Number(st.size), etag: etagOf(st), mtimeMs: Number(st.mtimeMs) };
}

function tempSibling(filePath: string): string {
  return path.join(path.dirname(filePath), `.${path.basename(filePath)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Keys of objects (not folders): a safe key without the trailing slash. */
function assertObjectKey(key: string): void {
  assertSafeKey(key);
  if (key.endsWith('/')) throw new InvalidKeyError(`object key must not end with '/': ${JSON.stringify(key)}`);
}

/** The sidecar @tus/file-store keeps beside an upload's data, when `key` is an upload. */
function tusSidecarKey(key: string): string | undefined {
  const [dir, name, ...rest] = key.split('/');
  if (dir !== TUS_DIR || name === undefined || rest.length > 0 || name.endsWith(TUS_SIDECAR_SUFFIX)) return undefined;
  return `${key}${TUS_SIDECAR_SUFFIX}`;
}

/**
 * Resolves the store's root directory. A string `file:objects` is relative to `dataDir`
 * and `file:/abs/path` is absolute. A `URL` object is taken as already resolved, because
 * `new URL('file:objects')` has already turned the relative path into `/objects`; callers
 * holding a relative config value should pass the string (or resolve it against
 * `pathToFileURL(dataDir + '/')` first).
 */
function resolveRoot(url: URL | string, dataDir: string): string {
  const parsed = typeof url === 'string' ? new URL(url, pathToFileURL(path.resolve(dataDir) + path.sep)) : url;
  if (parsed.protocol !== 'file:') throw new Error(`fs object store needs a file: URL, got ${parsed.protocol}`);
  return fileURLToPath(parsed);
}

/**
 * @tus/file-store, except that a failed write keeps its cause: the library turns every
 * write failure into a bare 500, so a full or read-only disk could not answer 507
 * E_STORAGE_FULL. The write itself is the library's: the chunk goes to the upload file at
 * `offset`, and what reached the disk before a failure stays (HEAD reports the file's size,
 * so the client resumes from the last byte really stored).
 */
class UploadFileStore extends FileStore {
  constructor(
    private readonly pathOf: (uploadId: string) => string,
    options: ConstructorParameters<typeof FileStore>[0],
  ) {
    super(options);
  }

  override async write(readable: Readable, uploadId: string, offset: number): Promise<number> {
    const target = this.pathOf(uploadId);
    let received = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(readable, counter, createWriteStream(target, { flags: 'r+', start: offset }));
    } catch (err) {
      if (storageErrorCode(err)) throw new AppError('E_STORAGE_FULL', `${ERRORS.E_STORAGE_FULL.message} (${errorCode(err)})`, { cause: err });
      throw TUS_ERRORS.FILE_WRITE_ERROR;
    }
    return offset + received;
  }
}

/** The filesystem object store; see the module comment for its guarantees. */
export class FsObjectStore implements ObjectStore {
  readonly name = 'fs';
  readonly root: string;

  readonly multipart: FsMultipartUploads;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.multipart = new FsMultipartUploads(this.root, (key, body) => this.put(key, body), (key) => this.head(key));
    mkdirSync(path.join(this.root, TUS_DIR), { recursive: true });
  }

  /** Absolute path for a key or prefix, refusing anything that would leave the root. */
  #resolve(key: string): string {
    const resolved = path.resolve(this.root, ...key.split('/').filter((p) => p !== ''));
    const rel = path.relative(this.root, resolved);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new InvalidKeyError(`object key escapes the store: ${JSON.stringify(key)}`);
    }
    return resolved;
  }

  #objectPath(key: string): string {
    assertObjectKey(key);
    return this.#resolve(key);
  }

  async #statFile(filePath: string): Promise<BigIntStats | undefined> {
    try {
      const st = await stat(filePath, { bigint: true });
      return st.isFile() ? st : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** Writes into a temp sibling with `write`, then renames over the target. */
  async #writeAtomically(key: string, write: (tempPath: string) => Promise<void>): Promise<ObjectInfo> {
    const target = this.#objectPath(key);
    await mkdir(path.dirname(target), { recursive: true });
    const temp = tempSibling(target);
    try {
      await write(temp);
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    const st = await this.#statFile(target);
    if (!st) throw new AppError('E_CONFLICT', `object ${key} was removed while being written`);
    return infoOf(key, st);
  }

  async put(key: string, body: PutBody): Promise<ObjectInfo> {
    // `flush` fsyncs before close: without it a crash right after the rename could leave
    // an empty object in place.
    return this.#writeAtomically(key, async (temp) => {
      if (body instanceof Readable) {
        await pipeline(body, createWriteStream(temp, { flags: 'wx', flush: true }));
      } else {
        await writeFile(temp, body, { flag: 'wx', flush: true });
      }
    });
  }

  async putFile(key: string, localPath: string): Promise<ObjectInfo> {
    return this.#writeAtomically(key, async (temp) => {
      try {
        await link(localPath, temp);
      } catch (err) {
        if (!LINK_FALLBACK_CODES.has(errorCode(err) ?? '')) throw err;
        await copyFile(localPath, temp, fsConstants.COPYFILE_FICLONE);
      }
    });
  }

  async get(key: string, range?: ByteRange): Promise<ObjectBody | undefined> {
    const filePath = this.#objectPath(key);
    let handle;
    try {
      handle = await open(filePath, 'r');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    // Stat the open descriptor, not the path, so the info describes exactly the bytes read
    // even if a put renames a new object over this key meanwhile.
    try {
      const st = await handle.stat({ bigint: true });
      if (!st.isFile()) {
        await handle.close();
        return undefined;
      }
      const info = infoOf(key, st);
      if (!range) return { info, body: handle.createReadStream() };
      const { start, end } = range;
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
        throw new RangeError(`invalid byte range ${start}-${end}`);
      }
      if (start >= info.size) throw new RangeError(`byte range ${start}-${end} starts past the end (${info.size} bytes)`);
      return { info, body: handle.createReadStream({ start, end: Math.min(end, info.size - 1) }) };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const st = await this.#statFile(this.#objectPath(key));
    return st && infoOf(key, st);
  }

  /** Keys of files under `dirKey` (a '' or '/'-terminated key) that start with `prefix`. */
  async #walk(dirKey: string, prefix: string): Promise<string[]> {
    const dirPath = dirKey === '' ? this.root : this.#resolve(dirKey);
    let entries;
    try {
      entries = await readdir(dirPath, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    const nested: Promise<string[]>[] = [];
    const keys: string[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const key = dirKey + entry.name;
      if (entry.isFile()) {
        if (key.startsWith(prefix)) keys.push(key);
      } else if (entry.isDirectory()) {
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) nested.push(this.#walk(sub, prefix));
      }
    }
    for (const more of await Promise.all(nested)) keys.push(...more);
    return keys;
  }

  async #keysUnder(prefix: string): Promise<string[]> {
    if (prefix !== '') assertSafeKey(prefix);
    const dirKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    return this.#walk(dirKey, prefix);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const keys = await this.#keysUnder(prefix);
    const infos = await Promise.all(
      keys.map(async (key) => {
        const st = await this.#statFile(this.#resolve(key));
        return st && infoOf(key, st);
      }),
    );
    return infos.filter((i): i is ObjectInfo => i !== undefined).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const filePath = this.#objectPath(key);
    await unlinkIfPresent(filePath);
    const sidecar = tusSidecarKey(key);
    if (sidecar) await unlinkIfPresent(this.#resolve(sidecar));
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (prefix === '') throw new InvalidKeyError('refusing to delete every object (empty prefix)');
    const keys = await this.#keysUnder(prefix);
    if (prefix.endsWith('/')) {
      // One recursive removal also takes temp files and empty folders along.
      await rm(this.#resolve(prefix), { recursive: true, force: true });
    } else {
      await Promise.all(keys.map((key) => unlinkIfPresent(this.#resolve(key))));
    }
    return keys.length;
  }

  async move(fromKey: string, toKey: string): Promise<void> {
    const from = this.#objectPath(fromKey);
    const to = this.#objectPath(toKey);
    if (from === to) return;
    if (!(await this.#statFile(from))) throw new AppError('E_NOT_FOUND', `object ${fromKey} does not exist`);
    await mkdir(path.dirname(to), { recursive: true });
    try {
      await rename(from, to);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') throw new AppError('E_NOT_FOUND', `object ${fromKey} does not exist`, { cause: err });
      throw err;
    }
    const sidecar = tusSidecarKey(fromKey);
    if (sidecar) await unlinkIfPresent(this.#resolve(sidecar));
  }

  async publishPrefix(fromPrefix: string, toPrefix: string): Promise<void> {
    assertSafeKey(fromPrefix);
    assertSafeKey(toPrefix);
    const from = this.#resolve(fromPrefix);
    const to = this.#resolve(toPrefix);
    const nested = (a: string, b: string) => a === b || b.startsWith(a + path.sep);
    if (nested(from, to) || nested(to, from)) {
      throw new InvalidKeyError(`cannot publish ${fromPrefix} to ${toPrefix}: one contains the other`);
    }
    const fromStat = await lstat(from).catch((err: unknown) => (isMissing(err) ? undefined : Promise.reject(err)));
    if (!fromStat?.isDirectory()) throw new AppError('E_NOT_FOUND', `nothing to publish under ${fromPrefix}`);
    const toExists = await lstat(to).then(
      () => true,
      (err: unknown) => (isMissing(err) ? false : Promise.reject(err)),
    );
    if (toExists) throw new AppError('E_CONFLICT', `${toPrefix} already exists`);
    await mkdir(path.dirname(to), { recursive: true });
    try {
      // rename(2) replaces an empty directory that appeared since the check (nothing is
      // lost) and refuses a non-empty one, so a concurrent publisher cannot be overwritten.
      await rename(from, to);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new AppError('E_CONFLICT', `${toPrefix} already exists`, { cause: err });
      if (code === 'ENOENT') throw new AppError('E_NOT_FOUND', `nothing to publish under ${fromPrefix}`, { cause: err });
      throw err;
    }
  }

  /** The object's file path (whether or not the object exists yet). */
  localPath(key: string): string {
    return this.#objectPath(key);
  }

  async download(key: string, localPath: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    const from = this.#objectPath(key);
    if (!(await this.#statFile(from))) throw new AppError('E_NOT_FOUND', `object ${key} does not exist`);
    await copyFile(from, localPath, fsConstants.COPYFILE_FICLONE);
  }

  tusDataStore(opts: { expirationPeriodInMilliseconds: number }): DataStore {
    return new UploadFileStore((id) => this.#objectPath(this.tusUploadKey(id)), {
      directory: path.join(this.root, TUS_DIR),
      expirationPeriodInMilliseconds: opts.expirationPeriodInMilliseconds,
    });
  }

  tusUploadKey(uploadId: string): string {
    const key = `${TUS_DIR}/${uploadId}`;
    assertObjectKey(key);
    return key;
  }

  async ping(): Promise<boolean> {
    try {
      await access(this.root, fsConstants.R_OK | fsConstants.W_OK);
      return true;
    } catch {
      return false;
    }
  }
}

async function unlinkIfPresent(filePath: string): Promise<void> {
  try {
    await unlink(filePath);
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
}

/**
 * Opens the filesystem object store. `url` is `file:objects` (relative to `dataDir`) or
 * `file:/abs/path`; pass the config string so a relative path stays relative.
 */
export default function createFsObjectStore(url: URL | string, opts: { dataDir: string }): FsObjectStore {
  return new FsObjectStore(resolveRoot(url, opts.dataDir));
}
