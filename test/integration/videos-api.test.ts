/** The /v1/videos API: auth, validation, visibility, pagination, patch, delete, reprocess. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';
import { makeHdrClip } from '../fixtures/real-world-corpus.js';

const server = await startServer();
const dir = await mkdtemp(join(tmpdir(), 'framecast-api-'));
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);
const anon = api(server.url, null);

async function filesUnder(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { recursive: true })).map(String);
  } catch {
    return [];
  }
}

t.test('writes need a token; errors have the contract shape', async (t) => {
  const r = await anon.json('POST', '/v1/videos', { title: 'x' });
  t.equal(r.status, 401);
  t.equal(r.body.error.code, 'E_UNAUTHORIZED');
  t.type(r.body.error.message, 'string');
  const bad = await api(server.url, 'not-a-token').json('POST', '/v1/videos', { title: 'x' });
  t.equal(bad.status, 401);
  const reader = await admin.json('POST', '/v1/tokens', { name: 'reader', scopes: ['read'] });
  t.equal(reader.status, 201);
  const forbidden = await api(server.url, reader.body.token).json('POST', '/v1/videos', { title: 'x' });
  t.equal(forbidden.status, 403);
  t.equal(forbidden.body.error.code, 'E_FORBIDDEN');
  const invalid = await admin.json('POST', '/v1/videos', { title: '' });
  t.equal(invalid.status, 400);
  t.equal(invalid.body.error.code, 'E_BAD_REQUEST');
  t.match(invalid.body.error.message, /title/);
  const missing = await anon.json('GET', '/v1/videos/AAAAAAAAAAAA');
  t.equal(missing.status, 404);
  t.equal(missing.body.error.code, 'E_NOT_FOUND');
  const unknownRoute = await anon.json('GET', '/v1/nothing-here');
  t.equal(unknownRoute.body.error.code, 'E_NOT_FOUND');
});

t.test('uploads need an upload token; the upload limit answers 413 E_TOO_LARGE at creation', async (t) => {
  const noAuth = await fetch(`${server.url}/v1/uploads`, {
    method: 'POST',
    headers: { 'tus-resumable': '1.0.0', 'upload-length': '10' },
  });
  t.equal(noAuth.status, 401);
  t.equal((await noAuth.json()).error.code, 'E_UNAUTHORIZED');
  const tooBig = await fetch(`${server.url}/v1/uploads`, {
    method: 'POST',
    headers: { 'tus-resumable': '1.0.0', 'upload-length': String(21 * 1024 ** 3), authorization: `Bearer ${server.adminToken}` },
  });
  t.equal(tooBig.status, 413);
  t.equal((await tooBig.json()).error.code, 'E_TOO_LARGE');
  const unknownVideo = await fetch(`${server.url}/v1/uploads`, {
    method: 'POST',
    headers: {
      'tus-resumable': '1.0.0',
      'upload-length': '10',
      'upload-metadata': `video_id ${Buffer.from('AAAAAAAAAAAA').toString('base64')}`,
      authorization: `Bearer ${server.adminToken}`,
    },
  });
  t.equal(unknownVideo.status, 404);
});

t.test('visibility: anonymous lists show ready public videos only; private needs a signed URL', async (t) => {
  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 2, name: 'vis.mp4' });
  const ids: Record<string, string> = {};
  for (const visibility of ['public', 'unlisted', 'private'] as const) {
    const c = await admin.json('POST', '/v1/videos', { title: `vis ${visibility}`, visibility });
    ids[visibility] = c.body.id;
    await tusUpload(server.url, clip, { token: server.adminToken, metadata: { video_id: c.body.id, filename: 'vis.mp4' } });
  }
  for (const id of Object.values(ids)) await waitForVideo(admin, id);
  const pending = await admin.json('POST', '/v1/videos', { title: 'never uploaded' });

  const listed = await anon.json('GET', '/v1/videos?limit=100');
  const anonIds = listed.body.items.map((v: any) => v.id);
  t.ok(anonIds.includes(ids.public), 'public listed');
  t.notOk(anonIds.includes(ids.unlisted), 'unlisted not listed');
  t.notOk(anonIds.includes(ids.private), 'private not listed');
  t.notOk(anonIds.includes(pending.body.id), 'not-ready not listed');
  const all = await admin.json('GET', '/v1/videos?limit=100');
  t.ok(all.body.items.some((v: any) => v.id === ids.private), 'admin sees private');

  t.equal((await anon.json('GET', `/v1/videos/${ids.unlisted}`)).status, 200, 'unlisted plays by URL');
  t.equal((await anon.json('GET', `/v1/videos/${ids.private}`)).status, 404, 'private is invisible to anonymous');

  const priv = (await admin.json('GET', `/v1/videos/${ids.private}`)).body;
  t.match(priv.playback.hls_url, /\?token=/);
  const signed = await fetch(server.url + priv.playback.poster_url);
  t.equal(signed.status, 200, 'signed URL plays');
  const unsigned = await fetch(server.url + priv.playback.poster_url.replace(/\?token=.*/, ''));
  t.equal(unsigned.status, 403);
  const tampered = await fetch(server.url + priv.playback.poster_url.replace(/.$/, (c: string) => (c === 'A' ? 'B' : 'A')));
  t.equal(tampered.status, 403);
});

t.test('list pages with a cursor, newest first', async (t) => {
  const made: string[] = [];
  for (let i = 0; i < 5; i++) made.push((await admin.json('POST', '/v1/videos', { title: `page ${i}` })).body.id);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await admin.json('GET', `/v1/videos?limit=2&status=awaiting_upload${cursor ? `&cursor=${cursor}` : ''}`);
    t.ok(page.body.items.length <= 2);
    seen.push(...page.body.items.map((v: any) => v.id));
    cursor = page.body.next_cursor;
  } while (cursor);
  const mine = seen.filter((id) => made.includes(id));
  t.same(mine, [...made].reverse(), 'every video once, newest first');
  t.equal((await admin.json('GET', '/v1/videos?cursor=%%%')).status, 400);
});

t.test('patch, reprocess (new version, old one serves), delete (removes everything)', async (t) => {
  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 2, name: 'life.mp4' });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'life.mp4' } });
  const id = up.videoId!;
  await waitForVideo(admin, id);
  const patched = await admin.json('PATCH', `/v1/videos/${id}`, { title: 'Renamed', tags: ['x'], description: 'd' });
  t.equal(patched.status, 200);
  t.equal(patched.body.title, 'Renamed');
  t.same(patched.body.tags, ['x']);
  t.equal((await admin.json('PATCH', `/v1/videos/${id}`, { status: 'ready' })).status, 400, 'unknown fields refused');

  const re = await admin.json('POST', `/v1/videos/${id}/reprocess`);
  t.equal(re.status, 202);
  t.equal(re.body.status, 'ready', 'v1 keeps serving');
  const v2 = await waitForVideo(admin, id, (v) => v.version === 2 && !v.progress);
  t.match(v2.playback.hls_url, /\/v2\//);

  t.ok((await filesUnder(join(server.dataDir, 'objects', 'media', id))).length > 0);
  const del = await admin.json('DELETE', `/v1/videos/${id}`);
  t.equal(del.status, 204);
  t.equal((await admin.json('GET', `/v1/videos/${id}`)).status, 404);
  t.same(await filesUnder(join(server.dataDir, 'objects', 'media', id)), [], 'outputs removed');
  t.same(await filesUnder(join(server.dataDir, 'objects', 'sources', id)), [], 'source removed');
  t.equal((await fetch(server.url + v2.playback.hls_url)).status, 404);
});

t.test("an HLG phone clip: the video and its manifest name the source's dynamic range, the ladder its SDR frame rate", async (t) => {
  const clip = await makeHdrClip(dir, { kind: 'HLG', width: 320, height: 180, seconds: 2 });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'phone.mp4' } });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.source_dynamic_range, 'HLG');
  const manifest = await admin.json('GET', `/v1/videos/${up.videoId}/manifest`);
  t.equal(manifest.body.source_dynamic_range, 'HLG');
  t.same(manifest.body.ladder.map((r: any) => [r.frame_rate, r.video_range]), [['30', 'SDR']]);
  const sdr = (await admin.json('POST', '/v1/videos', { title: 'not uploaded yet' })).body;
  t.equal(sdr.source_dynamic_range, null, 'unknown until probed');
});

t.test('health and readiness', async (t) => {
  t.same(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
  const ready = await fetch(`${server.url}/readyz`);
  t.equal(ready.status, 200);
});
