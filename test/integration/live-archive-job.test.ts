/**
 * A recorded live's archive is a queued job: the media process killed (kill -9) in the middle
 * of it, the process the supervisor starts next finishes it into the same video, which
 * becomes ready; an ended recorded live found without its VOD at start is queued again; and
 * a hung ffmpeg of the archive is killed when the node shuts down (the job's signal).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, waitForVideo } from '../helpers/api.js';
import { openSeedDb } from '../helpers/catalog-seed.js';
import { killNode } from '../helpers/crash.js';
import { makeIngestClip, pushRtmp, waitForLive } from '../helpers/live.js';
import { eventually } from '../helpers/readiness.js';
import { startServer, type TestServer } from '../helpers/server.js';

const dataDir = await mkdtemp(join(tmpdir(), 'framecast-archive-'));
const config = { live: { reconnect_window_s: 1, preset: 'ultrafast' } };
let server: TestServer = await startServer({ config, dataDir });
t.teardown(async () => {
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
});
const clip = await makeIngestClip(dataDir, { seconds: 6, width: 640, height: 360 });
const admin = () => api(server.url, server.adminToken);

const ARCHIVE_STARTED = /"job_type":"live\.archive"[^\n]*"msg":"job started"/;

let liveId = '';
let firstVod = '';

t.test('the media process killed mid-archive: the next one finishes the same VOD', async (t) => {
  const created = await admin().json('POST', '/v1/live', { title: 'Archive under fire', record: true });
  const { id, rtmp_url: rtmpUrl, stream_key: key } = created.body as { id: string; rtmp_url: string; stream_key: string };
  liveId = id;
  const push = pushRtmp(rtmpUrl, key, clip);
  t.equal(await push.exited, 0, 'the broadcast ran to its end');

  // Caught as the job starts: frozen first, so what the API shows is the state it was killed in.
  const startedBefore = (server.logs().match(new RegExp(ARCHIVE_STARTED, 'g')) ?? []).length;
  await eventually(async () => (server.logs().match(new RegExp(ARCHIVE_STARTED, 'g')) ?? []).length, (n) => n > startedBefore, 'the archive job started', 90_000);
  const pid = await server.mediaPid();
  process.kill(pid, 'SIGSTOP');
  const during = (await admin().json('GET', `/v1/live/${id}`)).body;
  t.ok(during.vod_video_id, 'the live names its VOD as soon as the archive is queued');
  const frozen = (await admin().json('GET', `/v1/videos/${during.vod_video_id}`)).body;
  t.equal(frozen.status, 'processing', 'killed while the VOD was being made');
  process.kill(pid, 'SIGKILL');

  await eventually(() => server.mediaPid(), (p) => p !== pid, 'a new media process', 30_000);
  const video = await waitForVideo(admin(), during.vod_video_id);
  t.equal(video.status, 'ready', 'the archive finished after the restart');
  t.ok(video.duration_ms >= 4_000 && video.duration_ms <= 8_000, `the VOD holds the broadcast (${video.duration_ms} ms)`);
  const master = await fetch(new URL(video.playback.hls_url, server.url));
  t.equal(master.status, 200, 'its master playlist is served');
  const ended = (await admin().json('GET', `/v1/live/${id}`)).body;
  t.equal(ended.vod_video_id, during.vod_video_id, 'the same video: no second one');
  t.notOk(ended.error);
  firstVod = ended.vod_video_id;
});

t.test('an ended recorded live without its VOD at start is queued again', async (t) => {
  t.ok(liveId, 'the first test made a recorded live');
  await killNode(server);
  // As if the process had stopped between the live's end and its archive job.
  const db = openSeedDb(join(dataDir, 'framecast.db'));
  db.prepare('update lives set vod_video_id = null where id = ?').run(liveId);
  db.prepare("delete from jobs where type = 'live.archive'").run();
  db.close();
  server = await startServer({ config, dataDir });
  const live = await waitForLive(admin(), liveId, (l) => Boolean(l.vod_video_id), 60_000);
  t.not(live.vod_video_id, firstVod, 'a VOD is made again');
  const video = await waitForVideo(admin(), live.vod_video_id);
  t.equal(video.status, 'ready');
});

/** Pids of the media process's children whose command line contains `needle`. */
async function childrenRunning(mediaPid: number, needle: string): Promise<number[]> {
  const children = await readFile(`/proc/${mediaPid}/task/${mediaPid}/children`, 'utf8').catch(() => '');
  const found: number[] = [];
  for (const pid of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) found.push(pid);
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('a hung ffmpeg of the archive is killed at shutdown and the job is given back', async (t) => {
  const created = await admin().json('POST', '/v1/live', { title: 'Hung archive', record: true });
  const { id, rtmp_url: rtmpUrl, stream_key: key } = created.body as { id: string; rtmp_url: string; stream_key: string };
  const push = pushRtmp(rtmpUrl, key, clip);
  t.equal(await push.exited, 0, 'the broadcast ran to its end');
  const mediaPid = await server.mediaPid();
  // Its poster or storyboard ffmpeg (they work in data_dir/work/archive-ID), frozen: a hang.
  const hung = await eventually(() => childrenRunning(mediaPid, `archive-${id}`), (pids) => pids.length > 0, 'an ffmpeg of the archive', 90_000, 5);
  for (const pid of hung) process.kill(pid, 'SIGSTOP');
  t.teardown(() => hung.filter(alive).forEach((pid) => process.kill(pid, 'SIGKILL')));

  await server.stop();
  t.same(hung.filter(alive), [], 'no ffmpeg of the archive outlives the node');
  t.match(server.logs(), /"job_type":"live\.archive"[^\n]*"msg":"job released for another process \(shutdown\)"/, 'the job was given back, not left to the drain timeout');
  const db = openSeedDb(join(dataDir, 'framecast.db'));
  const job = db.prepare("select status, attempts from jobs where type = 'live.archive' and payload like ? order by id desc").get(`%${id}%`) as { status: string; attempts: number };
  db.close();
  t.match(job, { status: 'queued', attempts: 0 }, 'queued again without using an attempt');
});
