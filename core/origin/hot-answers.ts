/**
 * Prepared answers for hot media URLs: the origin's fast path for its fast path.
 *
 * A public playlist or segment fetched over and over gets the same bytes and headers every
 * time, so after one full answer (URL parsed, access checked, object found in the origin's
 * LRU) the whole answer is kept, keyed by the raw request URL: per coding, the body and a
 * prepared head (no header object built, merged or validated per request: see
 * core/http/prepared-head.ts), plus the 304 for revalidations. A hit costs a Map lookup, a
 * clock read and writeHead + end.
 *
 * An answer lives at most as long as the route says it may skip its access checks (the
 * origin's lookup TTL, and for growing playlists the mutable TTL), so deletes, visibility
 * changes and new playlist lines take effect as quickly as without it. Private media (per
 * viewer tokens) and plugin-authorized playback are never kept; neither are ranges or
 * If-Range requests, which take the full path.
 */
import { codingPreference, type ContentCoding } from './compression.js';
import { derivedEtag } from './conditional.js';
import type { CachedRepresentation } from './origin.js';
import { PreparedHead, type HeaderList } from '../http/prepared-head.js';

/** What a prepared answer depends on in a request. */
export interface HotRequestHeaders {
  acceptEncoding: string | undefined;
  ifNoneMatch: string | undefined;
  /** Range or If-Range present: the full path answers. */
  ranged: boolean;
}

/**
 * Reads the request headers a prepared answer needs straight from `rawHeaders`, in one pass:
 * `req.headers` would first build an object of every header, each name lowercased.
 * Repeated headers are joined with ", " as Node joins them.
 */
export function hotRequestHeaders(raw: readonly string[]): HotRequestHeaders {
  const out: HotRequestHeaders = { acceptEncoding: undefined, ifNoneMatch: undefined, ranged: false };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    switch (name.length) {
      case 5:
        if (name.toLowerCase() === 'range') out.ranged = true;
        break;
      case 8:
        if (name.toLowerCase() === 'if-range') out.ranged = true;
        break;
      case 13:
        if (name.toLowerCase() === 'if-none-match') out.ifNoneMatch = out.ifNoneMatch === undefined ? raw[i + 1] : `${out.ifNoneMatch}, ${raw[i + 1]}`;
        break;
      case 15:
        if (name.toLowerCase() === 'accept-encoding') out.acceptEncoding = out.acceptEncoding === undefined ? raw[i + 1] : `${out.acceptEncoding}, ${raw[i + 1]}`;
        break;
    }
  }
  return out;
}

/** One coding of a prepared answer. */
export interface PreparedVariant {
  etag: string;
  body: Buffer;
  /**
   * A small body as a latin1 string (byte for byte the same), or undefined. Node writes a
   * string body in one piece with the header block (`_send` joins them), where a Buffer body
   * goes out as a second chunk through the stream's queue: for a playlist that second chunk
   * costs about as much as the nine headers the origin sends beyond a bare server's two.
   */
  text: string | undefined;
  /** Head of the 200 (HEAD too), Content-Length included. */
  head: PreparedHead;
  /** Head of the 304 to a matching If-None-Match. */
  notModified: PreparedHead;
}

interface PreparedAnswer {
  /** `performance.now()` past which the route must run its checks again. */
  validUntil: number;
  variants: Partial<Record<ContentCoding | 'identity', PreparedVariant>>;
}

/** Bodies up to this size are also kept as strings (see PreparedVariant.text): playlists, not segments; bounded so 20 000 hot URLs cannot double much memory. */
const MAX_TEXT_BYTES = 16 * 1024;

/** Distinct Accept-Encoding values remembered (browsers send one of a handful). */
const MAX_ENCODING_HEADERS = 256;

export class HotAnswers {
  private readonly answers = new Map<string, PreparedAnswer>();
  private readonly preferences = new Map<string, readonly ContentCoding[]>();

  /**
   * @param maxEntries URLs kept (a full map is emptied: it refills with what is hot).
   * @param fixedHeaders headers on every media answer (CORS, security), as a flat list.
   */
  constructor(
    private readonly maxEntries: number,
    private readonly fixedHeaders: HeaderList,
  ) {}

  /** The variant to send for `url` to a client with this Accept-Encoding, if one is prepared and valid. */
  lookup(url: string, acceptEncoding: string | undefined, now: number): PreparedVariant | undefined {
    const answer = this.answers.get(url);
    if (answer === undefined) return undefined;
    if (answer.validUntil <= now) {
      this.answers.delete(url);
      return undefined;
    }
    if (acceptEncoding === undefined) return answer.variants.identity;
    for (const coding of this.preference(acceptEncoding)) {
      const variant = answer.variants[coding];
      if (variant !== undefined) return variant;
    }
    return answer.variants.identity;
  }

  /** Keeps the answers of `url` for `forMs` from `now`. */
  remember(url: string, rep: CachedRepresentation, forMs: number, now: number): void {
    if (forMs <= 0) return;
    if (this.answers.size >= this.maxEntries) this.answers.clear();
    const variants: PreparedAnswer['variants'] = { identity: this.variant(rep, undefined) };
    if (rep.compressible) for (const coding of Object.keys(rep.encoded) as ContentCoding[]) variants[coding] = this.variant(rep, coding);
    this.answers.set(url, { validUntil: now + forMs, variants });
  }

  /** Drops every prepared answer (e.g. when a test or an operator needs changes seen at once). */
  clear(): void {
    this.answers.clear();
  }

  private preference(acceptEncoding: string): readonly ContentCoding[] {
    let codings = this.preferences.get(acceptEncoding);
    if (codings === undefined) {
      if (this.preferences.size >= MAX_ENCODING_HEADERS) this.preferences.clear();
      codings = codingPreference(acceptEncoding);
      this.preferences.set(acceptEncoding, codings);
    }
    return codings;
  }

  private variant(rep: CachedRepresentation, coding: ContentCoding | undefined): PreparedVariant {
    const body = coding ? rep.encoded[coding]! : rep.identity;
    const etag = coding ? derivedEtag(rep.etag, coding) : rep.etag;
    // The same headers, in the same order, as the origin's full answer (origin.ts fromMemory).
    const common: (string | number)[] = [...this.fixedHeaders, 'Content-Type', rep.contentType, 'Cache-Control', rep.cacheControl, 'Accept-Ranges', 'bytes'];
    if (rep.compressible) common.push('Vary', 'Accept-Encoding');
    common.push('ETag', etag);
    const headers = [...common];
    if (coding) headers.push('Content-Encoding', coding);
    headers.push('Content-Length', body.length);
    return { etag, body, text: body.length <= MAX_TEXT_BYTES ? body.toString('latin1') : undefined, head: new PreparedHead(headers), notModified: new PreparedHead(common) };
  }
}
