/**
 * Pre-compressed variants of text media (playlists, MPDs, VTT) and the choice among them by
 * `Accept-Encoding`. Bodies are compressed when an object enters the cache, not per request;
 * only per-viewer rewrites (signed playback) are compressed per request, at a lower effort.
 */
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';

const brotli = promisify(brotliCompress);
const gz = promisify(gzip);

/** Content codings the origin serves, in order of preference. */
export const CODINGS = ['br', 'gzip'] as const;
export type ContentCoding = (typeof CODINGS)[number];

/** The compressed variants of one body (a coding is absent when it would not save bytes). */
export type EncodedVariants = Partial<Record<ContentCoding, Buffer>>;

/** `cached`: done once per cached object, so worth a high effort. `per-request`: cheap. */
export type CompressionEffort = 'cached' | 'per-request';

const EFFORT: Record<CompressionEffort, { brQuality: number; gzipLevel: number }> = {
  cached: { brQuality: 9, gzipLevel: 9 },
  'per-request': { brQuality: 4, gzipLevel: 6 },
};

/** One compressed variant of a body. */
export async function compress(body: Buffer, coding: ContentCoding, effort: CompressionEffort): Promise<Buffer> {
  const { brQuality, gzipLevel } = EFFORT[effort];
  if (coding === 'gzip') return gz(body, { level: gzipLevel });
  return brotli(body, {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: brQuality,
      [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
      [zlib.BROTLI_PARAM_SIZE_HINT]: body.length,
    },
  });
}

/** Every coding's variant of a body, leaving out those that would not save bytes. */
export async function compressVariants(body: Buffer, effort: CompressionEffort): Promise<EncodedVariants> {
  const variants = await Promise.all(CODINGS.map(async (coding) => [coding, await compress(body, coding, effort)] as const));
  const out: EncodedVariants = {};
  for (const [coding, encoded] of variants) if (encoded.length < body.length) out[coding] = encoded;
  return out;
}

/** q-values of an Accept-Encoding header by coding (lower-cased); `*` included when listed. */
function acceptedCodings(header: string): Map<string, number> {
  const q = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    q.set(name, weight);
  }
  return q;
}

/**
 * The codings a client accepts, best first: highest q-value first, br on a tie; codings it
 * refuses (q=0, or not listed and no `*`) are left out. Empty means identity only.
 */
export function codingPreference(acceptEncoding: string | undefined): ContentCoding[] {
  if (!acceptEncoding) return [];
  const q = acceptedCodings(acceptEncoding);
  const weight = (coding: ContentCoding) => q.get(coding) ?? q.get('*') ?? 0;
  // Array.prototype.sort is stable: CODINGS order breaks ties.
  return CODINGS.filter((coding) => weight(coding) > 0).sort((a, b) => weight(b) - weight(a));
}

/** The coding to send among the available variants (see codingPreference); undefined means identity. */
export function chooseCoding(acceptEncoding: string | undefined, available: EncodedVariants): ContentCoding | undefined {
  return codingPreference(acceptEncoding).find((coding) => available[coding] !== undefined);
}
