/**
 * A live through a real node, pushed as OBS does (ffmpeg: FLV, H.264 High + AAC, 2 s
 * keyframes, real-time speed): stream keys, the sliding live window capped at the ingest's
 * height with the top rung copied, a drop and return within the reconnect window, and the
 * recording becoming a ready VOD of the same length.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { api, waitForVideo } from '../helpers/api.js';
import { liveFixture, parseLivePlaylist, pushRtmp, sleep, waitForLive } from '../helpers/live.js';
import { FFPROBE, probeSegment } from '../helpers/media-fixtures.js';
import { CmafFragmentReader, type CmafFragment } from '../../live/cmaf-fragments.js';
import { AAC_FRAME_S } from '../../live/live-command.js';

const run = promisify(execFile);
const WINDOW_S = 4;

const { server, admin, dir, clip } = await liveFixture(t, WINDOW_S);


/** The first fragment of a published segment, read as the packager reads ffmpeg's output. */
async function firstFragment(initUrl: string, segmentUrl: string): Promise<CmafFragment> {
  const fragments: CmafFragment[] = [];
  const reader = new CmafFragmentReader({ init: () => undefined, fragment: (f) => fragments.push(f) });
  for (const url of [initUrl, segmentUrl]) {
    let res = await fetch(url);
    for (let i = 0; i < 50 && res.status === 404; i++) {
      await sleep(200);
      res = await fetch(url);
    }
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    reader.push(Buffer.from(await res.arrayBuffer()));
  }
  if (!fragments[0]) throw new Error(`${segmentUrl} has no fragment`);
  return fragments[0];
}

/** When the FLV's first audio packet and first picture are due, seconds. */
async function sourceStarts(file: string): Promise<{ audio: number; picture: number }> {
  const first = async (stream: string, field: string) => {
    const { stdout } = await run(FFPROBE, ['-v', 'error', '-select_streams', stream, '-read_intervals', '%+#8', '-show_entries', `packet=${field}`, '-of', 'csv=p=0', file]);
    return Math.min(...stdout.trim().split('\n').map(Number));
  };
  return { audio: await first('a:0', 'pts_time'), picture: await first('v:0', 'pts_time') };
}

async function download(url: string, file: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  await writeFile(file, Buffer.from(await r.arrayBuffer()));
  return file;
}

t.test('creating a live needs a token and gives a stream key and an RTMP URL', async (t) => {
  const anonymous = await api(server.url, null).json('POST', '/v1/live', { title: 'x' });
  t.equal(anonymous.status, 401);
  const bad = await admin.json('POST', '/v1/live', { record: true });
  t.equal(bad.status, 400);
  t.equal(bad.body.error.code, 'E_BAD_REQUEST');
  const created = await admin.json('POST', '/v1/live', { title: 'Idle live' });
  t.equal(created.status, 201);
  t.match(created.body, { id: /^[A-Za-z0-9_-]{12}$/, stream_key: /^[A-Za-z0-9_-]{20,}$/, rtmp_url: /^rtmp:\/\/127\.0\.0\.1:\d+\/live$/ });
  t.equal(created.body.playback.hls_url, `/live/${created.body.id}/master.m3u8`);
  const got = await admin.json('GET', `/v1/live/${created.body.id}`);
  t.equal(got.body.status, 'idle');
  t.notOk('stream_key' in got.body, 'the key is shown only once');
  const list = await admin.json('GET', '/v1/live');
  t.ok(list.body.items.some((l: any) => l.id === created.body.id));
  const page = await fetch(`${server.url}/live/${created.body.id}`);
  t.equal(page.status, 200);
  t.match(await page.text(), /live\.js/);
  t.equal((await fetch(`${server.url}/live/${created.body.id}/master.m3u8`)).status, 404, 'nothing to play while idle');
});

t.test('unknown and revoked stream keys are refused before any media is accepted', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'Revoked' });
  const revoked = await admin.json('DELETE', `/v1/live/${created.body.id}`);
  t.equal(revoked.status, 200);
  t.equal(revoked.body.status, 'ended');
  for (const key of ['not-a-key', created.body.stream_key]) {
    const push = pushRtmp(created.body.rtmp_url, key, clip);
    const code = await push.exited;
    t.not(code, 0, `publishing with ${key === 'not-a-key' ? 'an unknown' : 'a revoked'} key fails`);
  }
  await sleep(1000);
  t.equal((await fetch(`${server.url}/live/${created.body.id}/master.m3u8`)).status, 404);
  t.equal((await admin.json('GET', `/v1/live/${created.body.id}`)).body.status, 'ended');
});

t.test('a broadcast slides its window, survives a reconnect, and becomes a VOD', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'Evening show', record: true });
  const id = created.body.id as string;
  const base = `${server.url}/live/${id}/`;

  // First publish: 9 s.
  const first = pushRtmp(created.body.rtmp_url, created.body.stream_key, clip);
  const live = await waitForLive(admin, id, (l) => l.status === 'live');
  t.ok(live.started_at, 'started_at is set');
  t.equal(live.publishing, true);

  // A second publisher with the same key is refused while the first is on air.
  const intruder = pushRtmp(created.body.rtmp_url, created.body.stream_key, clip);
  t.not(await intruder.exited, 0, 'one publisher per key at a time');

  let master: Response | undefined;
  for (let i = 0; i < 100 && master?.status !== 200; i++) {
    master = await fetch(`${base}master.m3u8`);
    if (master.status !== 200) await sleep(200);
  }
  t.equal(master!.status, 200, 'the master appears');
  t.equal(master!.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  t.match(master!.headers.get('cache-control'), /max-age=1\b/);
  const masterText = await master!.text();
  t.match(masterText, /RESOLUTION=426x240/);
  t.match(masterText, /RESOLUTION=640x360/);
  t.notMatch(masterText, /RESOLUTION=854x480/, 'no rung above the ingest height');
  t.match(masterText, /TYPE=AUDIO/, 'the audio is one shared group');
  const info = await waitForLive(admin, id, (l) => l.renditions.length === 2);
  t.same(
    info.renditions.map((r: any) => [r.name, r.passthrough]),
    [['240p', false], ['360p', true]],
    'the H.264 ingest at a fitting bitrate is the top rung, copied',
  );

  // Every rendition keeps the publisher's clock: the encoded rung shows its first picture when
  // the copied one does (the clip has B-frames), and the sound starts where it did in the FLV.
  const starts: Record<string, number> = {};
  for (const rendition of ['240p', '360p', 'audio']) {
    const first = await firstFragment(`${base}${rendition}/r1-init.mp4`, `${base}${rendition}/r1-seg-00000.m4s`);
    starts[rendition] = first.start + first.firstCompositionOffset;
  }
  const source = await sourceStarts(clip);
  t.ok(Math.abs(starts['240p']! - starts['360p']!) < 0.002, `the encoded and copied rungs start together (${starts['240p']} / ${starts['360p']} s)`);
  const audioLead = starts['360p']! - starts.audio!;
  const sourceLead = source.picture - (source.audio - AAC_FRAME_S);
  t.ok(Math.abs(audioLead - sourceLead) < 0.002, `the sound starts ${audioLead.toFixed(4)} s before the picture, as in the FLV (${sourceLead.toFixed(4)} s)`);

  t.equal(await first.exited, 0, 'the first publish ran to its end');
  await waitForLive(admin, id, (l) => l.status === 'live' && l.publishing === false);

  // Return within the reconnect window: the same live and recording continue.
  const second = pushRtmp(created.body.rtmp_url, created.body.stream_key, clip);
  await waitForLive(admin, id, (l) => l.publishing === true);
  let playlist = parseLivePlaylist('');
  for (let i = 0; i < 150 && playlist.discontinuities === 0; i++) {
    playlist = parseLivePlaylist(await (await fetch(`${base}240p/index.m3u8`)).text());
    if (playlist.discontinuities === 0) await sleep(200);
  }
  t.equal(playlist.discontinuities, 1, 'the reconnect is marked with a discontinuity');
  t.equal(await second.exited, 0);

  // While the window is open the last segments are all listed; then the window slides.
  const ended = await waitForLive(admin, id, (l) => l.status === 'ended', 60_000);
  const finalText = await (await fetch(`${base}240p/index.m3u8`)).text();
  const final = parseLivePlaylist(finalText);
  t.equal(final.segments.length, 6, 'the live playlist keeps a window of 6 segments');
  t.ok(final.mediaSequence >= 2, `the window slid (media sequence ${final.mediaSequence})`);
  t.ok(final.ended, 'the ended live playlist has ENDLIST');
  t.match(finalText, /#EXT-X-DISCONTINUITY-SEQUENCE:\d+/);

  // Segments of both rungs decode at their sizes.
  const lastSegment = final.segments[final.segments.length - 1]!;
  for (const [rung, w, h] of [['240p', 426, 240], ['360p', 640, 360]] as const) {
    const run = /^r(\d+)-/.exec(lastSegment)![1];
    const seg = await download(`${base}${rung}/${lastSegment}`, join(dir, `${rung}.m4s`));
    const init = await download(`${base}${rung}/r${run}-init.mp4`, join(dir, `${rung}-init.mp4`));
    const probed = await probeSegment(dir, init, seg);
    t.same([probed.width, probed.height], [w, h], `${rung} decodes at ${w}x${h}`);
    t.ok(probed.packets[0]?.keyframe, `${rung} segment starts on a keyframe`);
  }
  const segRes = await fetch(`${base}360p/${lastSegment}`, { method: 'HEAD' });
  t.match(segRes.headers.get('cache-control'), /immutable/);
  t.equal(segRes.headers.get('content-type'), 'video/iso.segment');

  // The recording is a ready VOD of what was pushed (2 × 9 s), within one segment.
  const withVod = ended.vod_video_id ? ended : await waitForLive(admin, id, (l) => Boolean(l.vod_video_id || l.error), 60_000);
  t.notOk(withVod.error, JSON.stringify(withVod.error ?? ''));
  const video = await waitForVideo(admin, withVod.vod_video_id);
  t.equal(video.status, 'ready');
  t.equal(video.title, 'Evening show');
  t.ok(Math.abs(video.duration_ms - 18_000) <= 2_000, `VOD duration ${video.duration_ms} ms for 18 s pushed`);
  t.same(video.renditions.map((r: any) => r.name), ['240p', '360p']);
  const vodMaster = await fetch(server.url + video.playback.hls_url);
  t.equal(vodMaster.status, 200);
  t.match(vodMaster.headers.get('cache-control'), /immutable/);
  const vodPlaylist = await (await fetch(server.url + video.playback.hls_url.replace('master.m3u8', '360p/index.m3u8'))).text();
  t.match(vodPlaylist, /#EXT-X-PLAYLIST-TYPE:VOD/);
  t.match(vodPlaylist, /#EXT-X-ENDLIST/);
  t.match(vodPlaylist, /#EXT-X-DISCONTINUITY/, 'the VOD keeps the reconnect boundary');
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', server.url + video.playback.hls_url.replace('master.m3u8', '240p/index.m3u8')]);
  t.ok(Math.abs(Number(stdout) - 18) <= 2, `the VOD playlist plays ${stdout.trim()} s`);
  for (const url of [video.playback.poster_url, video.playback.thumbnail_vtt_url]) {
    t.equal((await fetch(server.url + url)).status, 200, `${url} is served`);
  }
  const vtt = await (await fetch(server.url + video.playback.thumbnail_vtt_url)).text();
  t.match(vtt, /sprite-0\.jpg#xywh=/);
});
