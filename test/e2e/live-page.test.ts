/**
 * The live page in a real headless Chromium against a real node: before anyone publishes
 * it says the live is offline; an OBS-like RTMP push makes it play on its own, near the
 * live edge; when the publisher leaves and the reconnect window closes it says the live
 * has ended and links to the recording once its VOD exists.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { api } from '../helpers/api.js';
import { makeIngestClip, pushRtmp, waitForLive } from '../helpers/live.js';
import { startPageFixture } from '../helpers/page-fixture.js';

/** Segment length the packager targets (2 s keyframes from the encoder). */
const SEGMENT_S = 2;

const { server, dir, browser } = await startPageFixture(t, 'live-page', { config: { live: { reconnect_window_s: 2, preset: 'ultrafast' } } });
const admin = api(server.url, server.adminToken);
const shotDir = process.env.FRAMECAST_SCREENSHOT_DIR ?? dir;

/** Where the player is: its position, the end of the seekable (live) range, and any error. */
interface PlayerState {
  currentTime: number;
  liveEdge: number | null;
  paused: boolean;
  error: number | null;
}

t.test('a live page goes from offline to playing at the live edge to ended with a VOD link', async (t) => {
  const clip = await makeIngestClip(dir, { seconds: 14, width: 640, height: 360 });
  const created = await admin.json('POST', '/v1/live', { title: 'Page show', record: true });
  t.equal(created.status, 201);
  const id: string = created.body.id;

  const page = await browser.newPage({ viewport: { width: 1024, height: 720 } });
  t.teardown(() => page.close());
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${server.url}/live/${id}`);

  // Before the broadcast: offline, nothing playing.
  await page.waitForFunction(() => document.getElementById('status-text')?.textContent?.startsWith('Offline'));
  t.equal(await page.locator('#status-text').textContent(), 'Offline: the broadcast has not started.');
  t.equal(await page.locator('#badge').textContent(), 'offline', 'the badge says offline');
  t.equal(await page.locator('#title').textContent(), 'Page show', 'the title is shown');
  t.ok(await page.locator('#status').isVisible(), 'the offline notice is visible');
  t.ok(await page.locator('#vod-link').isHidden(), 'no recording link yet');

  const push = pushRtmp(created.body.rtmp_url, created.body.stream_key, clip);
  t.teardown(() => push.stop());

  // The page starts playing on its own.
  await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 1, null, { timeout: 40_000 });
  t.pass('the video plays past 1 s without a reload');
  t.equal(await page.locator('#badge').textContent(), 'live', 'the badge says live');
  t.ok(await page.locator('#status').isHidden(), 'no status overlay covers the playing video');

  const player = (): Promise<PlayerState> =>
    page.evaluate(() => {
      const video = document.querySelector('video')!;
      const n = video.seekable.length;
      return {
        currentTime: video.currentTime,
        liveEdge: n > 0 ? video.seekable.end(n - 1) : null,
        paused: video.paused,
        error: video.error?.code ?? null,
      };
    });
  const first = await player();
  t.equal(first.error, null, 'the media element has no error');
  t.notOk(first.paused, 'the video is not paused');
  t.ok(first.liveEdge !== null, 'the live window is seekable');
  const lag1 = first.liveEdge! - first.currentTime;
  // The seekable end is the playlist's edge (hls.js sets the MediaSource duration to it).
  // live.js asks for at most 6 segments of latency; more than 5 means it is not following.
  t.ok(lag1 >= 0 && lag1 <= 5 * SEGMENT_S, `playback is near the live edge (${lag1.toFixed(2)} s behind)`);

  // A few segments later it is still near the edge: it follows the live edge, not a fixed point.
  await page.waitForFunction(
    (from) => document.querySelector('video')!.currentTime > from,
    first.currentTime + 2 * SEGMENT_S,
    { timeout: 30_000 },
  );
  const later = await player();
  const lag2 = later.liveEdge! - later.currentTime;
  t.ok(later.liveEdge! > first.liveEdge!, `the live edge moved (${first.liveEdge!.toFixed(2)} → ${later.liveEdge!.toFixed(2)})`);
  t.ok(lag2 >= 0 && lag2 <= 5 * SEGMENT_S, `playback stays near the live edge (${lag2.toFixed(2)} s behind)`);
  t.equal(later.error, null, 'still no media error');
  t.ok(await page.locator('#status').isHidden(), 'still no status overlay');
  await page.screenshot({ path: join(shotDir, 'live-page-playing.png') });

  // The publisher leaves; once the reconnect window closes the live ends.
  await push.stop();
  const ended = await waitForLive(admin, id, (l) => l.status === 'ended', 30_000);
  t.equal(ended.status, 'ended');
  await page.waitForFunction(() => document.getElementById('badge')?.textContent === 'ended', null, { timeout: 10_000 });
  t.pass('the badge says ended');
  // The playlist now has ENDLIST: the player plays the last segments and stops at the end.
  await page.waitForFunction(() => document.querySelector('video')!.ended, null, { timeout: 20_000 });
  t.pass('the video plays to the end of the broadcast');

  const withVod = await waitForLive(admin, id, (l) => Boolean(l.vod_video_id || l.error), 60_000);
  t.notOk(withVod.error, JSON.stringify(withVod.error ?? ''));
  await page.locator('#vod-link').waitFor({ state: 'visible', timeout: 10_000 });
  t.equal(await page.locator('#status-text').textContent(), 'This live has ended.', 'the page says the live ended');
  t.equal(await page.locator('#vod-href').getAttribute('href'), `/watch/${withVod.vod_video_id}`, 'and links to the recording');
  t.equal(await page.locator('#meta').textContent(), '', 'no stale "reconnecting"/"preparing" note beside the ended badge');

  const screenshot = join(shotDir, 'live-page-ended.png');
  await page.screenshot({ path: screenshot });
  t.ok((await stat(screenshot)).size > 0, 'a screenshot was taken');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});
