/**
 * Remote runners on the default backends (SQLite, local disk): an api-only node has no
 * worker, so a runner started with only the node's URL and a registration token transcodes
 * every video, its bytes moving through the node's own signed URLs. Priorities: a
 * high-priority video queued behind ten normal ones is the one a runner claims first, and
 * only admin tokens may ask for high. Encoders: a job that wants h264_nvenc (which no
 * machine here has) waits, and GET /v1/jobs says why.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startRunner, type TestRunner } from '../helpers/runner.js';
import { startServer, type TestServer } from '../helpers/server.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-runners-fs-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const dataDir = join(dir, 'node');
const env = { FRAMECAST_ROLES: 'api' };
let node: TestServer = await startServer({ env, dataDir });
const runners: TestRunner[] = [];
t.teardown(async () => {
  for (const r of runners) await r.stop();
  await node.stop();
});
const admin = () => api(node.url, node.adminToken);
const clip = await makeClip(dir, { width: 320, height: 240, seconds: 1 });

const upload = async (priority?: string) => {
  const created = await admin().json('POST', '/v1/videos', { title: `v-${priority ?? 'normal'}`, ...(priority ? { priority } : {}) });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  await tusUpload(node.url, clip, { token: node.adminToken, metadata: { filename: 'clip.mp4', video_id: created.body.id } });
  return created.body.id as string;
};

t.test('only admin tokens ask for a priority above normal', async (t) => {
  const token = await admin().json('POST', '/v1/tokens', { name: 'uploader', scopes: ['upload'] });
  const asUploader = api(node.url, token.body.token);
  const high = await asUploader.json('POST', '/v1/videos', { title: 'mine first', priority: 'high' });
  t.equal(high.status, 403);
  t.equal(high.body.error.code, 'E_FORBIDDEN');
  t.equal((await asUploader.json('POST', '/v1/videos', { title: 'low is fine', priority: 'low' })).status, 201);
  t.equal((await admin().json('POST', '/v1/videos', { title: 'bad', priority: 'urgent' })).status, 400);
});

let registration = '';
let highId = '';

t.test('a high-priority video queued behind ten normal ones is claimed first', async (t) => {
  const normal: string[] = [];
  for (let i = 0; i < 10; i++) normal.push(await upload());
  highId = await upload('high');
  const jobs = await admin().json('GET', '/v1/jobs?status=queued');
  t.equal(jobs.body.items.length, 11, 'eleven jobs wait (no worker on this node)');
  const reg = await admin().json('POST', '/v1/runners/tokens');
  t.equal(reg.status, 201);
  t.match(reg.body.token, /^fcrr_/);
  registration = reg.body.token;
  const runner = await startRunner(node.url, registration, 'fs-a');
  runners.push(runner);
  await runner.waitForLog(/"msg":"job started"/);
  const first = /"video_id":"([^"]+)"[^\n]*"msg":"job started"/.exec(runner.logs());
  t.equal(first?.[1], highId, 'the runner started the high-priority video first');
  // The ten others are not needed: deleted, their jobs end as soon as claimed.
  for (const id of normal) t.equal((await admin().json('DELETE', `/v1/videos/${id}`)).status, 204);
  const video = await waitForVideo(admin(), highId);
  t.equal(video.status, 'ready', 'transcoded by the runner');
  t.ok(video.renditions.length >= 1);
  const master = await fetch(node.url + video.playback.hls_url);
  t.equal(master.status, 200, 'the node serves what the runner made');
  t.match(await master.text(), /#EXT-X-STREAM-INF/);
  t.match(node.logs(), /job succeeded on a remote runner/);
});

t.test('signed node URLs refuse what they were not signed for', async (t) => {
  const forged = await fetch(`${node.url}/v1/objects/sources/x/v1/source?expires=9999999999&sig=${'A'.repeat(43)}`);
  t.equal(forged.status, 403);
  const put = await fetch(`${node.url}/v1/objects/media/x/v1/master.m3u8?expires=9999999999&sig=${'A'.repeat(43)}`, { method: 'PUT', body: 'x' });
  t.equal(put.status, 403);
});

t.test('the admin lists and drains runners', async (t) => {
  const list = await admin().json('GET', '/v1/runners');
  t.equal(list.body.items.length, 1);
  t.match(list.body.items[0], { name: 'fs-a', state: 'active' });
  t.ok(list.body.items[0].encoders.includes('libx264'), 'it advertises the encoders it proved');
  t.equal((await api(node.url, null).json('GET', '/v1/runners')).status, 401);
  const drained = await admin().json('POST', `/v1/runners/${list.body.items[0].id}/drain`);
  t.equal(drained.body.state, 'draining');
  const id = await upload();
  const job = await admin().json('GET', '/v1/jobs?status=queued');
  t.ok(job.body.items.some((j: any) => j.video_id === id), 'a drained runner takes no new job');
  await admin().json('DELETE', `/v1/videos/${id}`);
});

t.test('a job that wants an encoder no runner has waits and says why', async (t) => {
  await node.stop();
  node = await startServer({ env, dataDir, config: { transcode: { require_encoder: 'h264_nvenc' } } });
  const runner = await startRunner(node.url, registration, 'fs-b');
  runners.push(runner);
  await runner.waitForLog(/runner ready/);
  const id = await upload();
  // Two more claims by the runner after the upload: it saw the job and left it.
  const seen = async () => (await admin().json('GET', '/v1/runners')).body.items.find((r: any) => r.name === 'fs-b')?.last_seen_at as string;
  const after = await seen();
  for (let i = 0; i < 600 && (await seen()) === after; i++) await new Promise((r) => setTimeout(r, 100));
  const jobs = await admin().json('GET', '/v1/jobs?status=queued');
  const job = jobs.body.items.find((j: any) => j.video_id === id);
  t.ok(job, 'still queued');
  t.equal(job.wants_encoder, 'h264_nvenc');
  t.match(job.waiting_for, /h264_nvenc/);
  t.match(job.waiting_for, /libx264/, 'and names what the runners have');
  const video = await admin().json('GET', `/v1/videos/${id}`);
  t.equal(video.body.status, 'processing');
});
