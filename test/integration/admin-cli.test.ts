/**
 * Administration end to end: `framecast tokens|videos|jobs|live|config` run as a user would
 * against a running node's configuration, and the admin API beside them (token list and
 * revoke, job retry, the per-token upload rate limit).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { runFramecast } from '../helpers/cli.js';
import { makeClip, makeTextFile } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-admin-'));
const server = await startServer({ config: { uploads: { per_token_per_hour: 2 } } });
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);
const env = { FRAMECAST_DATA_DIR: server.dataDir, FRAMECAST_ADMIN_TOKEN: server.adminToken, FRAMECAST_CONFIG: join(server.dataDir, 'test-config.yaml') };
const cli = (...args: string[]) => runFramecast(args, env);
const clip = await makeClip(dir, { width: 320, height: 180, seconds: 1 });

t.test('tokens: create, list, revoke (CLI and API)', async (t) => {
  const created = await cli('tokens', 'create', 'ci-uploader', '--scopes', 'upload,read', '--json');
  t.equal(created.code, 0, created.stderr);
  const token = JSON.parse(created.stdout) as { id: string; token: string; scopes: string[] };
  t.same(token.scopes, ['upload', 'read']);
  const asToken = api(server.url, token.token);
  t.equal((await asToken.json('POST', '/v1/videos', { title: 'by token' })).status, 201, 'the new token works at once');

  const listed = await cli('tokens', 'list');
  t.equal(listed.code, 0);
  t.match(listed.stdout, new RegExp(`${token.id}\\s+ci-uploader\\s+upload,read`));
  t.notMatch(listed.stdout, token.token, 'the secret is never listed');
  const viaApi = await admin.json('GET', '/v1/tokens');
  t.match(viaApi.body.items.find((x: { id: string }) => x.id === token.id), { name: 'ci-uploader', scopes: ['upload', 'read'], revoked_at: null });
  t.equal((await asToken.json('GET', '/v1/tokens')).status, 403, 'listing needs the admin scope');

  const revoked = await cli('tokens', 'revoke', token.id);
  t.equal(revoked.code, 0);
  t.match(revoked.stdout, `revoked token ${token.id}`);
  t.equal((await asToken.json('POST', '/v1/videos', { title: 'after revoke' })).status, 401, 'a revoked token is refused');

  const other = await admin.json('POST', '/v1/tokens', { name: 'api-made', scopes: ['read'] });
  const del = await admin.json('DELETE', `/v1/tokens/${other.body.id}`);
  t.equal(del.status, 200);
  t.ok(del.body.revoked_at, 'DELETE /v1/tokens/:id revokes');
  t.equal((await api(server.url, other.body.token).json('GET', '/v1/videos')).status, 401);
  t.equal((await admin.json('DELETE', '/v1/tokens/nope')).status, 404);

  const bad = await cli('tokens', 'create', 'x', '--scopes', 'root');
  t.equal(bad.code, 2, 'wrong scopes are a usage error');
});

t.test('videos: list, reprocess, delete', async (t) => {
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'CLI managed' } });
  const id = up.videoId!;
  await waitForVideo(admin, id);
  const listed = await cli('videos', 'list', '--status', 'ready', '--json');
  t.equal(listed.code, 0, listed.stderr);
  t.ok((JSON.parse(listed.stdout).items as { id: string }[]).some((v) => v.id === id));
  t.match((await cli('videos', 'list')).stdout, /ID\s+STATUS\s+VISIBILITY/);

  const re = await cli('videos', 'reprocess', id);
  t.equal(re.code, 0, re.stderr);
  t.match(re.stdout, `queued ${id} v2`);
  const v2 = await waitForVideo(admin, id, (v) => v.version === 2 && v.status === 'ready' && !v.progress);
  t.equal(v2.version, 2, 'the reprocessed version plays');

  const del = await cli('videos', 'delete', id);
  t.equal(del.code, 0);
  t.equal((await admin.json('GET', `/v1/videos/${id}`)).status, 404);
  t.equal((await cli('videos', 'delete', id)).code, 1, 'deleting a missing video fails');
});

t.test('jobs: list and retry a dead job (CLI and API)', async (t) => {
  const text = await makeTextFile(dir);
  const up = await tusUpload(server.url, text, { token: server.adminToken, metadata: { filename: 'notes.txt' } });
  const failed = await waitForVideo(admin, up.videoId!);
  t.equal(failed.error?.code, 'E_NOT_MEDIA');
  const listed = await cli('jobs', 'list', '--status', 'dead', '--json');
  t.equal(listed.code, 0, listed.stderr);
  const job = (JSON.parse(listed.stdout).items as { id: number; video_id: string }[]).find((j) => j.video_id === up.videoId)!;
  t.ok(job, 'the dead job is listed');

  const retried = await cli('jobs', 'retry', String(job.id));
  t.equal(retried.code, 0, retried.stderr);
  t.match(retried.stdout, `queued job ${job.id} again`);
  // It fails the same way again: the video goes back to processing, then failed.
  const again = await waitForVideo(admin, up.videoId!, (v) => v.status === 'failed');
  t.equal(again.error.code, 'E_NOT_MEDIA');

  for (let i = 0; i < 100; i++) {
    const jobs = await admin.json('GET', '/v1/jobs?status=dead');
    if (jobs.body.items.some((j: { id: number }) => j.id === job.id)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const viaApi = await admin.json('POST', `/v1/jobs/${job.id}/retry`);
  t.equal(viaApi.status, 202);
  t.match(viaApi.body, { id: job.id, status: 'queued', attempts: 0 });
  t.equal((await admin.json('POST', `/v1/jobs/${job.id}/retry`)).body.error?.code, 'E_CONFLICT', 'a queued job cannot be retried');
  t.equal((await admin.json('POST', '/v1/jobs/999999/retry')).status, 404);
  t.equal((await admin.json('POST', `/v1/jobs/${job.id}/retry`, undefined, null)).status, 401);
});

t.test('live create makes a live the API knows', async (t) => {
  const made = await cli('live', 'create', 'Launch', 'stream', '--json');
  t.equal(made.code, 0, made.stderr);
  const live = JSON.parse(made.stdout);
  t.ok(live.stream_key, 'the stream key is shown');
  t.match(live.rtmp_url, /^rtmp:\/\/.+:\d+\/live$/);
  const got = await admin.json('GET', `/v1/live/${live.id}`);
  t.match(got.body, { id: live.id, title: 'Launch stream', status: 'idle' });
});

t.test('config check validates a file and masks secrets', async (t) => {
  const good = join(dir, 'good.yaml');
  await writeFile(good, 'signing:\n  secret: hunter2\nstorage:\n  url: s3://AKIA:topsecret@127.0.0.1:9000/media\nplugins:\n  - name: webhooks\n    config: { secret: whsec, endpoints: [http://127.0.0.1/x] }\n');
  const ok = await runFramecast(['config', 'check', good], { FRAMECAST_ADMIN_TOKEN: 'admin-secret' });
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /# valid/);
  t.match(ok.stdout, /url: s3:\/\/AKIA:\*{8}@127\.0\.0\.1:9000\/media/);
  t.match(ok.stdout, /admin_token: "?\*{8}/);
  for (const secret of ['hunter2', 'topsecret', 'whsec', 'admin-secret']) t.notMatch(ok.stdout, secret, `${secret} is masked`);
  t.match(ok.stdout, /port: 8080/, 'the defaults are merged in');

  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'http:\n  port: 99999\nroles: [api, dancer]\n');
  const refused = await runFramecast(['config', 'check', bad], {});
  t.equal(refused.code, 1);
  t.match(refused.stderr, /http\.port/);
  t.match(refused.stderr, /roles\.1/);
});

// Last: its three transcodes would otherwise queue ahead of the videos and jobs tests' own
// uploads (one media process, one job at a time); the node's stop aborts them.
t.test('uploads are rate limited per token', async (t) => {
  const made = await admin.json('POST', '/v1/tokens', { name: 'limited', scopes: ['upload'] });
  for (let i = 0; i < 2; i++) await tusUpload(server.url, clip, { token: made.body.token, metadata: { filename: 'clip.mp4', title: `limited ${i}` } });
  await t.rejects(tusUpload(server.url, clip, { token: made.body.token, metadata: { filename: 'clip.mp4' } }), /429[\s\S]*E_RATE_LIMITED/, 'the third upload within the hour is refused');
  await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4' } });
  t.pass('the admin token has no limit');
});
