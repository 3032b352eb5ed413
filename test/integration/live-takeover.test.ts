/**
 * A live outlives its media process: killed mid-broadcast (kill -9), the process the
 * supervisor starts next takes the live over from its packager's journal; the encoder's
 * reconnect continues the same live and recording (a discontinuity in its playlists, the
 * segments from before the crash still listed), and the recording becomes one VOD of both
 * parts.
 */
import t from 'tap';
import { waitForVideo } from '../helpers/api.js';
import { liveFixture, parseLivePlaylist, pushRtmp, sleep, waitForLive, type Push } from '../helpers/live.js';
import { eventually } from '../helpers/readiness.js';

// Long enough for the supervisor to restart the media process and the encoder to return.
const WINDOW_S = 15;

const { server, admin, clip } = await liveFixture(t, WINDOW_S);

async function playlist(url: string) {
  const r = await fetch(url);
  return parseLivePlaylist(r.ok ? await r.text() : '');
}

t.test('a live whose media process is killed continues when the encoder reconnects, and its recording is one VOD', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'Takeover show', record: true });
  const { id, rtmp_url: rtmpUrl, stream_key: key } = created.body as { id: string; rtmp_url: string; stream_key: string };
  const media = `${server.url}/live/${id}/240p/index.m3u8`;

  const first = pushRtmp(rtmpUrl, key, clip);
  const before = await eventually(() => playlist(media), (p) => p.segments.length >= 2, 'two published segments');
  const pid = await server.mediaPid();
  process.kill(pid, 'SIGKILL');
  await first.exited;

  // The supervisor starts a new media process, which finds the live on air and takes it over.
  await eventually(() => server.mediaPid(), (p) => p !== pid, 'a new media process', 30_000);
  await eventually(
    async () => server.logs(),
    (logs) => new RegExp(`"live_id":"${id}"[^\\n]*taken over from a media process that stopped`).test(logs),
    'the takeover in the logs',
    30_000,
  );
  const waiting = (await admin.json('GET', `/v1/live/${id}`)).body;
  t.match(waiting, { status: 'live', publishing: false }, 'still on air, waiting for its publisher');
  const kept = await playlist(media);
  t.ok(before.segments.every((s) => kept.segments.includes(s)), 'the segments from before the crash are still listed');

  // The encoder reconnects (as OBS does); until the new RTMP listener is up it is refused.
  let second: Push | undefined;
  for (let attempt = 0; attempt < 40 && !second; attempt++) {
    const push = pushRtmp(rtmpUrl, key, clip);
    const outcome = await Promise.race([
      push.exited.then(() => 'gone' as const),
      waitForLive(admin, id, (l) => l.publishing === true, 5_000).then(() => 'publishing' as const, () => 'gone' as const),
    ]);
    if (outcome === 'publishing') second = push;
    else {
      await push.stop();
      await sleep(500);
    }
  }
  t.ok(second, 'the returning encoder is admitted to the same live');
  const joined = await eventually(() => playlist(media), (p) => p.discontinuities >= 1, 'a discontinuity');
  t.equal(joined.discontinuities, 1, 'the takeover shows as one discontinuity');
  t.equal(await second!.exited, 0, 'the second publish ran to its end');

  const ended = await waitForLive(admin, id, (l) => l.status === 'ended' && Boolean(l.vod_video_id || l.error), 90_000);
  t.notOk(ended.error, JSON.stringify(ended.error ?? ''));
  const video = await waitForVideo(admin, ended.vod_video_id);
  t.equal(video.status, 'ready');
  // Both parts: what was published before the kill (2 s segments) and the 9-s second push.
  const beforeMs = before.segments.length * 2000;
  t.ok(video.duration_ms >= beforeMs + 7_000 && video.duration_ms <= 20_000, `VOD of ${video.duration_ms} ms holds both parts (≥ ${beforeMs + 7000})`);
  const vodPlaylist = await (await fetch(server.url + video.playback.hls_url.replace('master.m3u8', '240p/index.m3u8'))).text();
  t.match(vodPlaylist, /#EXT-X-DISCONTINUITY/, 'the VOD keeps the boundary');
  t.match(vodPlaylist, /#EXT-X-ENDLIST/);
});
