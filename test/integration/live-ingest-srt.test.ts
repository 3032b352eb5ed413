/**
 * SRT ingest through a real node: ffmpeg's libsrt publisher (MPEG-TS, as OBS's SRT output)
 * with `streamid=STREAM_KEY` goes live and plays through the same ladder as RTMP; a wrong key
 * is refused in the SRT handshake; a publisher that drops and returns within the reconnect
 * window continues the live and its recording, which becomes a VOD.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { waitForVideo } from '../helpers/api.js';
import { liveFixture, parseLivePlaylist, pushSrt, sleep, waitForLive } from '../helpers/live.js';
import { probeSegment } from '../helpers/media-fixtures.js';

const WINDOW_S = 4;
// 10 s pushes: the SRT remux first probes the TS (up to 3 s) before the first keyframe reaches the packager.
const { server, admin, dir, clip } = await liveFixture(t, WINDOW_S, { clipSeconds: 10 });

async function download(url: string, file: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  await writeFile(file, Buffer.from(await r.arrayBuffer()));
  return file;
}

t.test('a live shows its SRT URL; the full publish URL with the key only on creation', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'SRT urls' });
  t.match(created.body.srt_url, /^srt:\/\/127\.0\.0\.1:\d+$/);
  t.equal(created.body.srt_publish_url, `${created.body.srt_url}?streamid=${created.body.stream_key}`);
  const got = await admin.json('GET', `/v1/live/${created.body.id}`);
  t.equal(got.body.srt_url, created.body.srt_url);
  t.notOk('srt_publish_url' in got.body, 'the key is shown only once');
});

t.test('an unknown stream id is refused in the handshake and nothing goes live', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'Not this key' });
  const push = pushSrt(created.body.srt_url, 'not-a-key', clip);
  t.not(await push.exited, 0, 'the SRT publisher fails');
  t.match(push.stderr(), /failed|rejected|error/i);
  t.equal((await admin.json('GET', `/v1/live/${created.body.id}`)).body.status, 'idle');
});

t.test('an SRT publisher goes live, plays, returns within the window, and the recording becomes a VOD', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'SRT show', record: true });
  const id = created.body.id as string;
  const base = `${server.url}/live/${id}/`;
  // A generous latency: a loaded test machine must not make SRT drop packets.
  const first = pushSrt(created.body.srt_url, created.body.stream_key, clip, { latencyMs: 1000 });
  const live = await waitForLive(admin, id, (l) => l.status === 'live' && l.renditions.length > 0);
  t.same(live.renditions.map((r: any) => r.name), ['240p', '360p'], 'the ladder is capped at the ingest height');
  t.match(server.logs(), /"video_kbps":\d+[^\n]*the ingest declares no bitrate; measured over its first GOP/, 'MPEG-TS declares no bitrate: measured before the top rung is chosen');

  let playlist = parseLivePlaylist('');
  for (let i = 0; i < 150 && playlist.segments.length === 0; i++) {
    // Until the rendition's first segment, its playlist answers 404 (a JSON error body).
    const answer = await fetch(`${base}360p/index.m3u8`).catch(() => undefined);
    playlist = parseLivePlaylist(answer?.ok ? await answer.text() : '');
    if (playlist.segments.length === 0) await sleep(200);
  }
  t.ok(playlist.segments.length > 0, 'segments are listed');
  const seg = playlist.segments[0]!;
  const run = /^r(\d+)-/.exec(seg)![1];
  const probed = await probeSegment(
    dir,
    await download(`${base}360p/r${run}-init.mp4`, join(dir, 'srt-init.mp4')),
    await download(`${base}360p/${seg}`, join(dir, 'srt-seg.m4s')),
  );
  t.same([probed.width, probed.height], [640, 360], 'a segment decodes at the ingest size');
  t.ok(probed.packets[0]?.keyframe, 'it starts on a keyframe');

  t.equal(await first.exited, 0, 'the first publish ran to its end');
  await waitForLive(admin, id, (l) => l.status === 'live' && l.publishing === false);
  const second = pushSrt(created.body.srt_url, created.body.stream_key, clip, { latencyMs: 1000 });
  await waitForLive(admin, id, (l) => l.publishing === true);
  t.equal(await second.exited, 0, 'the return within the window is accepted');

  const ended = await waitForLive(admin, id, (l) => l.status === 'ended', 60_000);
  const withVod = ended.vod_video_id ? ended : await waitForLive(admin, id, (l) => Boolean(l.vod_video_id || l.error), 60_000);
  t.notOk(withVod.error, JSON.stringify(withVod.error ?? ''));
  const video = await waitForVideo(admin, withVod.vod_video_id);
  t.equal(video.status, 'ready');
  t.ok(video.duration_ms >= 12_000 && video.duration_ms <= 22_000, `VOD duration ${video.duration_ms} ms for 2 × 10 s pushed (less what preceded each run's first keyframe)`);
  const vodPlaylist = await (await fetch(server.url + video.playback.hls_url.replace('master.m3u8', '360p/index.m3u8'))).text();
  t.match(vodPlaylist, /#EXT-X-DISCONTINUITY/, 'the VOD keeps the reconnect boundary');
});
