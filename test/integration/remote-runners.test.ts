/**
 * Remote runners against a scaled-out node: PostgreSQL and Ceph RGW (S3), an api-only node
 * (no worker), and two `framecast runner` processes started with only the node's URL and a
 * registration token (no FRAMECAST_DB_URL or storage in their environment). Videos are
 * transcoded by the runners, every byte through presigned S3 URLs; a runner killed mid-job
 * loses it to the other after the lease; a revoked runner's token is refused and the runner
 * stops.
 */
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { postgresUnavailable } from '../helpers/postgres.js';
import { startRunner, type TestRunner } from '../helpers/runner.js';
import { s3Unavailable } from '../helpers/s3-server.js';
import { startSharedBackends } from '../helpers/shared-backends.js';
import { startServer } from '../helpers/server.js';

const unavailable = s3Unavailable() ?? (await postgresUnavailable());
if (unavailable) {
  t.test('remote runners on PostgreSQL + S3', { skip: unavailable }, () => {});
} else {
  const { dir, s3, bucket, env: backends } = await startSharedBackends(t, 'runners');
  const node = await startServer({
    env: { ...backends, FRAMECAST_ROLES: 'api' },
    config: { transcode: { preset: 'ultrafast' } },
  });
  const runners: TestRunner[] = [];
  t.teardown(async () => {
    for (const r of runners) await r.stop();
    await node.stop();
  });
  const admin = api(node.url, node.adminToken);
  const small = await makeClip(dir, { width: 320, height: 240, seconds: 2, name: 'small.mp4' });
  // Long enough at 720p that the ladder is still encoding when its runner is killed.
  const long = await makeClip(dir, { width: 1280, height: 720, seconds: 16, name: 'long.mp4' });
  const registration = (await admin.json('POST', '/v1/runners/tokens')).body.token as string;
  const [a, b] = [await startRunner(node.url, registration, 'runner-a'), await startRunner(node.url, registration, 'runner-b')];
  runners.push(a, b);
  await Promise.all([a.waitForLog(/runner ready/), b.waitForLog(/runner ready/)]);

  t.test('videos are transcoded by the runners, through presigned S3 URLs', async (t) => {
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push((await tusUpload(node.url, small, { token: node.adminToken })).videoId!);
    for (const id of ids) {
      const video = await waitForVideo(admin, id);
      t.equal(video.status, 'ready', `video ${id} ready`);
      const master = await fetch(node.url + video.playback.hls_url);
      t.equal(master.status, 200);
      t.ok(await s3.client.statObject(bucket, `media/${id}/v1/master.m3u8`), 'published in the bucket');
    }
    t.match(a.logs() + b.logs(), /job done; the node published it/);
    t.notMatch(a.logs() + b.logs(), /\/v1\/objects\//, 'no byte went through node URLs: S3 presigned them');
    const list = await admin.json('GET', '/v1/runners');
    t.same(list.body.items.map((r: any) => r.name).sort(), ['runner-a', 'runner-b']);
  });

  t.test('a runner killed mid-job loses the job to the other', async (t) => {
    const id = (await tusUpload(node.url, long, { token: node.adminToken })).videoId!;
    let holder: any;
    for (let i = 0; i < 1200 && !holder; i++) {
      const jobs = await admin.json('GET', '/v1/jobs?status=running');
      const job = jobs.body.items.find((j: any) => j.video_id === id && j.runner && j.stage === 'transcode');
      if (job) holder = job;
      else await new Promise((r) => setTimeout(r, 100));
    }
    t.ok(holder, 'a runner is transcoding it');
    const runnersNow = (await admin.json('GET', '/v1/runners')).body.items as any[];
    const victimName = runnersNow.find((r) => r.id === holder.runner).name;
    const victim = victimName === 'runner-a' ? a : b;
    const survivor = victim === a ? b : a;
    victim.kill();
    await victim.exited;
    const video = await waitForVideo(admin, id, undefined, 300_000);
    t.equal(video.status, 'ready', 'finished by the other runner');
    const job = (await admin.json('GET', '/v1/jobs')).body.items.find((j: any) => j.video_id === id);
    t.equal(job.attempts, 2, 'a second attempt after the lease ran out');
    t.match(survivor.logs(), new RegExp(`"video_id":"${id}"[^\\n]*"msg":"job done`), 'the survivor did it');

    // The killed runner's token is revoked: refused from now on.
    const state = JSON.parse(await readFile(victim.stateFile, 'utf8'));
    const revoked = await admin.json('DELETE', `/v1/runners/${state.id}`);
    t.equal(revoked.body.state, 'revoked');
    const refused = await fetch(`${node.url}/v1/runner/jobs/claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${state.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ wait_s: 0 }),
    });
    t.equal(refused.status, 401, "a revoked runner's token is refused");
    t.equal((await refused.json()).error.code, 'E_UNAUTHORIZED');
  });

  t.test('a running runner that is revoked stops', async (t) => {
    const list = (await admin.json('GET', '/v1/runners')).body.items as any[];
    const live = list.find((r) => r.state === 'active');
    t.ok(live);
    const proc = live.name === 'runner-a' ? a : b;
    await admin.json('DELETE', `/v1/runners/${live.id}`);
    t.equal(await proc.exited, 1, 'it exits once the node refuses it');
    t.match(proc.logs(), /refused this runner/);
  });
}
