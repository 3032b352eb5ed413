/**
 * The hostile-media corpus through a real node: every input ends in its defined state
 * (ready, or failed with its error code), the node keeps serving between cases, nothing
 * stays processing past jobs.timeout_s, and no byte of a local file outside the upload (a
 * marker file, /etc/passwd) shows up in any output, log, thumbnail or error message.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { HOSTILE_CORPUS, type CorpusContext } from '../fixtures/hostile-corpus.js';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const TIMEOUT_S = 60;
const server = await startServer({ config: { jobs: { timeout_s: TIMEOUT_S } } });
const dir = await mkdtemp(join(tmpdir(), 'framecast-hostile-'));
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);

const secretContent = 'FRAMECAST-HOSTILE-MARKER-2718281828';
const ctx: CorpusContext = { dir, secretFile: join(dir, 'private-notes.txt'), secretContent };
await writeFile(ctx.secretFile, `${secretContent}\n`);
const passwdFirstLine = (await readFile('/etc/passwd', 'utf8')).split('\n')[0]!;
const forbidden = [secretContent, passwdFirstLine];

function leaks(text: string | Buffer): string[] {
  return forbidden.filter((f) => text.includes(f));
}

async function healthy(): Promise<boolean> {
  const r = await fetch(`${server.url}/healthz`);
  return r.status === 200;
}

const seen: string[] = [];

for (const c of HOSTILE_CORPUS) {
  t.test(`${c.name} → ${c.expected.status === 'ready' ? 'ready' : c.expected.code}`, async (t) => {
    const file = await c.build(ctx);
    const up = await tusUpload(server.url, file, { token: server.adminToken, metadata: { filename: c.filename } });
    t.ok(up.videoId, 'the upload created a video');
    const video = await waitForVideo(admin, up.videoId!, undefined, (TIMEOUT_S + 60) * 1000);
    seen.push(video.id);
    t.equal(video.status, c.expected.status, c.why);
    if (c.expected.status === 'failed') {
      t.equal(video.error?.code, c.expected.code, JSON.stringify(video.error));
      t.equal(video.error?.retryable, false, 'a bad file is not worth retrying');
      t.same(leaks(String(video.error?.message)), [], 'the error message holds no local file');
      t.equal(video.playback.hls_url, null, 'nothing published');
    } else {
      t.ok(video.renditions.length > 0, 'has renditions');
      for (const r of video.renditions) {
        t.ok(r.width % 2 === 0 && r.height % 2 === 0, `${r.name} is ${r.width}x${r.height}`);
        // Audio-only sources (no picture size) list their AAC renditions.
        t.match(r.codecs, video.width ? /avc1/ : /^mp4a/, `${r.name} is ${video.width ? 'H.264' : 'AAC'}`);
      }
      const master = await fetch(new URL(video.playback.hls_url, server.url));
      t.equal(master.status, 200, 'the master playlist is served');
      await master.arrayBuffer();
    }
    t.ok(await healthy(), 'GET /healthz still answers');
  });
}

t.test('a 90° rotated source is published upright (portrait)', async (t) => {
  const rotated = HOSTILE_CORPUS.findIndex((c) => c.name.startsWith('rotate'));
  const r = await admin.json('GET', `/v1/videos/${seen[rotated]}`);
  t.ok(r.body.height > r.body.width, `${r.body.width}x${r.body.height}`);
});

interface JobView {
  id: string;
  status: string;
  video_id: string | null;
  attempts: number;
  last_error: string | null;
}

t.test('nothing stays processing, and refused files are not retried', async (t) => {
  const r = await admin.json('GET', '/v1/videos?limit=100');
  t.equal(r.status, 200);
  const stuck = (r.body.items as { id: string; status: string }[]).filter((v) => v.status !== 'ready' && v.status !== 'failed');
  t.same(stuck, [], 'every video reached ready or failed');
  const jobs = await admin.json<{ items: JobView[] }>('GET', '/v1/jobs?limit=500');
  t.equal(jobs.status, 200);
  // Follow-up jobs may still be queued; none may be running for longer than jobs.timeout_s.
  const running = jobs.body.items.filter((j) => j.status === 'running');
  t.ok(running.length <= 1, `at most the one worker is busy (${running.length})`);
  HOSTILE_CORPUS.forEach((c, i) => {
    if (c.expected.status !== 'failed') return;
    for (const j of jobs.body.items.filter((j) => j.video_id === seen[i])) {
      t.equal(j.attempts, 1, `${c.name}: ${j.status} after one attempt`);
      t.same(leaks(String(j.last_error)), [], `${c.name}: the job error holds no local file`);
    }
  });
});

t.test('no local file outside the uploads leaks into outputs, logs or errors', async (t) => {
  const entries = await readdir(server.dataDir, { recursive: true, withFileTypes: true });
  let scanned = 0;
  for (const e of entries.filter((e) => e.isFile())) {
    const found = leaks(await readFile(join(e.parentPath, e.name)));
    scanned++;
    if (found.length) t.fail(`${join(e.parentPath, e.name)} holds ${found.join(', ')}`);
  }
  t.ok(scanned > HOSTILE_CORPUS.length, `scanned ${scanned} files of the data dir (outputs, thumbnails, DB)`);
  t.same(leaks(server.logs()), [], 'the logs hold no local file');
});

t.test('after the whole corpus, a good upload still becomes ready', async (t) => {
  const file = await makeClip(dir, { width: 320, height: 180, seconds: 2, name: 'good.mp4' });
  const up = await tusUpload(server.url, file, { token: server.adminToken, metadata: { filename: 'good.mp4' } });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.status, 'ready');
});
