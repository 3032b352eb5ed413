/** tus uploads: resume to identical bytes, sha1 checksums, termination, expiration. */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const server = await startServer({ config: { uploads: { expire_after_s: 2 } } });
const dir = await mkdtemp(join(tmpdir(), 'framecast-uploads-'));
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);
const auth = { authorization: `Bearer ${server.adminToken}`, 'tus-resumable': '1.0.0' };

async function createUpload(length: number, metadata: Record<string, string> = { filename: 'x.mp4' }): Promise<{ location: string; videoId: string }> {
  const r = await fetch(`${server.url}/v1/uploads`, {
    method: 'POST',
    headers: {
      ...auth,
      'upload-length': String(length),
      'upload-metadata': Object.entries(metadata)
        .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
        .join(','),
    },
  });
  if (r.status !== 201) throw new Error(`creation failed: ${r.status} ${await r.text()}`);
  return { location: new URL(r.headers.get('location')!, server.url).href, videoId: r.headers.get('framecast-video-id')! };
}

function patch(location: string, offset: number, body: Buffer, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(location, {
    method: 'PATCH',
    headers: { ...auth, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', ...extra },
    body: new Uint8Array(body),
  });
}

t.test('an aborted upload resumes where it stopped and the stored source has identical bytes', async (t) => {
  const clip = await makeClip(dir, { width: 640, height: 360, seconds: 3, name: 'resume.mp4' });
  const data = await readFile(clip);
  const first = await tusUpload(server.url, data, {
    token: server.adminToken,
    metadata: { filename: 'resume.mp4' },
    chunkSize: 16 * 1024,
    onProgress: (sent) => sent >= data.length / 2,
  });
  t.ok(first.aborted);
  const head = await fetch(first.uploadUrl!, { method: 'HEAD', headers: auth });
  const offset = Number(head.headers.get('upload-offset'));
  t.ok(offset > 0 && offset < data.length, `server kept ${offset} of ${data.length} bytes`);
  const video = await admin.json('GET', `/v1/videos/${first.videoId}`);
  t.equal(video.body.status, 'uploading');

  // tus-js-client asks the server for the offset (HEAD) and sends only the rest.
  let resumedFrom = -1;
  const second = await tusUpload(server.url, data, {
    token: server.adminToken,
    uploadUrl: first.uploadUrl!,
    onProgress: (sent) => void (resumedFrom < 0 && (resumedFrom = sent)),
  });
  t.notOk(second.aborted);
  t.ok(resumedFrom >= offset, 'the resumed upload did not start again from 0');
  const ready = await waitForVideo(admin, first.videoId!);
  t.equal(ready.status, 'ready');
  const stored = await readFile(join(server.dataDir, 'objects', 'sources', first.videoId!, 'v1', 'source'));
  t.equal(createHash('sha1').update(stored).digest('hex'), createHash('sha1').update(data).digest('hex'), 'bytes match');
});

t.test('sha1 checksum: a matching chunk is kept, a corrupted one is refused with 460 and dropped', async (t) => {
  const options = await fetch(`${server.url}/v1/uploads`, { method: 'OPTIONS', headers: { 'tus-resumable': '1.0.0' } });
  t.match(options.headers.get('tus-extension'), /checksum/);
  t.equal(options.headers.get('tus-checksum-algorithm'), 'sha1');

  const body = Buffer.alloc(4096, 7);
  const { location } = await createUpload(body.length * 2);
  const sha1 = (b: Buffer) => `sha1 ${createHash('sha1').update(b).digest('base64')}`;
  const good = await patch(location, 0, body, { 'upload-checksum': sha1(body) });
  t.equal(good.status, 204);
  t.equal(good.headers.get('upload-offset'), String(body.length));
  const wrong = await patch(location, body.length, body, { 'upload-checksum': sha1(Buffer.from('something else')) });
  t.equal(wrong.status, 460);
  t.match(await wrong.json(), { error: { code: 'E_BAD_REQUEST' } }, 'the refusal is an API.md error body');
  const head = await fetch(location, { method: 'HEAD', headers: auth });
  t.equal(head.headers.get('upload-offset'), String(body.length), 'the bad chunk was dropped');
  const md5 = await patch(location, body.length, body, { 'upload-checksum': 'md5 AAAA' });
  t.equal(md5.status, 400);
});

t.test('termination deletes the upload and its pending version', async (t) => {
  const { location, videoId } = await createUpload(1000, { filename: 'gone.mp4' });
  await patch(location, 0, Buffer.alloc(100));
  const del = await fetch(location, { method: 'DELETE', headers: auth });
  t.equal(del.status, 204);
  t.equal((await fetch(location, { method: 'HEAD', headers: auth })).status, 404);
  const video = await waitForVideo(admin, videoId, (v) => v.status === 'awaiting_upload', 10_000);
  t.equal(video.version, 0);
});

t.test('an abandoned upload is removed after uploads.expire_after_s', async (t) => {
  const { location, videoId } = await createUpload(1000, { filename: 'abandoned.mp4' });
  await patch(location, 0, Buffer.alloc(10));
  // The media process sweeps every expire_after_s / 2 (1 s here).
  const video = await waitForVideo(admin, videoId, (v) => v.status === 'awaiting_upload', 20_000);
  t.equal(video.status, 'awaiting_upload');
  const head = await fetch(location, { method: 'HEAD', headers: auth });
  t.ok(head.status === 404 || head.status === 410, `HEAD answers ${head.status}`);
  const left = (await readdir(join(server.dataDir, 'objects', 'tus'))).filter((f) => location.endsWith(f.replace(/\.json$/, '')));
  t.same(left, [], 'no bytes left on disk');
});

t.test('creation-with-upload: the whole file in the POST body', async (t) => {
  const clip = await readFile(await makeClip(dir, { width: 320, height: 180, seconds: 2, name: 'onepost.mp4' }));
  const r = await fetch(`${server.url}/v1/uploads`, {
    method: 'POST',
    headers: {
      ...auth,
      'upload-length': String(clip.length),
      'content-type': 'application/offset+octet-stream',
      'upload-metadata': `filename ${Buffer.from('onepost.mp4').toString('base64')}`,
    },
    body: new Uint8Array(clip),
  });
  t.equal(r.status, 201, await r.clone().text());
  t.equal(r.headers.get('upload-offset'), String(clip.length));
  const video = await waitForVideo(admin, r.headers.get('framecast-video-id')!);
  t.equal(video.status, 'ready');
});

t.test('an upload whose bytes were all stored but whose node died before queuing it is finished by the sweep', async (t) => {
  const clip = await readFile(await makeClip(dir, { width: 320, height: 180, seconds: 2, name: 'orphaned.mp4' }));
  const { location, videoId } = await createUpload(clip.length, { filename: 'orphaned.mp4' });
  // What a crash leaves: every byte in the upload file, no finishing step ever run.
  const uploadId = new URL(location).pathname.split('/').pop()!;
  await writeFile(join(server.dataDir, 'objects', 'tus', uploadId), clip);
  const video = await waitForVideo(admin, videoId, undefined, 60_000);
  t.equal(video.status, 'ready', 'the sweep queued it and it was processed');
  const stored = await readFile(join(server.dataDir, 'objects', 'sources', videoId, 'v1', 'source'));
  t.equal(createHash('sha1').update(stored).digest('hex'), createHash('sha1').update(clip).digest('hex'), 'from the stored bytes');
});
