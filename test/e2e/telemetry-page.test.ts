/**
 * The watch page reports what a viewer experienced: in a real headless Chromium a clip
 * plays for a while, the viewer seeks, then leaves the page; the events (the last ones by
 * sendBeacon on page hide) reach POST /v1/events and GET /v1/videos/:id/stats shows one
 * view with watch time and a TTFF.
 */
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startPageFixture } from '../helpers/page-fixture.js';

interface FramecastWindow {
  framecast?: { video: HTMLVideoElement; hls: unknown };
}

interface SentEvent {
  type: string;
  session_id: string;
  [field: string]: unknown;
}

const { server, dir, browser } = await startPageFixture(t, 'telemetry-page');
const anonymous = api(server.url, null);

/** Polls the stats until `until` holds (the beacon lands after the navigation). */
async function statsWhen(id: string, until: (s: any) => boolean): Promise<any> {
  const deadline = Date.now() + 30_000;
  let last: any;
  while (Date.now() < deadline) {
    const r = await anonymous.json('GET', `/v1/videos/${id}/stats`);
    last = r.body;
    if (r.status === 200 && until(r.body)) return r.body;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`stats never matched: ${JSON.stringify(last)}`);
}

t.test('a view on the watch page shows up in the stats', async (t) => {
  const clip = await makeClip(dir, { width: 640, height: 360, seconds: 8 });
  const upload = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Telemetry clip' } });
  const video = await waitForVideo(anonymous, upload.videoId!);
  t.equal(video.status, 'ready', 'the clip is ready', { error: video.error });
  const id = video.id as string;

  const page = await browser.newPage({ viewport: { width: 1024, height: 720 } });
  t.teardown(() => page.close());
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  const sent: SentEvent[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/v1/events' && request.method() === 'POST') {
      sent.push(...((request.postDataJSON() as { events?: SentEvent[] } | null)?.events ?? []));
    }
  });

  await page.goto(`${server.url}/watch/${id}`);
  await page.waitForFunction(() => ((window as FramecastWindow).framecast?.video.currentTime ?? 0) > 2, null, { timeout: 30_000 });
  t.pass('the video played past 2 s');

  const seekedTo = await page.evaluate(async () => {
    const v = (window as FramecastWindow).framecast!.video;
    const seeked = new Promise((resolve) => v.addEventListener('seeked', resolve, { once: true }));
    v.currentTime = 5;
    await seeked;
    return v.currentTime;
  });
  t.ok(seekedTo >= 4.9, 'the viewer seeked to 5 s');
  await page.waitForFunction(() => (window as FramecastWindow).framecast!.video.ended, null, { timeout: 30_000 });
  t.pass('the viewer watched to the end');

  // Leaving the page: pagehide sends the end of the view by sendBeacon.
  await page.goto(`${server.url}/`);

  const stats = await statsWhen(id, (s) => s.views >= 1 && s.watch_time_ms > 0);
  t.equal(stats.views, 1, 'one view');
  t.equal(stats.unique_sessions, 1, 'one session');
  t.ok(stats.watch_time_ms > 0, `watch time counted (${stats.watch_time_ms} ms)`);
  t.type(stats.ttff_p50_ms, 'number', `a TTFF was measured (${stats.ttff_p50_ms} ms)`);
  t.equal(stats.completion_rate, 1, 'the one view completed');
  t.equal(stats.playback_errors, 0, 'no playback errors');

  const types = new Set(sent.map((e) => e.type));
  // (The view_end went by sendBeacon, which the browser's request events do not show; the
  // watch time and completion above come from it.)
  for (const type of ['view_start', 'play', 'ttff_ms', 'bitrate_change', 'seek']) t.ok(types.has(type), `the page sent ${type}`);
  t.equal(new Set(sent.map((e) => e.session_id)).size, 1, 'every event carries the one session id');
  const seek = sent.find((e) => e.type === 'seek');
  t.ok(seek && Number(seek.from_s) >= 2 && Math.abs(Number(seek.to_s) - 5) < 0.2, 'the seek says where from and where to', { seek });
  t.same(pageErrors, [], 'no uncaught errors in the page');
});
