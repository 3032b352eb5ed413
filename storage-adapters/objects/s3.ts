/**
 * Object store on any S3 server (MinIO, Ceph RGW, AWS) through the minio client.
 *
 * URL: `s3://KEY:SECRET@HOST[:PORT]/BUCKET?ssl=false&region=us-east-1&style=path|virtual&create=true`
 * (ssl defaults to true, region to us-east-1, style to path: MinIO and Ceph; AWS wants
 * `style=virtual`; `create=true` makes the bucket when it is missing). Key and secret are
 * URL-encoded.
 *
 * Design notes:
 * - A PUT replaces an object atomically on S3, so `put` needs no temp key. Bodies of unknown
 *   length stream as a multipart upload (minio splits them); the info returned comes from a
 *   HEAD afterwards, because Ceph answers CompleteMultipartUpload with an empty ETag.
 * - `get` is one request: the size, ETag and mtime of the whole object come from the same
 *   response as the bytes (Content-Range), so they always describe the bytes read.
 * - `publishPrefix` copies server-side (bounded concurrency) and deletes the source after:
 *   S3 has no rename, so readers of the target can see a partial set while it runs
 *   (`atomicPublish` is false). Core only points viewers at the target after it returns
 *   (the version flips to ready in the database afterwards), which is what makes the
 *   publish whole for viewers. See README "Scale-out" for the measured cost.
 * - Uploads in flight belong to @tus/s3-store, under `tus/` in the same bucket: `tus/<id>`
 *   (a multipart upload, then the object), `tus/<id>.info` (its metadata) and sometimes
 *   `tus/<id>.part` (a short tail). The store keeps no metadata cache, so a node sees an
 *   upload exactly as another node left it and an upload resumes on any node. Moving or
 *   deleting an upload's key takes the siblings and any multipart upload along.
 * - Every backend failure becomes an AppError (E_UNAVAILABLE when the server cannot be
 *   reached or is overloaded, E_INTERNAL otherwise) with the S3 error as its cause.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Store } from '@tus/s3-store';
import type { DataStore, KvStore } from '@tus/utils';
import { Client, CopyDestinationOptions, CopySourceOptions, S3Error } from 'minio';
import { AppError } from '../../core/errors.js';
import {
  assertSafeKey,
  InvalidKeyError,
  type ByteRange,
  type IncompleteUpload,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type PutBody,
} from '../../core/storage/object-store.js';
import { S3MultipartUploads } from './s3-multipart.js';

const TUS_PREFIX = 'tus/';
const TUS_SIBLING_SUFFIXES = ['.info', '.part'] as const;
/** Largest object a single CopyObject may copy; bigger ones are copied in parts. */
const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3;
const COPY_CONCURRENCY = 16;
const OPEN_TIMEOUT_MS = 10_000;
const PING_TIMEOUT_MS = 3_000;
/** S3 error codes meaning "no such object". */
const MISSING_CODES = new Set(['NoSuchKey', 'NotFound', 'NoSuchUpload']);
/** S3 error codes meaning the credentials were refused. */
const CREDENTIAL_CODES = new Set(['AccessDenied', 'SignatureDoesNotMatch', 'InvalidAccessKeyId']);
/** S3 error codes (and socket errors) meaning "the backend is not usable right now". */
const UNAVAILABLE_CODES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** Where and how to reach the bucket, parsed from the storage URL. */
export interface S3Location {
  endPoint: string;
  port: number | undefined;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
  pathStyle: boolean;
  createBucket: boolean;
}

/** Parses `s3://KEY:SECRET@HOST:PORT/BUCKET?…` (see the module comment). */
export function parseS3Url(url: URL | string): S3Location {
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol !== 's3:') throw new Error(`s3 object store needs an s3:// URL, got ${u.protocol}`);
  const bucket = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
  if (!bucket || bucket.includes('/')) throw new Error('s3:// URL must name one bucket: s3://KEY:SECRET@HOST:PORT/BUCKET');
  if (!u.username || !u.password) throw new Error('s3:// URL must carry KEY:SECRET before the host');
  const flag = (name: string, fallback: boolean) => {
    const v = u.searchParams.get(name);
    return v === null ? fallback : !['false', '0', 'no'].includes(v.toLowerCase());
  };
  const style = u.searchParams.get('style') ?? 'path';
  if (style !== 'path' && style !== 'virtual') throw new Error(`s3:// URL style must be path or virtual, got ${style}`);
  return {
    endPoint: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : undefined,
    useSSL: flag('ssl', true),
    accessKey: decodeURIComponent(u.username),
    secretKey: decodeURIComponent(u.password),
    bucket,
    region: u.searchParams.get('region') ?? 'us-east-1',
    pathStyle: style === 'path',
    createBucket: flag('create', false),
  };
}

/** `s3://host:port/bucket` with no credentials, for logs and errors. */
export function describeLocation(loc: S3Location): string {
  return `s3://${loc.endPoint}${loc.port ? `:${loc.port}` : ''}/${loc.bucket}`;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code ?? (err as { Code?: unknown }).Code ?? (err as { name?: unknown }).name;
  return typeof code === 'string' ? code : undefined;
}

function isMissing(err: unknown): boolean {
  return MISSING_CODES.has(errorCode(err) ?? '');
}

function quoted(etag: string | undefined): string {
  return `"${(etag ?? '').replace(/^(W\/)?"|"$/g, '')}"`;
}

/** Keys of objects (not folders): a safe key without the trailing slash. */
function assertObjectKey(key: string): void {
  assertSafeKey(key);
  if (key.endsWith('/')) throw new InvalidKeyError(`object key must not end with '/': ${JSON.stringify(key)}`);
}

/** The upload id when `key` is a tus upload's data key (`tus/<id>`). */
function tusUploadId(key: string): string | undefined {
  if (!key.startsWith(TUS_PREFIX)) return undefined;
  const id = key.slice(TUS_PREFIX.length);
  return id.includes('/') || TUS_SIBLING_SUFFIXES.some((s) => id.endsWith(s)) ? undefined : id;
}

async function withTimeout<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} did not answer within ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `items` through `run`, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await run(items[next++] as T);
  });
  await Promise.all(lanes);
}

/** A metadata cache that keeps nothing: every node reads `.info` from the bucket. */
class NoCache implements KvStore<never> {
  async get(): Promise<undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
  async delete(): Promise<void> {}
}

/**
 * @tus/s3-store writing under `tus/`: it uses the upload id as the object key, so a
 * middleware on its S3 client puts the prefix on every key it sends and takes it off the
 * keys it lists (expiry lists multipart uploads).
 */
class PrefixedS3Store extends S3Store {
  constructor(options: ConstructorParameters<typeof S3Store>[0]) {
    super(options);
    const prefix = (key: unknown) => (typeof key === 'string' && key !== '' ? TUS_PREFIX + key : key);
    const unprefix = (key: unknown) => (typeof key === 'string' && key.startsWith(TUS_PREFIX) ? key.slice(TUS_PREFIX.length) : key);
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as Record<string, unknown>;
        if ('Key' in input) input.Key = prefix(input.Key);
        const del = input.Delete as { Objects?: { Key?: string }[] } | undefined;
        for (const o of del?.Objects ?? []) o.Key = prefix(o.Key) as string;
        if (context.commandName === 'ListMultipartUploadsCommand') {
          input.Prefix = TUS_PREFIX;
          if (input.KeyMarker) input.KeyMarker = prefix(input.KeyMarker);
        }
        const result = await next(args);
        const output = result.output as { Uploads?: { Key?: string }[]; NextKeyMarker?: string };
        if (context.commandName === 'ListMultipartUploadsCommand') {
          for (const u of output.Uploads ?? []) u.Key = unprefix(u.Key) as string;
          output.NextKeyMarker = unprefix(output.NextKeyMarker) as string;
        }
        return result;
      },
      { step: 'initialize', name: 'framecastTusPrefix' },
    );
  }
}

/** The S3 object store; see the module comment for its guarantees. */
export class S3ObjectStore implements ObjectStore {
  readonly name = 's3';
  readonly atomicPublish = false;
  readonly location: S3Location;
  readonly client: Client;
  readonly #agent: HttpAgent;
  readonly #tusStores = new Map<number, DataStore>();

  readonly multipart: S3MultipartUploads;

  constructor(location: S3Location) {
    this.location = location;
    this.#agent = location.useSSL ? new HttpsAgent({ keepAlive: true, maxSockets: 64 }) : new HttpAgent({ keepAlive: true, maxSockets: 64 });
    this.client = new Client({
      endPoint: location.endPoint,
      ...(location.port ? { port: location.port } : {}),
      useSSL: location.useSSL,
      accessKey: location.accessKey,
      secretKey: location.secretKey,
      region: location.region,
      pathStyle: location.pathStyle,
      transportAgent: this.#agent,
    });
    this.multipart = new S3MultipartUploads({
      client: this.client,
      bucket: location.bucket,
      call: (what, work) => this.#call(what, work),
      head: (key) => this.head(key),
      isMissing: (err) => err instanceof AppError && isMissing(err.cause),
    });
  }

  get #bucket(): string {
    return this.location.bucket;
  }

  /** Runs one backend call, turning its failure into our error codes. */
  async #call<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof AppError || err instanceof InvalidKeyError || err instanceof RangeError) throw err;
      const code = errorCode(err) ?? 'error';
      const message = `object storage ${describeLocation(this.location)}: ${what} failed (${code}${err instanceof Error && err.message ? `: ${err.message}` : ''})`;
      throw new AppError(UNAVAILABLE_CODES.has(code) || !(err instanceof S3Error) ? 'E_UNAVAILABLE' : 'E_INTERNAL', message, { cause: err });
    }
  }

  async #info(key: string): Promise<ObjectInfo> {
    const info = await this.head(key);
    if (!info) throw new AppError('E_CONFLICT', `object ${key} was removed while being written`);
    return info;
  }

  async put(key: string, body: PutBody): Promise<ObjectInfo> {
    assertObjectKey(key);
    await this.#call(`put ${key}`, () =>
      body instanceof Readable ? this.client.putObject(this.#bucket, key, body) : this.client.putObject(this.#bucket, key, body, Buffer.byteLength(body)),
    );
    return this.#info(key);
  }

  async putFile(key: string, localPath: string): Promise<ObjectInfo> {
    assertObjectKey(key);
    await this.#call(`put ${key}`, () => this.client.fPutObject(this.#bucket, key, localPath));
    return this.#info(key);
  }

  async get(key: string, range?: ByteRange): Promise<ObjectBody | undefined> {
    assertObjectKey(key);
    if (range && (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 0 || range.end < range.start)) {
      throw new RangeError(`invalid byte range ${range.start}-${range.end}`);
    }
    let res: IncomingMessage;
    try {
      res = await this.#call(`get ${key}`, () =>
        this.client.makeRequestAsync(
          { method: 'GET', bucketName: this.#bucket, objectName: key, headers: range ? { range: `bytes=${range.start}-${range.end}` } : {} },
          '',
          [200, 206],
        ),
      );
    } catch (err) {
      const cause = err instanceof AppError ? err.cause : err;
      if (isMissing(cause)) return undefined;
      if (errorCode(cause) === 'InvalidRange') throw new RangeError(`byte range ${range?.start}-${range?.end} starts past the end of ${key}`);
      throw err;
    }
    const total = /\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''))?.[1] ?? res.headers['content-length'];
    const info: ObjectInfo = {
      key,
      size: Number(total ?? 0),
      etag: quoted(res.headers.etag),
      mtimeMs: Date.parse(String(res.headers['last-modified'] ?? '')) || 0,
    };
    return { info, body: res };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertObjectKey(key);
    try {
      const st = await this.#call(`head ${key}`, () => this.client.statObject(this.#bucket, key));
      return { key, size: st.size, etag: quoted(st.etag), mtimeMs: st.lastModified.getTime() };
    } catch (err) {
      if (err instanceof AppError && isMissing(err.cause)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    if (prefix !== '') assertSafeKey(prefix);
    return this.#call(`list ${prefix}`, async () => {
      const out: ObjectInfo[] = [];
      for await (const item of this.client.listObjectsV2(this.#bucket, prefix, true)) {
        if (!item.name) continue;
        out.push({ key: item.name, size: item.size, etag: quoted(item.etag), mtimeMs: item.lastModified.getTime() });
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    });
  }

  /** Every key that stands for `key`: itself, plus a tus upload's siblings. */
  #withSiblings(key: string): string[] {
    return tusUploadId(key) === undefined ? [key] : [key, ...TUS_SIBLING_SUFFIXES.map((s) => key + s)];
  }

  async #removeKeys(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#call(`delete ${keys.length} objects`, async () => {
      const results = await this.client.removeObjects(this.#bucket, [...keys]);
      const failed = results.filter((r) => (r as { Code?: string }).Code && !isMissing(r));
      if (failed.length > 0) throw new Error(`could not delete ${failed.length} objects: ${JSON.stringify(failed.slice(0, 3))}`);
    });
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    if (tusUploadId(key) !== undefined) {
      for (const upload of await this.listIncompleteUploads(key)) {
        if (upload.key === key) await this.abortIncompleteUpload(upload.key, upload.uploadId);
      }
    }
    await this.#removeKeys(this.#withSiblings(key));
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (prefix === '') throw new InvalidKeyError('refusing to delete every object (empty prefix)');
    const keys = (await this.list(prefix)).map((i) => i.key);
    await this.#removeKeys(keys);
    return keys.length;
  }

  /** Server-side copy; objects past the single-copy limit are copied in parts. */
  async #copy(fromKey: string, toKey: string, size: number): Promise<void> {
    const source = new CopySourceOptions({ Bucket: this.#bucket, Object: fromKey });
    const dest = new CopyDestinationOptions({ Bucket: this.#bucket, Object: toKey });
    await this.#call(`copy ${fromKey} to ${toKey}`, () =>
      size > MAX_SINGLE_COPY_BYTES ? this.client.composeObject(dest, [source]) : this.client.copyObject(source, dest),
    );
  }

  async move(fromKey: string, toKey: string): Promise<void> {
    assertObjectKey(fromKey);
    assertObjectKey(toKey);
    if (fromKey === toKey) return;
    const info = await this.head(fromKey);
    if (!info) throw new AppError('E_NOT_FOUND', `object ${fromKey} does not exist`);
    await this.#copy(fromKey, toKey, info.size);
    await this.#removeKeys(this.#withSiblings(fromKey));
  }

  async publishPrefix(fromPrefix: string, toPrefix: string): Promise<void> {
    assertSafeKey(fromPrefix);
    assertSafeKey(toPrefix);
    if (fromPrefix.startsWith(toPrefix) || toPrefix.startsWith(fromPrefix)) {
      throw new InvalidKeyError(`cannot publish ${fromPrefix} to ${toPrefix}: one contains the other`);
    }
    const objects = await this.list(fromPrefix);
    if (objects.length === 0) throw new AppError('E_NOT_FOUND', `nothing to publish under ${fromPrefix}`);
    if ((await this.list(toPrefix)).length > 0) throw new AppError('E_CONFLICT', `${toPrefix} already exists`);
    await eachLimited(objects, COPY_CONCURRENCY, (o) => this.#copy(o.key, toPrefix + o.key.slice(fromPrefix.length), o.size));
    await this.#removeKeys(objects.map((o) => o.key));
  }

  async download(key: string, localPath: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    assertObjectKey(key);
    const { signal } = opts;
    try {
      // A stream, not fGetObject: an abort tears the connection down wherever the transfer hangs.
      await this.#call(`download ${key}`, async () => {
        signal?.throwIfAborted();
        const body = this.client.getObject(this.#bucket, key);
        const aborted = signal && new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
        aborted?.catch(() => undefined);
        const stream = await (aborted ? Promise.race([body, aborted]) : body);
        await pipeline(stream, createWriteStream(localPath), signal ? { signal } : {});
      });
    } catch (err) {
      if (err instanceof AppError && isMissing(err.cause)) throw new AppError('E_NOT_FOUND', `object ${key} does not exist`, { cause: err.cause });
      throw err;
    }
  }

  async presign(key: string, ttlS: number): Promise<string> {
    assertObjectKey(key);
    return this.#call(`presign ${key}`, () => this.client.presignedGetObject(this.#bucket, key, Math.max(1, Math.round(ttlS))));
  }

  async presignPut(key: string, ttlS: number): Promise<string> {
    assertObjectKey(key);
    return this.#call(`presign put ${key}`, () => this.client.presignedPutObject(this.#bucket, key, Math.max(1, Math.round(ttlS))));
  }

  async listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    if (prefix !== '') assertSafeKey(prefix);
    return this.#call(`list incomplete uploads under ${prefix}`, async () => {
      const out: IncompleteUpload[] = [];
      for await (const item of this.client.listIncompleteUploads(this.#bucket, prefix, true)) {
        const u = item as { key?: string; uploadId?: string; size?: number; initiated?: Date };
        if (!u.key || !u.uploadId) continue;
        out.push({ key: u.key, uploadId: u.uploadId, size: u.size ?? 0, initiatedMs: u.initiated?.getTime() ?? 0 });
      }
      return out;
    });
  }

  async abortIncompleteUpload(key: string, uploadId: string): Promise<void> {
    assertObjectKey(key);
    try {
      await this.#call(`abort upload of ${key}`, () =>
        this.client.makeRequestAsyncOmit({ method: 'DELETE', bucketName: this.#bucket, objectName: key, query: `uploadId=${encodeURIComponent(uploadId)}` }, '', [204]),
      );
    } catch (err) {
      if (!(err instanceof AppError && isMissing(err.cause))) throw err;
    }
  }

  tusDataStore(opts: { expirationPeriodInMilliseconds: number }): DataStore {
    const known = this.#tusStores.get(opts.expirationPeriodInMilliseconds);
    if (known) return known;
    const loc = this.location;
    const scheme = loc.useSSL ? 'https' : 'http';
    const isAws = /(^|\.)amazonaws\.com$/.test(loc.endPoint);
    const store = new PrefixedS3Store({
      expirationPeriodInMilliseconds: opts.expirationPeriodInMilliseconds,
      // Object tags are only for bucket lifecycle rules; expiry here lists multipart uploads.
      useTags: false,
      cache: new NoCache() as KvStore<never>,
      s3ClientConfig: {
        bucket: loc.bucket,
        region: loc.region,
        endpoint: `${scheme}://${loc.endPoint.includes(':') ? `[${loc.endPoint}]` : loc.endPoint}${loc.port ? `:${loc.port}` : ''}`,
        forcePathStyle: loc.pathStyle,
        credentials: { accessKeyId: loc.accessKey, secretAccessKey: loc.secretKey },
        // MinIO and Ceph refuse the SDK's default aws-chunked bodies (411 MissingContentLength).
        ...(isAws ? {} : { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const }),
      },
    });
    this.#tusStores.set(opts.expirationPeriodInMilliseconds, store);
    return store;
  }

  tusUploadKey(uploadId: string): string {
    const key = `${TUS_PREFIX}${uploadId}`;
    assertObjectKey(key);
    return key;
  }

  async ping(): Promise<boolean> {
    try {
      return await withTimeout(PING_TIMEOUT_MS, 'object storage', this.client.bucketExists(this.#bucket));
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }
}

/**
 * Opens the bucket named by the URL and checks, within ten seconds, that the server answers
 * and accepts the credentials; the error names the storage (never the secret).
 */
export default async function createS3ObjectStore(url: URL | string): Promise<S3ObjectStore> {
  const location = parseS3Url(url);
  const store = new S3ObjectStore(location);
  const where = describeLocation(location);
  try {
    const exists = await withTimeout(OPEN_TIMEOUT_MS, `object storage ${where}`, store.client.bucketExists(location.bucket));
    if (!exists) {
      if (!location.createBucket) throw new Error(`bucket "${location.bucket}" does not exist (create it, or add ?create=true to the URL)`);
      await withTimeout(OPEN_TIMEOUT_MS, `object storage ${where}`, store.client.makeBucket(location.bucket, location.region));
    }
  } catch (err) {
    await store.close();
    const code = errorCode(err);
    const reason = CREDENTIAL_CODES.has(code ?? '')
      ? 'the access key or secret is wrong, or may not use this bucket'
      : err instanceof Error
        ? err.message
        : String(err);
    throw new Error(`object storage ${where}: ${code && !reason.includes(code) ? `${code}: ` : ''}${reason}`, { cause: err });
  }
  return store;
}
