/**
 * Upload sessions and their holes (issue 13) on one node with two HTTP processes sharing its
 * database: an upload that keeps sending outlives `uploads.expire_after_s` (expiry counts
 * inactivity, not age), and one being written is never expired; two PATCHes of one upload
 * through the two processes are serialised (the other one gets 409, its bytes never land);
 * deleting videos does not give a token its hourly uploads back.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const EXPIRE_AFTER_S = 2;
// workers: 2 — two HTTP processes; the cluster hands new connections out in turn.
const server = await startServer({ config: { workers: 2, uploads: { expire_after_s: EXPIRE_AFTER_S, per_token_per_hour: 2 } } });
const dir = await mkdtemp(join(tmpdir(), 'framecast-upload-sessions-'));
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);
const tusHeaders = (token: string) => ({ authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0' });
const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createUpload(length: number, token = server.adminToken): Promise<{ status: number; location: string; videoId: string; body: string }> {
  const r = await fetch(`${server.url}/v1/uploads`, {
    method: 'POST',
    headers: { ...tusHeaders(token), 'upload-length': String(length), 'upload-metadata': `filename ${Buffer.from('clip.mp4').toString('base64')}` },
  });
  return { status: r.status, location: new URL(r.headers.get('location') ?? '/', server.url).href, videoId: r.headers.get('framecast-video-id') ?? '', body: await r.text() };
}

/**
 * A PATCH whose body arrives in `pieces` parts `gapMs` apart (a slow client), on a connection
 * of its own (node:http, no agent): a writer the server answers before its body ends leaves
 * that connection to be closed, and fetch's shared pool would hand it to the next request.
 */
function slowPatch(location: string, offset: number, body: Buffer, pieces: number, gapMs: number): Promise<{ status: number; headers: { get(name: string): string | null } }> {
  const size = Math.ceil(body.length / pieces);
  return new Promise((resolve, reject) => {
    const req = request(
      location,
      {
        method: 'PATCH',
        agent: false,
        headers: { ...tusHeaders(server.adminToken), 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', 'content-length': String(body.length) },
      },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, headers: { get: (name) => (res.headers[name.toLowerCase()] as string | undefined) ?? null } });
      },
    );
    req.on('error', reject);
    void (async () => {
      for (let i = 0; i * size < body.length && !req.destroyed; i++) {
        if (i > 0) await sleep(gapMs);
        req.write(body.subarray(i * size, (i + 1) * size));
      }
      req.end();
    })();
  });
}

const clip = await readFile(await makeClip(dir, { width: 160, height: 120, seconds: 2 }));

t.test('a slow upload outlives expire_after_s while it keeps sending, and a second writer never mixes its bytes in', async (t) => {
  const { location, videoId } = await createUpload(clip.length);
  const half = Math.floor(clip.length / 2);
  // Writer A: the first half over ~4 s (twice expire_after_s), in one PATCH.
  const started = Date.now();
  const a = slowPatch(location, 0, clip.subarray(0, half), 8, 500);
  await sleep(700);
  // Writer B, meanwhile, on another connection (the other HTTP process): different bytes at the same offset.
  const b = await slowPatch(location, 0, Buffer.alloc(half, 0x5a), 1, 0);
  const ra = await a;
  t.equal(ra.status, 204, 'writer A finished its PATCH');
  t.equal(ra.headers.get('upload-offset'), String(half));
  t.equal(b.status, 409, 'writer B waited for A, then found the offset moved on (409)');
  t.ok(Date.now() - started > EXPIRE_AFTER_S * 1000, 'writer A wrote for longer than expire_after_s');

  // More slow PATCHes, each gap shorter than expire_after_s, for well past it in all.
  const rest = clip.subarray(half);
  const step = Math.ceil(rest.length / 4);
  let offset = half;
  for (let i = 0; i < 4; i++) {
    await sleep(EXPIRE_AFTER_S * 500);
    const r = await slowPatch(location, offset, rest.subarray(i * step, (i + 1) * step), 1, 0);
    t.equal(r.status, 204, `PATCH ${i + 2} accepted ${Math.round((Date.now() - started) / 100) / 10} s after the first byte`);
    offset = Number(r.headers.get('upload-offset'));
  }
  t.equal(offset, clip.length, 'complete');
  const video = await waitForVideo(admin, videoId, undefined, 60_000);
  t.equal(video.status, 'ready', 'processed');
  const stored = await readFile(join(server.dataDir, 'objects', 'sources', videoId, 'v1', 'source'));
  t.equal(sha1(stored), sha1(clip), 'the source has exactly the client\'s bytes');
});

t.test('an upload that stops sending expires', async (t) => {
  const { location, videoId } = await createUpload(clip.length);
  t.equal((await slowPatch(location, 0, clip.subarray(0, 100), 1, 0)).status, 204);
  const video = await waitForVideo(admin, videoId, (v) => v.status === 'awaiting_upload', 20_000);
  t.equal(video.version, 0, 'its version went away');
  t.equal((await fetch(location, { method: 'HEAD', headers: tusHeaders(server.adminToken) })).status, 404);
});

t.test('a direct (multipart) upload that stops sending expires, and its stored parts go', async (t) => {
  const video = (await admin.json('POST', '/v1/videos', { title: 'abandoned direct upload' })).body;
  const created = await admin.json('POST', `/v1/videos/${video.id}/multipart`, { filename: 'x.mp4', size: 100, content_type: 'video/mp4' });
  t.equal(created.status, 201);
  const partUrl = created.body.parts[0].url as string;
  t.equal((await fetch(partUrl, { method: 'PUT', body: clip.subarray(0, 100) })).status, 200, 'a part is stored');
  const partsDir = join(server.dataDir, 'objects', '.multipart');
  t.equal((await readdir(partsDir)).length, 1, 'its parts are on disk');
  const after = await waitForVideo(admin, video.id, (v) => v.status === 'awaiting_upload', 20_000);
  t.equal(after.version, 0, 'its version went away');
  t.equal((await admin.json('GET', `/v1/videos/${video.id}/multipart/${created.body.upload_id}`)).status, 404, 'the upload is gone');
  t.equal((await fetch(partUrl, { method: 'PUT', body: 'x' })).status, 404, 'its part URLs take no more bytes');
  t.same(await readdir(partsDir), [], 'its parts were removed');
});

t.test('deleting videos does not give a token its hourly uploads back', async (t) => {
  const created = await admin.json('POST', '/v1/tokens', { name: 'limited uploader', scopes: ['upload', 'read'] });
  const token = created.body.token as string;
  const first = await createUpload(1000, token);
  const second = await createUpload(1000, token);
  t.same([first.status, second.status], [201, 201], 'two uploads within the limit of 2');
  for (const { videoId } of [first, second]) t.equal((await api(server.url, token).json('DELETE', `/v1/videos/${videoId}`)).status, 204);
  const third = await createUpload(1000, token);
  t.equal(third.status, 429, 'still two started this hour');
  t.equal(JSON.parse(third.body).error.code, 'E_RATE_LIMITED');
});
