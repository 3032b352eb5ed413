/**
 * The caching origin: serves objects of the object-storage seam to players (VOD under
 * /media, live under /live) the way a CDN edge would.
 *
 * Design:
 *  - Objects up to `maxCachedObjectBytes` are read once into an in-memory LRU bounded in
 *    bytes (`cacheBytes`); larger ones stream from storage on every request (with Range),
 *    and only their size and ETag are remembered.
 *  - Concurrent misses for one key share one storage read (request coalescing).
 *  - Immutable objects stay until evicted; mutable ones (growing or live playlists) for at
 *    most `mutableTtlMs`, so a changing playlist is never stale for longer than that.
 *  - Text media (playlists, MPD, VTT) are compressed (br, gzip) once when cached and picked
 *    by Accept-Encoding; ranges are always served from the identity bytes.
 *  - A per-request rewrite (signed playback puts the viewer's token on child URIs) works on
 *    the cached text; its output has its own ETag and is compressed per request.
 *
 * The origin knows nothing of videos or visibility: routes resolve a URL to a validated
 * object key and policy (OriginRequest), and the origin answers with an OriginResponse.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import type { Config } from '../../config/schema.js';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';
import { chooseCoding, compress, compressVariants, type ContentCoding, type EncodedVariants } from './compression.js';
import { derivedEtag, ifNoneMatchHits, ifRangeAllows } from './conditional.js';
import { isCompressible } from './content-types.js';
import { OriginMetrics, type OriginCounters } from './metrics.js';
import { parseRange } from './range.js';

export interface OriginOptions {
  /** Bound of the in-memory cache in bytes (bodies plus their compressed variants); 0 disables it. */
  cacheBytes: number;
  /** Objects larger than this stream from storage and are never buffered. */
  maxCachedObjectBytes: number;
  /** How long a mutable object may be served from memory; 0 means never cached. */
  mutableTtlMs: number;
}

/** A per-request rewrite of a text body (e.g. signed child URIs). */
export interface TextRewrite {
  /** Identifies the output among rewrites of the same object (folded into its ETag). */
  id: string;
  apply(text: string): string;
}

/** The request headers the origin honours. */
export interface OriginRequestHeaders {
  range?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifRange?: string | undefined;
  acceptEncoding?: string | undefined;
}

/** One object to serve, as a route resolved it from a validated URL. */
export interface OriginRequest {
  /** Object key, built from validated ids only. */
  key: string;
  contentType: string;
  cacheControl: string;
  /** True for objects that change under the same key (growing or live playlists). */
  mutable: boolean;
  method: string;
  headers: OriginRequestHeaders;
  rewrite?: TextRewrite | undefined;
}

/** What to send: status, headers, and a body for GET 200/206. */
export interface OriginResponse {
  /** 302 only in redirect mode (`Location` in headers). */
  status: 200 | 206 | 302 | 304 | 416;
  headers: Record<string, string>;
  body?: Buffer | Readable;
  /** Content-Length of a 200/206 (also for HEAD, which has no body). */
  length: number;
  /** On whole answers from memory without a rewrite: the object's representation, every coding. */
  cached?: CachedRepresentation;
  /**
   * Set by the route: how long the same URL may get the same answer without running its
   * access checks again (public media; see core/origin/hot-answers.ts). Absent: never.
   */
  shareableForMs?: number;
}

/** The bytes of an object in memory, every coding, and the headers its answers carry. */
export interface CachedRepresentation {
  etag: string;
  identity: Buffer;
  encoded: EncodedVariants;
  contentType: string;
  cacheControl: string;
  /** Sent with `Vary: Accept-Encoding`, coded when the client accepts it. */
  compressible: boolean;
}

/** Cache occupancy and counters of one process's origin. */
export interface OriginStats extends OriginCounters {
  cache_entries: number;
  cache_bytes: number;
  cache_limit_bytes: number;
  max_cached_object_bytes: number;
}

/** A body held in memory, with its compressed variants. */
interface Representation {
  etag: string;
  identity: Buffer;
  encoded: EncodedVariants;
}

type CacheEntry = ({ kind: 'buffered'; info: ObjectInfo } & Representation) | { kind: 'streamed'; info: ObjectInfo };

/** Bookkeeping bytes charged per entry on top of its bodies. */
const ENTRY_OVERHEAD = 256;

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class Origin {
  readonly metrics = new OriginMetrics();
  private readonly cache: LRUCache<string, CacheEntry> | undefined;
  private readonly inflight = new Map<string, Promise<CacheEntry | undefined>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly opts: OriginOptions,
  ) {
    this.cache =
      opts.cacheBytes > 0
        ? new LRUCache<string, CacheEntry>({
            maxSize: opts.cacheBytes,
            sizeCalculation: (e) =>
              ENTRY_OVERHEAD + (e.kind === 'buffered' ? e.identity.length + (e.encoded.br?.length ?? 0) + (e.encoded.gzip?.length ?? 0) : 0),
          })
        : undefined;
  }

  /** Answers a GET or HEAD for one object; undefined when the object does not exist. */
  async serve(req: OriginRequest): Promise<OriginResponse | undefined> {
    const entry = await this.entry(req.key, req.mutable);
    if (!entry) return undefined;
    if (entry.kind === 'streamed') return this.stream(entry.info, req);
    if (req.rewrite) return this.fromMemory(await this.rewritten(entry, req.rewrite, req.headers), req);
    const answer = this.fromMemory(entry, req);
    if (answer.status === 200 || answer.status === 304) {
      const { etag, identity, encoded } = entry;
      answer.cached = { etag, identity, encoded, contentType: req.contentType, cacheControl: req.cacheControl, compressible: isCompressible(req.key) };
    }
    return answer;
  }

  /**
   * The text of a small mutable object (a live playlist) through the cache, without serving
   * it: what a blocking reload reads to decide whether it can answer yet.
   */
  async peekText(key: string): Promise<string | undefined> {
    const entry = await this.entry(key, true);
    return entry?.kind === 'buffered' ? entry.identity.toString('utf8') : undefined;
  }

  /** Drops an object from memory (e.g. after it was deleted or replaced). */
  forget(key: string): void {
    this.cache?.delete(key);
  }

  stats(): OriginStats {
    return {
      ...this.metrics.snapshot(),
      cache_entries: this.cache?.size ?? 0,
      cache_bytes: this.cache?.calculatedSize ?? 0,
      cache_limit_bytes: this.opts.cacheBytes,
      max_cached_object_bytes: this.opts.maxCachedObjectBytes,
    };
  }

  private entry(key: string, mutable: boolean): Promise<CacheEntry | undefined> | CacheEntry {
    const cached = this.cache?.get(key);
    if (cached) {
      if (cached.kind === 'buffered') this.metrics.hits++;
      return cached;
    }
    const pending = this.inflight.get(key);
    if (pending) {
      this.metrics.coalesced++;
      return pending;
    }
    this.metrics.misses++;
    const load = this.load(key, mutable).finally(() => this.inflight.delete(key));
    this.inflight.set(key, load);
    return load;
  }

  private async load(key: string, mutable: boolean): Promise<CacheEntry | undefined> {
    const head = await this.store.head(key);
    if (!head) return undefined;
    let entry: CacheEntry;
    if (head.size > this.opts.maxCachedObjectBytes) {
      entry = { kind: 'streamed', info: head };
    } else {
      const obj = await this.store.get(key);
      if (!obj) return undefined;
      if (obj.info.size > this.opts.maxCachedObjectBytes) {
        // Replaced by a larger object since the head: stream that one instead.
        obj.body.destroy();
        entry = { kind: 'streamed', info: obj.info };
      } else {
        const identity = await readAll(obj.body);
        const encoded = isCompressible(key) ? await compressVariants(identity, 'cached') : {};
        entry = { kind: 'buffered', info: obj.info, etag: obj.info.etag, identity, encoded };
      }
    }
    if (!mutable) this.cache?.set(key, entry);
    else if (this.opts.mutableTtlMs > 0) this.cache?.set(key, entry, { ttl: this.opts.mutableTtlMs });
    return entry;
  }

  private async rewritten(entry: Representation, rewrite: TextRewrite, headers: OriginRequestHeaders): Promise<Representation> {
    const identity = Buffer.from(rewrite.apply(entry.identity.toString('utf8')));
    const etag = derivedEtag(entry.etag, `t${createHash('sha1').update(rewrite.id).digest('base64url').slice(0, 12)}`);
    // Compress only the one coding this client will get (and only if the stored text compressed).
    const coding = headers.range ? undefined : chooseCoding(headers.acceptEncoding, entry.encoded);
    const encoded: EncodedVariants = coding ? { [coding]: await compress(identity, coding, 'per-request') } : {};
    return { etag, identity, encoded };
  }

  private baseHeaders(req: OriginRequest, compressible: boolean): Record<string, string> {
    const headers: Record<string, string> = {
      'Content-Type': req.contentType,
      'Cache-Control': req.cacheControl,
      'Accept-Ranges': 'bytes',
    };
    if (compressible) headers.Vary = 'Accept-Encoding';
    return headers;
  }

  private fromMemory(rep: Representation, req: OriginRequest): OriginResponse {
    const compressible = isCompressible(req.key);
    const headers = this.baseHeaders(req, compressible);
    const size = rep.identity.length;
    const range = req.headers.range && ifRangeAllows(req.headers.ifRange, rep.etag) ? parseRange(req.headers.range, size) : undefined;
    const coding: ContentCoding | undefined = range || !compressible ? undefined : chooseCoding(req.headers.acceptEncoding, rep.encoded);
    const etag = coding ? derivedEtag(rep.etag, coding) : rep.etag;
    headers.ETag = etag;
    if (ifNoneMatchHits(req.headers.ifNoneMatch, etag)) {
      this.metrics.notModified++;
      return { status: 304, headers, length: 0 };
    }
    if (range === 'unsatisfiable') return this.unsatisfiable(headers, size);
    const head = req.method === 'HEAD';
    if (range) {
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
      const length = range.end - range.start + 1;
      if (head) return { status: 206, headers, length };
      this.metrics.bytesServed += length;
      return { status: 206, headers, length, body: rep.identity.subarray(range.start, range.end + 1) };
    }
    const body = coding ? rep.encoded[coding]! : rep.identity;
    if (coding) headers['Content-Encoding'] = coding;
    if (head) return { status: 200, headers, length: body.length };
    this.metrics.bytesServed += body.length;
    return { status: 200, headers, length: body.length, body };
  }

  private async stream(info: ObjectInfo, req: OriginRequest): Promise<OriginResponse | undefined> {
    const headers = this.baseHeaders(req, false);
    headers.ETag = info.etag;
    if (ifNoneMatchHits(req.headers.ifNoneMatch, info.etag)) {
      this.metrics.notModified++;
      return { status: 304, headers, length: 0 };
    }
    const range = req.headers.range && ifRangeAllows(req.headers.ifRange, info.etag) ? parseRange(req.headers.range, info.size) : undefined;
    if (range === 'unsatisfiable') return this.unsatisfiable(headers, info.size);
    const length = range ? range.end - range.start + 1 : info.size;
    if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
    const status = range ? 206 : 200;
    if (req.method === 'HEAD') return { status, headers, length };
    const obj = await this.store.get(req.key, range);
    if (!obj) {
      this.forget(req.key);
      return undefined;
    }
    if (obj.info.etag !== info.etag) {
      // Replaced since we remembered its size: forget it and answer for the new object.
      obj.body.destroy();
      this.forget(req.key);
      return this.serve(req);
    }
    this.metrics.streamed++;
    this.metrics.bytesServed += length;
    return { status, headers, length, body: obj.body };
  }

  private unsatisfiable(headers: Record<string, string>, size: number): OriginResponse {
    headers['Content-Range'] = `bytes */${size}`;
    delete headers['Content-Type'];
    return { status: 416, headers, length: 0 };
  }
}

/** The node's origin over its object store, sized by the `origin` config keys. */
export function createOrigin(store: ObjectStore, config: Readonly<Pick<Config, 'origin'>>): Origin {
  return new Origin(store, {
    cacheBytes: config.origin.cache_bytes,
    maxCachedObjectBytes: config.origin.max_cached_object_bytes,
    mutableTtlMs: config.origin.mutable_ttl_ms,
  });
}
