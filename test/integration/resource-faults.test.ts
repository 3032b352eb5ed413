/**
 * Resource faults on one node (SQLite, fs storage), with real kernel errors: the storage
 * lives on a small tmpfs that is filled up (ENOSPC) or remounted read-only (EROFS).
 *
 * - Uploads: 507 E_STORAGE_FULL, the offset stays at the last byte really stored, and once
 *   space is back the client resumes to identical bytes.
 * - Processing: a job that cannot write its outputs is retried with E_STORAGE_FULL, the
 *   previous version keeps serving, and the retry after space is back makes it ready.
 * - The database locked by another process or its file gone: /readyz 503 naming `db`, API
 *   writes 503 E_UNAVAILABLE, and both come back on their own.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import t from 'tap';
import * as tus from 'tus-js-client';
import { api, waitForVideo, type Api } from '../helpers/api.js';
import { lookAtVideo, mediaProcess, sha1 } from '../helpers/crash.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { eventually, readyz } from '../helpers/readiness.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { mountTmpfs, tmpfsUnavailable } from '../helpers/tmpfs.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-faults-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
// About 1 MB: big enough that a third of it is many write calls, small enough to encode fast.
const clipPath = await makeClip(dir, { width: 640, height: 360, seconds: 4 });
const clip = await readFile(clipPath);

function tusHeaders(server: TestServer): Record<string, string> {
  return { authorization: `Bearer ${server.adminToken}`, 'tus-resumable': '1.0.0' };
}

/** A tus creation request as a client sends it; the response as is. */
async function createUpload(server: TestServer, length: number): Promise<Response> {
  return fetch(`${server.url}/v1/uploads`, {
    method: 'POST',
    headers: { ...tusHeaders(server), 'upload-length': String(length), 'upload-metadata': `filename ${Buffer.from('clip.mp4').toString('base64')}` },
  });
}

async function videoCount(a: Api): Promise<number> {
  return (await a.json('GET', '/v1/videos?limit=100')).body.items.length;
}

const noTmpfs = await tmpfsUnavailable();

t.test('storage full or read-only', { skip: noTmpfs }, async (t) => {
  const disk = await mountTmpfs(24 << 20);
  const objects = join(disk.dir, 'objects');
  const server = await startServer({
    env: { FRAMECAST_STORAGE_URL: `file:${objects}` },
    // Attempts to spare while the disk is full; the retries come quickly (base 0.2 s).
    config: { jobs: { max_attempts: 8 } },
  });
  t.teardown(async () => {
    await server.stop();
    await disk.unmount();
  });
  const admin = api(server.url, server.adminToken);
  let readyVideo: string | undefined;

  t.test('an upload that cannot fit is refused at creation (507), and nothing is created', async (t) => {
    const before = await videoCount(admin);
    await disk.fill(64 * 1024);
    t.teardown(() => disk.release());
    const r = await createUpload(server, clip.length);
    t.equal(r.status, 507);
    t.match(await r.json(), { error: { code: 'E_STORAGE_FULL', message: /storage space/ } });
    t.equal(await videoCount(admin), before, 'no video was created for it');
  });

  t.test('a PATCH that runs out of space answers 507; the upload resumes to identical bytes once space is back', async (t) => {
    let videoId: string | null = null;
    let uploadUrl: string | null = null;
    // The creation fits; the disk fills before the bytes come, leaving room for a third.
    const failure = await new Promise<tus.DetailedError>((resolve, reject) => {
      const upload = new tus.Upload(clip, {
        endpoint: `${server.url}/v1/uploads`,
        metadata: { filename: 'clip.mp4' },
        headers: { authorization: `Bearer ${server.adminToken}` },
        retryDelays: [],
        async onBeforeRequest(req) {
          if (req.getMethod() === 'PATCH') await disk.fill(Math.floor(clip.length / 3));
        },
        onAfterResponse(_req, res) {
          videoId ??= res.getHeader('Framecast-Video-Id') ?? null;
        },
        onError: (err) => {
          uploadUrl = upload.url;
          resolve(err as tus.DetailedError);
        },
        onSuccess: () => reject(new Error('the upload should not fit')),
      });
      upload.start();
    });
    t.equal(failure.originalResponse?.getStatus(), 507, 'the client is told the storage is full');
    t.match(JSON.parse(failure.originalResponse?.getBody() ?? '{}'), { error: { code: 'E_STORAGE_FULL' } });
    t.ok(videoId && uploadUrl);

    const head = await fetch(new URL(uploadUrl!, server.url), { method: 'HEAD', headers: tusHeaders(server) });
    const offset = Number(head.headers.get('upload-offset'));
    t.ok(offset > 0 && offset < clip.length, `HEAD reports what was stored (${offset} of ${clip.length} bytes)`);
    const partial = await readFile(join(objects, 'tus', uploadUrl!.split('/').pop()!));
    t.equal(partial.length, offset, 'the offset is exactly the bytes on disk');
    t.ok(partial.equals(clip.subarray(0, offset)), 'and they are the first bytes of the file');

    t.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the node still serves');
    t.equal((await admin.json('GET', `/v1/videos/${videoId}`)).status, 200, 'and reads the catalog');

    await disk.release();
    let resumedFrom: string | null = null;
    await new Promise<void>((resolve, reject) => {
      new tus.Upload(clip, {
        uploadUrl: new URL(uploadUrl!, server.url).href,
        headers: { authorization: `Bearer ${server.adminToken}` },
        retryDelays: [],
        onAfterResponse(req, res) {
          if (req.getMethod() === 'HEAD') resumedFrom = res.getHeader('Upload-Offset') ?? null;
        },
        onError: reject,
        onSuccess: () => resolve(),
      }).start();
    });
    t.equal(Number(resumedFrom), offset, 'the client resumed from the stored offset');
    const video = await waitForVideo(admin, videoId!);
    t.equal(video.status, 'ready');
    t.equal(await sha1(join(objects, 'sources', videoId!, 'v1', 'source')), await sha1(clip), 'the stored source is the uploaded file, byte for byte');
    readyVideo = videoId!;
  });

  t.test('a checksummed chunk cut short by a full disk is dropped whole (its bytes were never verified)', async (t) => {
    const created = await createUpload(server, clip.length);
    t.equal(created.status, 201);
    const location = new URL(created.headers.get('location')!, server.url);
    await disk.fill(Math.floor(clip.length / 3));
    t.teardown(() => disk.release());
    const patch = await fetch(location, {
      method: 'PATCH',
      headers: {
        ...tusHeaders(server),
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'upload-checksum': `sha1 ${createHash('sha1').update(clip).digest('base64')}`,
      },
      body: clip,
    });
    t.equal(patch.status, 507);
    t.match(await patch.json(), { error: { code: 'E_STORAGE_FULL' } });
    const head = await fetch(location, { method: 'HEAD', headers: tusHeaders(server) });
    t.equal(head.headers.get('upload-offset'), '0', 'the client resends the whole chunk');
  });

  t.test('a read-only disk: 507 for uploads, /readyz names the storage; both recover when it is writable again', async (t) => {
    const before = await videoCount(admin);
    await disk.readOnly();
    t.teardown(() => disk.readWrite().catch(() => undefined));
    const r = await createUpload(server, 1000);
    t.equal(r.status, 507);
    t.match(await r.json(), { error: { code: 'E_STORAGE_FULL' } });
    t.same(await readyz(server), { status: 503, body: { status: 'unavailable', missing: ['storage'] } });
    // The refused creation's video is removed once its response is sent.
    await eventually(() => videoCount(admin), (n) => n === before, 'the refused upload left its video behind');

    await disk.readWrite();
    t.equal((await readyz(server)).status, 200, 'ready again without a restart');
    const created = await createUpload(server, 1000);
    t.equal(created.status, 201, 'uploads are accepted again');
  });

  t.test('processing on a full disk is retried with E_STORAGE_FULL; the old version serves until the retry succeeds', async (t) => {
    if (!readyVideo) return t.fail('needs the video of the upload test');
    const id = readyVideo;
    await disk.fill(0);
    t.teardown(() => disk.release());
    const reprocess = await admin.json('POST', `/v1/videos/${id}/reprocess`);
    t.equal(reprocess.status, 202);

    const jobOfV2 = async () => ((await admin.json('GET', '/v1/jobs')).body.items as any[]).find((j) => j.video_id === id && j.version === 2);
    const failing = await eventually(jobOfV2, (j) => /^E_STORAGE_FULL: /.test(j?.last_error ?? ''), 'no storage error on the job');
    t.not(failing.status, 'dead', 'the job is retried, not given up');
    t.match(failing.last_error, /out of storage space/);
    const waiting = (await admin.json('GET', `/v1/videos/${id}`)).body;
    t.match(waiting.progress?.retry, { code: 'E_STORAGE_FULL', message: /storage space/ }, 'the video says why version 2 is not done');
    t.ok(waiting.progress?.retry?.attempts >= 1, `after ${waiting.progress?.retry?.attempts} attempt(s)`);

    const look = await lookAtVideo(server.url, admin, id);
    t.equal(look.kind, 'seen');
    if (look.kind === 'seen') {
      t.same(look.problems, [], 'version 1 plays whole meanwhile');
      t.match(look.video, { status: 'ready', version: 1 });
    }
    await t.rejects(stat(join(objects, 'media', id, 'v2')), { code: 'ENOENT' }, 'nothing of version 2 is published');

    await disk.release();
    const video = await waitForVideo(admin, id, (v) => v.version === 2 || v.status === 'failed');
    t.match(video, { status: 'ready', version: 2 }, 'the retry made version 2 ready once space was back');
    const after = await lookAtVideo(server.url, admin, id);
    t.same(after.kind === 'seen' ? after.problems : ['down'], [], 'version 2 plays whole');
    const job = await jobOfV2();
    t.equal(job.status, 'succeeded');
    t.ok(job.attempts > 1, `it took ${job.attempts} attempts`);
  });
});

t.test('SQLite', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);
  const file = join(server.dataDir, 'framecast.db');

  t.test('locked by another process: /readyz and writes answer 503 until the lock is released', async (t) => {
    const mediaPid = await mediaProcess(server);
    const other = new BetterSqlite3(file);
    t.teardown(() => other.close());
    other.pragma('busy_timeout = 10000');
    other.exec('begin exclusive');
    let locked = true;
    t.teardown(() => (locked ? other.exec('rollback') : undefined));

    t.same(await readyz(server), { status: 503, body: { status: 'unavailable', missing: ['db'] } });
    const write = await admin.json('POST', '/v1/videos', { title: 'while locked' });
    t.equal(write.status, 503, 'a write waits out the busy timeout, then 503');
    t.match(write.body, { error: { code: 'E_UNAVAILABLE', message: /database/ } });
    const upload = await createUpload(server, 1000);
    t.equal(upload.status, 503, 'an upload cannot be opened either');
    t.match(await upload.json(), { error: { code: 'E_UNAVAILABLE' } });
    t.equal((await admin.json('GET', '/v1/videos')).status, 200, 'reads go on beside the lock');

    other.exec('rollback');
    locked = false;
    await eventually(() => readyz(server), (r) => r.status === 200, 'not ready after the lock was released');
    t.equal((await admin.json('POST', '/v1/videos', { title: 'after the lock' })).status, 201, 'writes work again');
    t.equal(await mediaProcess(server), mediaPid, 'without a restart');
    t.notMatch(server.logs(), /process died/);
  });

  t.test('its file gone from under the node: /readyz names the database until it is back', async (t) => {
    await rename(file, `${file}.moved`);
    t.teardown(() => rename(`${file}.moved`, file).catch(() => undefined));
    t.same(await readyz(server), { status: 503, body: { status: 'unavailable', missing: ['db'] } });
    await rename(`${file}.moved`, file);
    t.equal((await readyz(server)).status, 200, 'ready again once the file is back');
    t.equal((await admin.json('POST', '/v1/videos', { title: 'x' })).status, 201);
  });
});
