/**
 * Scale-out, end to end: two nodes sharing only PostgreSQL (a throwaway database) and a real
 * S3 server (Ceph RGW). An upload started on one resumes on the other; a node whose media
 * process dies mid-job loses the job to the other node; either node serves every video;
 * fsck finds nothing afterwards (and removes an orphan it is shown); a wrong S3 secret stops
 * a node at start-up with a message naming the storage.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { runFramecast } from '../helpers/cli.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { postgresUnavailable } from '../helpers/postgres.js';
import { s3Unavailable } from '../helpers/s3-server.js';
import { startSharedBackends } from '../helpers/shared-backends.js';
import { startServer, type TestServer } from '../helpers/server.js';

const unavailable = s3Unavailable() ?? (await postgresUnavailable());
if (unavailable) {
  t.test('multi-node', { skip: unavailable }, () => {});
} else {
  const { dir, s3, bucket, env: backends } = await startSharedBackends(t, 'multi');

  const env = {
    ...backends,
    FRAMECAST_SIGNING_SECRET: 'multi-node-shared-signing-secret',
    FRAMECAST_ROLES: 'api,worker',
  };
  const config = { transcode: { preset: 'veryfast' } };
  const nodes: TestServer[] = [];
  const startNode = async (dataDir?: string) => {
    const node = await startServer({ env, config, ...(dataDir ? { dataDir } : {}) });
    nodes.push(node);
    return node;
  };
  // Newest first: a restarted node must stop before the original's stop removes its data dir.
  t.teardown(async () => {
    for (const node of [...nodes].reverse()) await node.stop();
  });
  const sql = new pg.Client({ connectionString: backends.FRAMECAST_DB_URL });
  await sql.connect();
  t.teardown(() => sql.end());

  // Long enough at 720p that the ladder is still encoding when its worker is killed.
  const clip = await makeClip(dir, { width: 1280, height: 720, seconds: 16, name: 'long.mp4' });
  const small = await makeClip(dir, { width: 320, height: 240, seconds: 2, name: 'small.mp4' });
  const [nodeA, nodeB] = [await startNode(), await startNode()] as [TestServer, TestServer];
  let videoId = '';

  t.test('an upload started on node A resumes on node B', async (t) => {
    const chunkSize = 256 * 1024;
    const first = await tusUpload(nodeA.url, clip, { token: nodeA.adminToken, chunkSize, onProgress: (sent) => sent >= 2 * chunkSize });
    t.ok(first.aborted && first.uploadUrl, 'stopped part way on A');
    const onB = new URL(new URL(first.uploadUrl!).pathname, nodeB.url).href;
    const head = await fetch(onB, { method: 'HEAD', headers: { authorization: `Bearer ${nodeB.adminToken}`, 'tus-resumable': '1.0.0' } });
    t.equal(head.status, 200, 'node B knows the upload');
    t.ok(Number(head.headers.get('upload-offset')) >= 2 * chunkSize, `node B sees A's bytes (offset ${head.headers.get('upload-offset')})`);
    const rest = await tusUpload(nodeB.url, clip, { token: nodeB.adminToken, chunkSize, uploadUrl: onB });
    t.notOk(rest.aborted, 'finished on B');
    videoId = first.videoId!;
    const video = await waitForVideo(api(nodeB.url, nodeB.adminToken), videoId, (v) => v.status !== 'uploading' && v.status !== 'awaiting_upload');
    t.match(video.status, /processing|ready/, 'the upload became the version source and processing started');
    // Instant publish on S3: the growing version plays from the bucket, from either node.
    const early = await waitForVideo(api(nodeB.url, nodeB.adminToken), videoId, (v) => v.status === 'ready' || !!v.playback.hls_url);
    t.equal(early.status, 'processing', 'playable while still processing');
    const master = await fetch(nodeA.url + early.playback.hls_url);
    t.equal(master.status, 200, 'node A serves the growing master from S3 staging');
    t.match(master.headers.get('cache-control'), /max-age=1\b/);
  });

  t.test("a video whose worker is killed completes on the other node", async (t) => {
    const a = api(nodeA.url, nodeA.adminToken);
    await waitForVideo(a, videoId, (v) => v.status === 'ready' || (v.progress?.stage === 'transcode' && v.progress.percent > 5));
    const { rows } = await sql.query<{ lease_owner: string | null; status: string }>('select lease_owner, status from jobs where video_id = $1', [videoId]);
    t.equal(rows[0]?.status, 'running', 'the job is running');
    const ownerPid = Number(rows[0]?.lease_owner?.split(':')[1]);
    const runner = (await nodeA.mediaPid()) === ownerPid ? nodeA : nodeB;
    const other = runner === nodeA ? nodeB : nodeA;
    t.equal(await runner.mediaPid(), ownerPid, 'found the node running the job');
    // The node dies: its media process (and ffmpeg's parent) first, then the rest of it.
    process.kill(ownerPid, 'SIGKILL');
    runner.process.kill('SIGKILL');
    const ready = await waitForVideo(api(other.url, other.adminToken), videoId, undefined, 180_000);
    t.equal(ready.status, 'ready', JSON.stringify(ready.error ?? ''));
    // The video turns ready just before the worker records the job's success.
    let job = await sql.query<{ attempts: number; status: string }>('select attempts, status from jobs where video_id = $1', [videoId]);
    for (let i = 0; i < 50 && job.rows[0]?.status === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = await sql.query<{ attempts: number; status: string }>('select attempts, status from jobs where video_id = $1', [videoId]);
    }
    t.match(job.rows[0], { status: 'succeeded', attempts: 2 }, 'the second attempt finished it');
    t.match(other.logs(), new RegExp(`"video_id":"${videoId}"[^\\n]*"msg":"video ready"`), 'on the other node');
    // Back on its data dir: the restart also ends the ffmpeg the killed process left running.
    const restarted = await startNode(runner.dataDir);
    t.equal((await fetch(`${restarted.url}/readyz`)).status, 200);
  });

  t.test('either node serves every video', async (t) => {
    const live = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
    t.equal(live.length, 2);
    const up = await tusUpload(live[1]!.url, small, { token: live[1]!.adminToken, metadata: { filename: 'small.mp4' } });
    await waitForVideo(api(live[1]!.url, live[1]!.adminToken), up.videoId!);
    for (const id of [videoId, up.videoId!]) {
      const bodies: Buffer[][] = [];
      for (const node of live) {
        const video = await waitForVideo(api(node.url, node.adminToken), id);
        t.equal(video.status, 'ready', `${id} is ready on ${node.url}`);
        const master = await fetch(new URL(video.playback.hls_url, node.url));
        t.equal(master.status, 200, 'master playlist');
        const masterText = await master.text();
        const variant = masterText.split('\n').find((l) => l.endsWith('.m3u8') && !l.startsWith('#'))!;
        const media = await fetch(new URL(variant, master.url));
        const segment = (await media.text()).split('\n').find((l) => l.endsWith('.m4s'))!;
        const seg = await fetch(new URL(segment, media.url));
        t.equal(seg.status, 200, 'a segment');
        bodies.push([Buffer.from(masterText), Buffer.from(await seg.arrayBuffer())]);
      }
      t.ok(bodies[0]![1]!.length > 0 && bodies[0]![1]!.equals(bodies[1]![1]!), 'both nodes serve the same segment bytes');
    }
  });

  t.test('fsck is clean afterwards, and removes an orphan it is shown', async (t) => {
    const cliEnv = { ...env, FRAMECAST_DATA_DIR: join(dir, 'cli-data') };
    const clean = await runFramecast(['fsck', '--json', '--grace-s', '0'], cliEnv);
    t.equal(clean.code, 0, clean.stderr + clean.stdout);
    const report = JSON.parse(clean.stdout);
    t.ok(report.objects > 0, `checked ${report.objects} objects`);
    t.same([report.orphans, report.missing, report.abandonedUploads], [[], [], []], 'nothing orphaned, missing or abandoned');

    await s3.client.putObject(bucket, 'media/ghostvideo1/v1/master.m3u8', '#EXTM3U\n');
    const found = await runFramecast(['fsck', '--grace-s', '0'], cliEnv);
    t.equal(found.code, 1, 'problems found');
    t.match(found.stdout, /orphan\s+media\/ghostvideo1\/v1\/ \(no-version\): 1 objects/);
    const fixed = await runFramecast(['fsck', '--fix', '--grace-s', '0'], cliEnv);
    t.equal(fixed.code, 0, fixed.stderr + fixed.stdout);
    t.match(fixed.stdout, /removed 1 objects/);
    t.equal((await runFramecast(['fsck', '--grace-s', '0'], cliEnv)).code, 0, 'clean again');
  });

  t.test('sha1 checksums work on S3: a corrupted chunk is refused with 460 before it is written', async (t) => {
    const node = nodes.find((n) => n.process.exitCode === null && n.process.signalCode === null)!;
    const auth = { authorization: `Bearer ${node.adminToken}`, 'tus-resumable': '1.0.0' };
    const options = await fetch(`${node.url}/v1/uploads`, { method: 'OPTIONS', headers: { 'tus-resumable': '1.0.0' } });
    t.match(options.headers.get('tus-extension'), /checksum/);
    const body = Buffer.alloc(4096, 7);
    const created = await fetch(`${node.url}/v1/uploads`, {
      method: 'POST',
      headers: { ...auth, 'upload-length': String(body.length * 2), 'upload-metadata': `filename ${Buffer.from('sum.mp4').toString('base64')}` },
    });
    t.equal(created.status, 201);
    const location = new URL(created.headers.get('location')!, node.url).href;
    const sha1 = (b: Buffer) => `sha1 ${createHash('sha1').update(b).digest('base64')}`;
    const patch = (offset: number, checksum: string) =>
      fetch(location, {
        method: 'PATCH',
        headers: { ...auth, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', 'upload-checksum': checksum },
        body: new Uint8Array(body),
      });
    const good = await patch(0, sha1(body));
    t.equal(good.status, 204);
    t.equal((await patch(body.length, sha1(Buffer.from('something else')))).status, 460);
    const head = await fetch(location, { method: 'HEAD', headers: auth });
    t.equal(head.headers.get('upload-offset'), String(body.length), 'the bad chunk was never written');
    t.equal((await fetch(location, { method: 'DELETE', headers: auth })).status, 204, 'terminated (fsck stays clean)');
  });

  t.test('a wrong S3 secret stops a node at start-up with the storage named', async (t) => {
    const err = await startServer({ env: { ...env, FRAMECAST_STORAGE_URL: s3.url(bucket, { secret: 'wrong-secret' }) }, config }).then(
      (node) => {
        nodes.push(node);
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    t.ok(err, 'the node did not start');
    t.match(err?.message, /framecast exited with 78/);
    t.match(err?.message, new RegExp(`object storage s3://127\\.0\\.0\\.1:${s3.port}/${bucket}: .*access key or secret is wrong`));
    t.notMatch(err?.message, /wrong-secret/, 'the secret is not printed');
  });
}
