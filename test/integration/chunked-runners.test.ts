/**
 * Segment-parallel transcoding over remote runners: a node on PostgreSQL + Ceph RGW with no
 * worker of its own and two `framecast runner` processes (only the node's URL and a
 * registration token in their environment). The runner that probes the long source sends
 * its keyframes; the node queues the chunks, both runners encode some, every byte through
 * presigned S3 URLs; vod.finish (the node's job) joins them. The published version has
 * continuous timestamps in every rung and the audio, the source's frames, no segment above
 * its maxrate, and both runners' logs show chunk jobs.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { CHUNKED_CONFIG, CHUNKED_LADDER, checkChunkedVersion, makeChunkableSource } from '../helpers/chunked-checks.js';
import { postgresUnavailable } from '../helpers/postgres.js';
import { startRunner, type TestRunner } from '../helpers/runner.js';
import { s3Unavailable } from '../helpers/s3-server.js';
import { startSharedBackends } from '../helpers/shared-backends.js';
import { startServer } from '../helpers/server.js';

const unavailable = s3Unavailable() ?? (await postgresUnavailable());
if (unavailable) {
  t.test('chunked transcoding over remote runners', { skip: unavailable }, () => {});
} else {
  const { env: backends } = await startSharedBackends(t, 'chunked');
  // No worker: the runners encode; the node that records their parts joins them (vod.finish).
  const node = await startServer({ env: { ...backends, FRAMECAST_ROLES: 'api' }, config: CHUNKED_CONFIG });
  const runners: TestRunner[] = [];
  t.teardown(async () => {
    for (const r of runners) await r.stop();
    await node.stop();
  });
  const admin = api(node.url, node.adminToken);
  const dir = await mkdtemp(join(tmpdir(), 'framecast-chunked-runners-'));
  const source = await makeChunkableSource(dir);
  const registration = (await admin.json('POST', '/v1/runners/tokens')).body.token as string;
  const [a, b] = [await startRunner(node.url, registration, 'runner-a'), await startRunner(node.url, registration, 'runner-b')];
  runners.push(a, b);
  await Promise.all([a.waitForLog(/runner ready/), b.waitForLog(/runner ready/)]);

  t.test('both runners encode chunks of one long source; the node joins and publishes them', async (t) => {
    const id = (await tusUpload(node.url, source, { token: node.adminToken })).videoId!;
    const video = await waitForVideo(admin, id, undefined, 600_000);
    t.equal(video.status, 'ready', JSON.stringify(video.error));
    t.match(a.logs() + b.logs(), /the node queued its chunks/, 'the runner that probed it handed it back as chunks');
    t.match(a.logs(), /chunk job done/, 'runner-a encoded chunks');
    t.match(b.logs(), /chunk job done/, 'runner-b encoded chunks');
    t.notMatch(a.logs() + b.logs(), /\/v1\/objects\//, 'no byte went through node URLs: S3 presigned them');
    await checkChunkedVersion(t, new URL(video.playback.hls_url, node.url).href, {
      frames: 720,
      seconds: 24,
      videoKbps: Object.fromEntries(CHUNKED_LADDER.map((r) => [r.name, r.video_kbps])),
    });
  });
}
