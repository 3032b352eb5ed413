/**
 * The contract every ObjectStore adapter passes. An adapter's test file calls
 * `objectStoreContract(t, makeStore)`; `makeStore(t)` returns a fresh, empty store and
 * registers its own cleanup with `t.teardown`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Upload } from '@tus/utils';
import type { Test } from 'tap';
import type { ObjectBody, ObjectStore } from '../../core/storage/object-store.js';

export type MakeObjectStore = (t: Test) => ObjectStore | Promise<ObjectStore>;

async function bytesOf(body: ObjectBody | undefined): Promise<Buffer | undefined> {
  if (!body) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of body.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function text(store: ObjectStore, key: string): Promise<string | undefined> {
  return (await bytesOf(await store.get(key)))?.toString('utf8');
}

/** A local scratch directory removed when the test ends. */
async function scratchDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'framecast-objects-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const BAD_KEYS = [
  '',
  '../escape',
  'media/../../escape',
  decodeURIComponent('%2e%2e/escape'),
  decodeURIComponent('media/%2e%2e/%2e%2e/escape'),
  '%2e%2e/escape',
  '/etc/passwd',
  'media\\..\\escape',
  'media/a\0b',
  './media/x',
  'media//x',
  '.hidden',
  'media/.hidden',
];

export function objectStoreContract(t: Test, makeStore: MakeObjectStore): void {
  t.test('put, get and head round-trip Buffers, strings and streams', async (t) => {
    const store = await makeStore(t);
    t.equal(await store.get('media/a/v1/missing'), undefined, 'a missing object reads as undefined');
    t.equal(await store.head('media/a/v1/missing'), undefined, 'a missing object has no head');

    const info = await store.put('media/a/v1/buffer.bin', Buffer.from([0, 1, 2, 255]));
    t.match(info, { key: 'media/a/v1/buffer.bin', size: 4 });
    t.match(info.etag, /^"[^"]+"$/, 'the etag is quoted');
    t.same(await bytesOf(await store.get('media/a/v1/buffer.bin')), Buffer.from([0, 1, 2, 255]));

    await store.put('media/a/v1/text.txt', 'héllo');
    t.equal(await text(store, 'media/a/v1/text.txt'), 'héllo');
    t.equal((await store.head('media/a/v1/text.txt'))?.size, Buffer.byteLength('héllo'));

    await store.put('media/a/v1/stream.txt', Readable.from([Buffer.from('one '), Buffer.from('two')]));
    t.equal(await text(store, 'media/a/v1/stream.txt'), 'one two');

    await store.put('media/a/v1/empty', '');
    const empty = await store.get('media/a/v1/empty');
    t.equal(empty?.info.size, 0);
    t.same(await bytesOf(empty), Buffer.alloc(0), 'an empty object reads as no bytes');
  });

  t.test('the etag is stable for the same object and changes when it is replaced', async (t) => {
    const store = await makeStore(t);
    const first = await store.put('media/a/v1/master.m3u8', '#EXTM3U\n');
    t.equal((await store.head('media/a/v1/master.m3u8'))?.etag, first.etag);
    const body = await store.get('media/a/v1/master.m3u8');
    body?.body.destroy();
    t.equal(body?.info.etag, first.etag, 'get and head agree');
    const second = await store.put('media/a/v1/master.m3u8', '#EXTM3U\n#EXT-X-VERSION:7\n');
    t.not(second.etag, first.etag);
    t.equal((await store.head('media/a/v1/master.m3u8'))?.etag, second.etag);
  });

  t.test('get reads an inclusive byte range', async (t) => {
    const store = await makeStore(t);
    await store.put('media/a/v1/seg.m4s', '0123456789');
    const part = await store.get('media/a/v1/seg.m4s', { start: 2, end: 5 });
    t.equal(part?.info.size, 10, 'info describes the whole object');
    t.equal((await bytesOf(part))?.toString(), '2345');
    t.equal((await bytesOf(await store.get('media/a/v1/seg.m4s', { start: 9, end: 9 })))?.toString(), '9', 'one byte');
    t.equal((await bytesOf(await store.get('media/a/v1/seg.m4s', { start: 7, end: 100 })))?.toString(), '789', 'an end past the size is clamped');
    await t.rejects(store.get('media/a/v1/seg.m4s', { start: 10, end: 12 }), 'a range starting past the end is refused');
    await t.rejects(store.get('media/a/v1/seg.m4s', { start: 5, end: 4 }), 'a range ending before its start is refused');
    t.equal(await store.get('media/a/v1/nope', { start: 0, end: 1 }), undefined, 'a range of a missing object is undefined');
  });

  t.test('list finds every object under a prefix, recursively, and nothing else', async (t) => {
    const store = await makeStore(t);
    for (const key of ['media/a/v1/master.m3u8', 'media/a/v1/720p/seg_1.m4s', 'media/a/v1/720p/seg_2.m4s', 'media/a/v10/master.m3u8', 'media/b/v1/master.m3u8']) {
      await store.put(key, key);
    }
    const keys = async (prefix: string) => (await store.list(prefix)).map((i) => i.key).sort();
    t.same(await keys('media/a/v1/'), ['media/a/v1/720p/seg_1.m4s', 'media/a/v1/720p/seg_2.m4s', 'media/a/v1/master.m3u8']);
    t.same(await keys('media/a/v1'), ['media/a/v1/720p/seg_1.m4s', 'media/a/v1/720p/seg_2.m4s', 'media/a/v1/master.m3u8', 'media/a/v10/master.m3u8'], 'a prefix that is not a folder matches by name');
    t.same(await keys('media/a/v1/720p/seg_'), ['media/a/v1/720p/seg_1.m4s', 'media/a/v1/720p/seg_2.m4s']);
    t.same(await keys('media/c/'), [], 'an unknown prefix lists nothing');
    const [info] = await store.list('media/b/');
    t.match(info, { key: 'media/b/v1/master.m3u8', size: 'media/b/v1/master.m3u8'.length }, 'entries carry size');
    t.match(info?.etag, /^"[^"]+"$/);
  });

  t.test('delete removes one object; a missing one is not an error', async (t) => {
    const store = await makeStore(t);
    await store.put('media/a/v1/x', 'x');
    await store.delete('media/a/v1/x');
    t.equal(await store.head('media/a/v1/x'), undefined);
    await store.delete('media/a/v1/x');
    await store.delete('media/never/was');
  });

  t.test('deletePrefix removes everything under a prefix and counts it', async (t) => {
    const store = await makeStore(t);
    for (const key of ['staging/a/v1/master.m3u8', 'staging/a/v1/240p/seg_1.m4s', 'staging/a/v10/master.m3u8', 'staging/b/v1/master.m3u8']) {
      await store.put(key, 'x');
    }
    t.equal(await store.deletePrefix('staging/a/v1/'), 2);
    t.same((await store.list('staging/')).map((i) => i.key).sort(), ['staging/a/v10/master.m3u8', 'staging/b/v1/master.m3u8'], 'v10 is not under v1/');
    t.equal(await store.deletePrefix('staging/a/v1/'), 0, 'deleting again finds nothing');
    t.equal(await store.deletePrefix('staging/b/v1/mast'), 1, 'a name prefix');
    t.same((await store.list('staging/')).map((i) => i.key), ['staging/a/v10/master.m3u8']);
    await t.rejects(store.deletePrefix(''), 'refuses to delete everything');
  });

  t.test('move renames an object, creating its new folder and replacing what was there', async (t) => {
    const store = await makeStore(t);
    await store.put('tmp-area/source', 'the source');
    await store.move('tmp-area/source', 'sources/a/v1/source');
    t.equal(await store.head('tmp-area/source'), undefined, 'gone from the old key');
    t.equal(await text(store, 'sources/a/v1/source'), 'the source');
    await store.put('sources/a/v2/source', 'new');
    await store.move('sources/a/v2/source', 'sources/a/v1/source');
    t.equal(await text(store, 'sources/a/v1/source'), 'new', 'replaces the target');
    await t.rejects(store.move('sources/none/v1/source', 'sources/x/v1/source'), { code: 'E_NOT_FOUND' });
  });

  t.test('publishPrefix moves a whole folder (visible at once where the store is atomic)', async (t) => {
    const store = await makeStore(t);
    const files = ['master.m3u8', '240p/init_0.mp4', '240p/seg_1.m4s', '240p/index.m3u8', 'poster.jpg'];
    for (const f of files) await store.put(`staging/a/v1/${f}`, f);
    t.same(await store.list('media/a/v1/'), [], 'nothing published yet');

    const seen = new Set<number>();
    let done = false;
    const watcher = (async () => {
      while (!done) seen.add((await store.list('media/a/v1/')).length);
    })();
    await store.publishPrefix('staging/a/v1/', 'media/a/v1/');
    done = true;
    await watcher;
    // A store that publishes by copying says so; core then flips viewers over only after it returns.
    if (store.atomicPublish !== false) {
      for (const n of seen) t.ok(n === 0 || n === files.length, `a reader saw ${n} objects: none or all`);
    }

    t.same((await store.list('media/a/v1/')).map((i) => i.key).sort(), files.map((f) => `media/a/v1/${f}`).sort());
    t.same(await store.list('staging/a/v1/'), [], 'the staging folder is empty');
    t.equal(await text(store, 'media/a/v1/240p/seg_1.m4s'), '240p/seg_1.m4s');
  });

  t.test('publishPrefix refuses a target that exists and leaves both sides alone', async (t) => {
    const store = await makeStore(t);
    await store.put('staging/a/v2/master.m3u8', 'new');
    await store.put('media/a/v2/master.m3u8', 'old');
    await t.rejects(store.publishPrefix('staging/a/v2/', 'media/a/v2/'), { code: 'E_CONFLICT' });
    t.equal(await text(store, 'media/a/v2/master.m3u8'), 'old');
    t.equal(await text(store, 'staging/a/v2/master.m3u8'), 'new');
    await t.rejects(store.publishPrefix('staging/none/v1/', 'media/none/v1/'), { code: 'E_NOT_FOUND' }, 'nothing to publish');
  });

  t.test('keys that could escape the store are refused by every method', async (t) => {
    const store = await makeStore(t);
    const dir = await scratchDir(t);
    const local = path.join(dir, 'file');
    await writeFile(local, 'x');
    await store.put('media/a/v1/ok', 'ok');
    const calls: Record<string, (bad: string) => unknown> = {
      put: (bad) => store.put(bad, 'x'),
      putFile: (bad) => store.putFile(bad, local),
      get: (bad) => store.get(bad),
      head: (bad) => store.head(bad),
      list: (bad) => (bad === '' ? store.list('../') : store.list(bad)),
      delete: (bad) => store.delete(bad),
      deletePrefix: (bad) => store.deletePrefix(bad),
      'move from': (bad) => store.move(bad, 'media/a/v1/moved'),
      'move to': (bad) => store.move('media/a/v1/ok', bad),
      'publishPrefix from': (bad) => store.publishPrefix(bad, 'media/z/v1/'),
      'publishPrefix to': (bad) => store.publishPrefix('media/a/v1/', bad),
      download: (bad) => store.download(bad, path.join(dir, 'out')),
      ...(store.localPath ? { localPath: (bad: string) => store.localPath?.(bad) } : {}),
    };
    for (const [method, call] of Object.entries(calls)) {
      for (const bad of BAD_KEYS) {
        await t.rejects(
          (async () => call(bad))(),
          { name: 'InvalidKeyError' },
          `${method} refuses ${JSON.stringify(bad)}`,
        );
      }
    }
    t.equal(await text(store, 'media/a/v1/ok'), 'ok', 'the valid object is untouched');
  });

  t.test('putFile stores a local file; the object outlives the local file', async (t) => {
    const store = await makeStore(t);
    const dir = await scratchDir(t);
    const local = path.join(dir, 'upload.bin');
    const bytes = randomBytes(100_000);
    await writeFile(local, bytes);
    const info = await store.putFile('sources/a/v1/source', local);
    t.equal(info.size, bytes.length);
    await rm(local);
    t.same(await bytesOf(await store.get('sources/a/v1/source')), bytes);
  });

  t.test('download copies an object to a local file', async (t) => {
    const store = await makeStore(t);
    const dir = await scratchDir(t);
    await store.put('sources/a/v1/source', 'source bytes');
    const out = path.join(dir, 'source.mp4');
    await store.download('sources/a/v1/source', out);
    t.equal(await readFile(out, 'utf8'), 'source bytes');
    await t.rejects(store.download('sources/none/v1/source', path.join(dir, 'none')), { code: 'E_NOT_FOUND' });
  });

  t.test('localPath, when offered, names a file holding the object', async (t) => {
    const store = await makeStore(t);
    if (!store.localPath) {
      t.pass(`${store.name} keeps no local files`);
      return;
    }
    await store.put('sources/a/v1/source', 'local bytes');
    const local = store.localPath('sources/a/v1/source');
    t.ok(local && path.isAbsolute(local), 'an absolute path');
    t.equal(local && (await readFile(local, 'utf8')), 'local bytes');
  });

  /** A stream of `bytes` in 16 KiB chunks that awaits `check()` while it is partly written. */
  const slowly = (bytes: Buffer, check: () => Promise<void>) =>
    Readable.from(
      (async function* () {
        for (let offset = 0; offset < bytes.length; offset += 16 * 1024) {
          yield bytes.subarray(offset, offset + 16 * 1024);
          await check();
        }
      })(),
    );

  t.test('put replaces an object atomically: readers see the old whole object until the new one is complete', async (t) => {
    const store = await makeStore(t);
    const key = 'media/a/v1/master.m3u8';
    const oldBytes = Buffer.alloc(256 * 1024, 'a');
    const newBytes = Buffer.alloc(256 * 1024, 'b');
    await store.put(key, oldBytes);
    let checks = 0;
    await store.put(
      key,
      slowly(newBytes, async () => {
        const seen = await bytesOf(await store.get(key));
        if (!seen?.equals(oldBytes)) t.fail(`a reader saw ${seen?.length} bytes that are not the old object`);
        const listed = (await store.list('media/a/v1/')).map((i) => i.key);
        if (listed.length !== 1 || listed[0] !== key) t.fail(`list showed a partial write: ${listed.join(',')}`);
        checks++;
      }),
    );
    t.ok(checks > 0, `checked ${checks} times while writing`);
    t.ok((await bytesOf(await store.get(key)))?.equals(newBytes), 'the new object is whole after put resolves');
  });

  t.test('a new object is invisible until it is complete', async (t) => {
    const store = await makeStore(t);
    const key = 'media/a/v1/new.bin';
    let checks = 0;
    await store.put(
      key,
      slowly(Buffer.alloc(128 * 1024, 'n'), async () => {
        if (await store.head(key)) t.fail('head saw a partial object');
        if (await store.get(key)) t.fail('get saw a partial object');
        if ((await store.list('media/')).length > 0) t.fail('list saw a partial object');
        checks++;
      }),
    );
    t.ok(checks > 0, `checked ${checks} times while writing`);
    t.equal((await store.head(key))?.size, 128 * 1024);
  });

  t.test('a big streamed object reads back byte for byte', async (t) => {
    const store = await makeStore(t);
    const chunks = Array.from({ length: 256 }, () => randomBytes(64 * 1024));
    const whole = Buffer.concat(chunks);
    const info = await store.put('sources/big/v1/source', Readable.from(chunks));
    t.equal(info.size, whole.length);
    const got = await store.get('sources/big/v1/source');
    const hash = createHash('sha1');
    for await (const chunk of got?.body ?? []) hash.update(chunk as Buffer);
    t.equal(hash.digest('hex'), createHash('sha1').update(whole).digest('hex'), 'sha1 matches');
    const start = 5_000_001;
    const slice = await bytesOf(await store.get('sources/big/v1/source', { start, end: start + 99_999 }));
    t.ok(slice?.equals(whole.subarray(start, start + 100_000)), 'a range deep inside matches');
  });

  t.test('the tus data store writes uploads that move and delete like objects', async (t) => {
    const store = await makeStore(t);
    const tus = store.tusDataStore({ expirationPeriodInMilliseconds: 60_000 });
    const newUpload = async (id: string, bytes: Buffer) => {
      await tus.create(new Upload({ id, size: bytes.length, offset: 0, metadata: { filename: 'clip.mp4' }, creation_date: new Date().toISOString() }));
      await tus.write(Readable.from([bytes]), id, 0);
    };
    const id = randomBytes(16).toString('hex');
    const bytes = randomBytes(50_000);
    await newUpload(id, bytes);
    t.equal((await tus.getUpload(id)).offset, bytes.length);
    const key = store.tusUploadKey(id);
    t.equal((await store.head(key))?.size, bytes.length, 'the upload is an object under its key');

    await store.move(key, 'sources/a/v1/source');
    t.same(await bytesOf(await store.get('sources/a/v1/source')), bytes);
    await t.rejects(tus.getUpload(id), 'tus no longer knows the moved upload');
    t.same((await store.list('tus/')).filter((i) => i.key.includes(id)), [], 'nothing of it is left under tus/');

    const other = randomBytes(16).toString('hex');
    await newUpload(other, randomBytes(1000));
    await store.delete(store.tusUploadKey(other));
    await t.rejects(tus.getUpload(other), 'tus no longer knows the deleted upload');
    t.same((await store.list('tus/')).filter((i) => i.key.includes(other)), [], 'nothing of the deleted upload is left');
  });

  t.test('ping answers true', async (t) => {
    const store = await makeStore(t);
    t.equal(await store.ping(), true);
  });
}
