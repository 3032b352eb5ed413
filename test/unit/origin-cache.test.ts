/**
 * The origin's cache over the real fs object store: hits, one storage read for concurrent
 * misses, the byte bound, streaming of large objects, short-lived mutable entries, and
 * compression done once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import t from 'tap';
import { Origin, type OriginOptions, type OriginRequest, type OriginResponse } from '../../core/origin/origin.js';
import type { ObjectStore } from '../../core/storage/object-store.js';
import createFsObjectStore from '../../storage-adapters/objects/fs.js';

const dataDir = await mkdtemp(path.join(tmpdir(), 'framecast-origin-unit-'));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const fsStore = createFsObjectStore('file:objects', { dataDir });

/** The real store, counting the reads that reach it. */
function countingStore(): { store: ObjectStore; reads: () => number } {
  let reads = 0;
  const get: ObjectStore['get'] = (key, range) => {
    reads++;
    return fsStore.get(key, range);
  };
  const store = new Proxy(fsStore, {
    get(target, prop) {
      if (prop === 'get') return get;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, reads: () => reads };
}

const PLAYLIST = `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n${Array.from({ length: 40 }, (_, i) => `#EXTINF:2.000000,\nseg-${String(i).padStart(5, '0')}.m4s`).join('\n')}\n#EXT-X-ENDLIST\n`;
const SEGMENT = Buffer.alloc(64 * 1024, 7);
const BIG = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
await fsStore.put('media/v/v1/240p/index.m3u8', PLAYLIST);
await fsStore.put('media/v/v1/240p/seg-00000.m4s', SEGMENT);
await fsStore.put('media/v/v1/big.m4s', BIG);
for (let i = 0; i < 10; i++) await fsStore.put(`media/v/v1/fill-${i}.m4s`, Buffer.alloc(40_000, i));

const OPTS: OriginOptions = { cacheBytes: 1 << 20, maxCachedObjectBytes: 100_000, mutableTtlMs: 300 };

function get(key: string, headers: OriginRequest['headers'] = {}, extra: Partial<OriginRequest> = {}): OriginRequest {
  return { key, contentType: 'video/iso.segment', cacheControl: 'public, max-age=31536000, immutable', mutable: false, method: 'GET', headers, ...extra };
}

async function bodyOf(res: OriginResponse | undefined): Promise<Buffer> {
  if (!res?.body) return Buffer.alloc(0);
  if (Buffer.isBuffer(res.body)) return res.body;
  const chunks: Buffer[] = [];
  for await (const c of res.body as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

t.test('the second request is served from memory', async (t) => {
  const { store, reads } = countingStore();
  const origin = new Origin(store, OPTS);
  const first = await origin.serve(get('media/v/v1/240p/seg-00000.m4s'));
  const second = await origin.serve(get('media/v/v1/240p/seg-00000.m4s'));
  t.same(await bodyOf(second), SEGMENT);
  t.equal(first?.headers.ETag, second?.headers.ETag);
  t.equal(reads(), 1);
  t.match(origin.stats(), { hits: 1, misses: 1, coalesced: 0, bytes_served: SEGMENT.length * 2 });
});

t.test('N concurrent misses cause one storage read', async (t) => {
  const { store, reads } = countingStore();
  const origin = new Origin(store, OPTS);
  const all = await Promise.all(Array.from({ length: 10 }, () => origin.serve(get('media/v/v1/240p/seg-00000.m4s'))));
  for (const res of all) t.same(await bodyOf(res), SEGMENT);
  t.equal(reads(), 1);
  t.match(origin.stats(), { misses: 1, coalesced: 9, hits: 0 });
});

t.test('the cache stays within its byte bound and evicts the least recently used', async (t) => {
  const origin = new Origin(fsStore, { ...OPTS, cacheBytes: 150_000 });
  for (let i = 0; i < 10; i++) await origin.serve(get(`media/v/v1/fill-${i}.m4s`));
  const stats = origin.stats();
  t.ok(stats.cache_bytes <= 150_000, `${stats.cache_bytes} bytes cached`);
  t.equal(stats.cache_entries, 3);
  await origin.serve(get('media/v/v1/fill-9.m4s'));
  await origin.serve(get('media/v/v1/fill-0.m4s'));
  t.match(origin.stats(), { hits: 1, misses: 11 }, 'the newest stayed, the oldest was evicted');
});

t.test('objects over the limit stream from storage, with ranges, and are never buffered', async (t) => {
  const { store, reads } = countingStore();
  const origin = new Origin(store, OPTS);
  const full = await origin.serve(get('media/v/v1/big.m4s'));
  t.equal(full?.status, 200);
  t.equal(full?.length, BIG.length);
  t.notOk(Buffer.isBuffer(full?.body), 'a stream, not a buffer');
  t.same(await bodyOf(full), BIG);
  const part = await origin.serve(get('media/v/v1/big.m4s', { range: 'bytes=100000-100099' }));
  t.equal(part?.status, 206);
  t.equal(part?.headers['Content-Range'], `bytes 100000-100099/${BIG.length}`);
  t.same(await bodyOf(part), BIG.subarray(100000, 100100));
  const tail = await origin.serve(get('media/v/v1/big.m4s', { range: 'bytes=-10' }));
  t.same(await bodyOf(tail), BIG.subarray(BIG.length - 10));
  t.equal(reads(), 3, 'every body comes from storage');
  t.ok(origin.stats().cache_bytes < 1000, 'only its size and validator are remembered');
  t.match(origin.stats(), { streamed: 3, misses: 1 });
});

t.test('playlists are compressed once and picked by Accept-Encoding', async (t) => {
  const origin = new Origin(fsStore, OPTS);
  const key = 'media/v/v1/240p/index.m3u8';
  const req = (ae?: string, range?: string) => get(key, { acceptEncoding: ae, range }, { contentType: 'application/vnd.apple.mpegurl' });
  const br1 = await origin.serve(req('gzip, deflate, br'));
  const br2 = await origin.serve(req('br'));
  t.equal(br1?.headers['Content-Encoding'], 'br');
  t.equal(br1?.headers.Vary, 'Accept-Encoding');
  t.equal(br1?.body, br2?.body, 'the same compressed buffer: compressed once');
  t.equal(brotliDecompressSync(br1!.body as Buffer).toString(), PLAYLIST);
  const gz = await origin.serve(req('gzip'));
  t.equal(gz?.headers['Content-Encoding'], 'gzip');
  t.equal(gunzipSync(gz!.body as Buffer).toString(), PLAYLIST);
  t.not(gz?.headers.ETag, br1?.headers.ETag, 'each coding has its own validator');
  const plain = await origin.serve(req('br;q=0, gzip;q=0'));
  t.equal(plain?.headers['Content-Encoding'], undefined);
  t.equal((await bodyOf(plain)).toString(), PLAYLIST);
  const ranged = await origin.serve(req('br', 'bytes=0-6'));
  t.equal(ranged?.status, 206);
  t.equal(ranged?.headers['Content-Encoding'], undefined, 'ranges come from the identity bytes');
  t.equal((await bodyOf(ranged)).toString(), '#EXTM3U');
});

t.test('a mutable object is re-read once its short TTL has passed', async (t) => {
  const key = 'staging/v/v1/240p/index.m3u8';
  await fsStore.put(key, '#EXTM3U\n#one\n');
  const origin = new Origin(fsStore, OPTS);
  const req = get(key, {}, { mutable: true });
  t.equal((await bodyOf(await origin.serve(req))).toString(), '#EXTM3U\n#one\n');
  await fsStore.put(key, '#EXTM3U\n#two\n');
  await new Promise((r) => setTimeout(r, OPTS.mutableTtlMs + 100));
  t.equal((await bodyOf(await origin.serve(req))).toString(), '#EXTM3U\n#two\n', 'not stale past the TTL');
});

t.test('per-request rewrites get their own validator and compression', async (t) => {
  const origin = new Origin(fsStore, OPTS);
  const key = 'media/v/v1/240p/index.m3u8';
  const rewrite = (id: string) => ({ id, apply: (text: string) => text.replaceAll('.m4s', `.m4s?token=${id}`) });
  const a = await origin.serve(get(key, { acceptEncoding: 'br' }, { rewrite: rewrite('aaa') }));
  const b = await origin.serve(get(key, {}, { rewrite: rewrite('bbb') }));
  t.match(brotliDecompressSync(a!.body as Buffer).toString(), 'seg-00000.m4s?token=aaa');
  t.match((await bodyOf(b)).toString(), 'seg-00000.m4s?token=bbb');
  t.not(a?.headers.ETag, b?.headers.ETag);
  const again = await origin.serve(get(key, { ifNoneMatch: b!.headers.ETag }, { rewrite: rewrite('bbb') }));
  t.equal(again?.status, 304);
});

t.test('conditional and range answers', async (t) => {
  const origin = new Origin(fsStore, OPTS);
  const key = 'media/v/v1/240p/seg-00000.m4s';
  const first = await origin.serve(get(key));
  const etag = first!.headers.ETag!;
  t.equal((await origin.serve(get(key, { ifNoneMatch: etag })))?.status, 304);
  t.equal((await origin.serve(get(key, { ifNoneMatch: `"nope", W/${etag}` })))?.status, 304, 'weak comparison in a list');
  t.equal((await origin.serve(get(key, { ifNoneMatch: '"nope"' })))?.status, 200);
  const beyond = await origin.serve(get(key, { range: `bytes=${SEGMENT.length}-` }));
  t.equal(beyond?.status, 416);
  t.equal(beyond?.headers['Content-Range'], `bytes */${SEGMENT.length}`);
  const stale = await origin.serve(get(key, { range: 'bytes=0-9', ifRange: '"old"' }));
  t.equal(stale?.status, 200, 'If-Range with an old validator gets the whole object');
  const fresh = await origin.serve(get(key, { range: 'bytes=0-9', ifRange: etag }));
  t.equal(fresh?.status, 206);
  const head = await origin.serve(get(key, {}, { method: 'HEAD' }));
  t.equal(head?.status, 200);
  t.equal(head?.length, SEGMENT.length);
  t.equal(head?.body, undefined);
  t.equal(await origin.serve(get('media/v/v1/missing.m4s')), undefined);
});
