/**
 * Live first: a VOD transcode running during a broadcast yields the CPU (it runs niced) and
 * the live keeps producing segments; a packager that falls behind real time drops its top
 * encoded rung instead of dying, says so, and keeps its viewers playing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeIngestClip, parseLivePlaylist, pushRtmp, sleep, waitForLive } from '../helpers/live.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const run = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), 'framecast-live-load-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const ingest = await makeIngestClip(dir, { seconds: 12, width: 640, height: 360 });


/**
 * Niceness of running ladder ffmpeg processes whose command line contains every marker (tap
 * runs two test files at once: another file's transcodes must not count).
 */
async function ffmpegNiceness(...markers: string[]): Promise<number[]> {
  const { stdout } = await run('ps', ['-C', 'ffmpeg', '-o', 'ni=,args=']).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .filter((l) => markers.every((m) => l.includes(m)) && (l.includes('-var_stream_map') || l.includes('pipe:3'))) // VOD ladder; live ladder (a pipe per rendition)
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

t.test('a VOD transcode during a broadcast runs niced and the live keeps up', async (t) => {
  const server = await startServer({ config: { live: { reconnect_window_s: 1, preset: 'ultrafast' }, transcode: { preset: 'veryfast' } } });
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);
  const vodSource = await makeClip(dir, { width: 1280, height: 720, seconds: 12, name: 'vod.mp4' });
  const created = await admin.json('POST', '/v1/live', { title: 'Under load' });
  const id = created.body.id as string;

  const push = pushRtmp(created.body.rtmp_url, created.body.stream_key, ingest);
  await waitForLive(admin, id, (l) => l.status === 'live');
  const up = await tusUpload(server.url, vodSource, { token: server.adminToken, metadata: { filename: 'vod.mp4', title: 'VOD under live' } });

  // Sample the live playlist while both run: it must keep gaining segments.
  const counts: number[] = [];
  const niceness = { vod: [] as number[], live: [] as number[] };
  while (push.child.exitCode === null) {
    const r = await fetch(`${server.url}/live/${id}/240p/index.m3u8`);
    if (r.ok) {
      const p = parseLivePlaylist(await r.text());
      counts.push(p.mediaSequence + p.segments.length);
    }
    niceness.vod.push(...(await ffmpegNiceness(server.dataDir, '/sources/')));
    niceness.live.push(...(await ffmpegNiceness('pipe:0')));
    await sleep(1500);
  }
  t.equal(await push.exited, 0, 'the publisher was never dropped');
  t.ok(niceness.vod.length > 0 && niceness.vod.every((n) => n === 10), `VOD ffmpeg ran at niceness 10 (${niceness.vod.join(',')})`);
  t.ok(niceness.live.length > 0 && niceness.live.every((n) => n === 0), `live packager ran at niceness 0 (${niceness.live.join(',')})`);
  const distinct = [...new Set(counts)];
  t.ok(distinct.length >= 3, `the live playlist kept advancing while the VOD encoded (${counts.join(' → ')})`);
  t.same(counts, [...counts].sort((a, b) => a - b), 'it never went back');

  const ended = await waitForLive(admin, id, (l) => l.status === 'ended' && Boolean(l.vod_video_id || l.error));
  t.notOk(ended.error, 'the live ended normally');
  const recording = await waitForVideo(admin, ended.vod_video_id);
  t.ok(Math.abs(recording.duration_ms - 12_000) <= 2_000, `the recording holds what was pushed (${recording.duration_ms} ms)`);
  const vod = await waitForVideo(admin, up.videoId!);
  t.equal(vod.status, 'ready', 'the VOD finished too');
});

t.test('a packager behind real time drops its top encoded rung and keeps playing', async (t) => {
  // A lag limit no real encoder meets: the first report over it counts as falling behind.
  const server = await startServer({ config: { live: { reconnect_window_s: 1, preset: 'ultrafast', max_lag_s: 0.01 } } });
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);
  const created = await admin.json('POST', '/v1/live', { title: 'Degraded', record: false });
  const id = created.body.id as string;
  const push = pushRtmp(created.body.rtmp_url, created.body.stream_key, ingest, { seconds: 10 });

  const degraded = await waitForLive(admin, id, (l) => l.degraded === true && l.renditions.length === 1).catch((err: Error) => {
    t.comment(push.stderr(), server.logs().split("\n").filter((l) => /live|rtmp/.test(l)).slice(-8).join("\n"));
    throw err;
  });
  t.same(degraded.dropped_renditions, ['240p'], 'the top encoded rung went (the copied 360p costs nothing)');
  t.equal(degraded.status, 'live');
  t.same(degraded.renditions.map((r: any) => r.name), ['360p']);

  let master = '';
  let standIn = '';
  for (let i = 0; i < 100 && !(standIn.includes('../360p/') && !master.includes('240p')); i++) {
    master = await (await fetch(`${server.url}/live/${id}/master.m3u8`)).text();
    standIn = await (await fetch(`${server.url}/live/${id}/240p/index.m3u8`)).text();
    await sleep(250);
  }
  t.notMatch(master, /240p/, 'new viewers no longer see the dropped rung');
  t.match(standIn, /\.\.\/360p\/r\d+-seg-\d+\.m4s/, 'viewers of the dropped rung are continued by the one below it');
  t.equal(await push.exited, 0, 'the publisher was never dropped');
  const ended = await waitForLive(admin, id, (l) => l.status === 'ended');
  t.notOk(ended.vod_video_id, 'a live without recording leaves no VOD');
  t.equal((await fetch(`${server.url}/live/${id}/master.m3u8`)).status, 404, 'and its segments are gone');
});
