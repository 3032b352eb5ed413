/**
 * `framecast fsck` on the embedded defaults (SQLite + files): what it reports, what --fix
 * removes, and what it leaves alone because a node may be using it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runFramecast } from '../helpers/cli.js';
import createSqliteMetadataDb from '../../storage-adapters/metadata/sqlite.js';
import createFsObjectStore from '../../storage-adapters/objects/fs.js';
import { video } from '../contracts/metadata-suite.js';

const dataDir = await mkdtemp(join(tmpdir(), 'framecast-fsck-'));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const env = { FRAMECAST_DATA_DIR: dataDir };
const db = await createSqliteMetadataDb('sqlite:framecast.db', { dataDir });
t.teardown(() => db.close());
const store = createFsObjectStore('file:objects', { dataDir });

const now = Date.now();
const version = (videoId: string, n: number, status: 'processing' | 'ready' | 'failed') => ({
  video_id: videoId,
  version: n,
  status,
  stage: null,
  percent: null,
  playable: 0,
  source_bytes: null,
  source_filename: null,
  duration_ms: null,
  width: null,
  height: null,
  probe: null,
  manifest: null,
  loudness: null,
  encoder: null,
  error_code: null,
  error_message: null,
  error_retryable: null,
  processing_started_at: null,
  created_at: now,
  ready_at: null,
});
const session = (id: string, videoId: string, expiresAt: number) => ({
  id,
  video_id: videoId,
  version: 3,
  size: 10,
  filename: 'x.mp4',
  created_at: now - 10_000,
  expires_at: expiresAt,
  completed_at: null,
});

await db.db.insertInto('videos').values([video('readyvideo1'), video('busyvideo01')]).execute();
await db.db.insertInto('versions').values([version('readyvideo1', 1, 'ready'), version('readyvideo1', 2, 'failed'), version('busyvideo01', 1, 'processing')]).execute();
await db.db.insertInto('upload_sessions').values([session('0123456789abcdef0123456789abcdef', 'readyvideo1', now + 3_600_000), session('fedcba9876543210fedcba9876543210', 'readyvideo1', now - 1)]).execute();
// Owned: a ready version's media and source, the staging of a version being processed, a live upload.
await store.put('media/readyvideo1/v1/master.m3u8', '#EXTM3U\n');
await store.put('media/readyvideo1/v1/manifest.json', '{}');
await store.put('sources/readyvideo1/v1/source', 'source');
await store.put('staging/busyvideo01/v1/240p/seg_1.m4s', 'segment');
await store.put('tus/0123456789abcdef0123456789abcdef', 'half');
// Orphans: a deleted video's media, staging of a failed version, an expired upload, an upload with no session.
await store.put('media/deletedvid1/v1/master.m3u8', '#EXTM3U\n');
await store.put('media/deletedvid1/v1/240p/seg_1.m4s', 'x'.repeat(1000));
await store.put('staging/readyvideo1/v2/master.m3u8', '#EXTM3U\n');
await store.put('tus/fedcba9876543210fedcba9876543210', 'expired');
await store.put('tus/00000000000000000000000000000000', 'nobody');
// Missing: a ready version without its media.
await db.db.insertInto('versions').values(version('busyvideo01', 2, 'ready')).execute();

t.test('fsck reports orphans with sizes, missing objects, and exits 1', async (t) => {
  const run = await runFramecast(['fsck', '--json', '--grace-s', '0'], env);
  t.equal(run.code, 1, run.stderr);
  const report = JSON.parse(run.stdout);
  t.same(
    report.orphans.map((o: any) => [o.prefix, o.reason, o.keys.length, o.bytes]).sort(),
    [
      ['media/deletedvid1/v1/', 'no-version', 2, 1008],
      ['staging/readyvideo1/v2/', 'not-processing', 1, 8],
      ['tus/00000000000000000000000000000000', 'no-session', 1, 6],
      ['tus/fedcba9876543210fedcba9876543210', 'session-expired', 1, 7],
    ],
  );
  t.same(report.missing, [{ table: 'versions', row: 'busyvideo01/v2', missing: ['media/busyvideo01/v2/master.m3u8', 'media/busyvideo01/v2/manifest.json'] }]);
  t.same(report.abandonedUploads, [], 'files have no multipart uploads');
});

t.test('objects younger than the grace period are never called orphans', async (t) => {
  const run = await runFramecast(['fsck', '--json'], env);
  t.same(JSON.parse(run.stdout).orphans, [], 'the default grace (1 h) covers everything just written');
});

t.test('--fix removes the orphans and nothing else; rows with missing objects stay reported', async (t) => {
  const fixed = await runFramecast(['fsck', '--fix', '--grace-s', '0'], env);
  t.equal(fixed.code, 1, 'the missing media of a ready version remains a problem');
  t.match(fixed.stdout, /removed 5 objects and 0 uploads/);
  t.same(
    (await store.list('')).map((o) => o.key),
    [
      'media/readyvideo1/v1/manifest.json',
      'media/readyvideo1/v1/master.m3u8',
      'sources/readyvideo1/v1/source',
      'staging/busyvideo01/v1/240p/seg_1.m4s',
      'tus/0123456789abcdef0123456789abcdef',
    ],
    'owned objects are untouched',
  );
  await db.db.deleteFrom('versions').where('video_id', '=', 'busyvideo01').where('version', '=', 2).execute();
  const clean = await runFramecast(['fsck', '--grace-s', '0'], env);
  t.equal(clean.code, 0);
  t.match(clean.stdout, /^clean$/m);
});

t.test('wrong usage exits 2 with the usage line', async (t) => {
  const run = await runFramecast(['fsck', '--frobnicate'], env);
  t.equal(run.code, 2);
  t.match(run.stderr, /usage: framecast fsck \[--fix\]/);
  const unknown = await runFramecast(['nope'], env);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "nope"/);
});
