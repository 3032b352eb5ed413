/**
 * WHIP ingest end to end: Chromium's fake camera and microphone publish through a small WHIP
 * client (test/fixtures/whip-publisher.html, served on its own http://127.0.0.1 origin) to
 * a real node; the live plays in hls.js on the live page; a wrong key gets 401; a DELETE on
 * the session's resource ends the live at once and the recording becomes a VOD. VP8 goes
 * through the same ladder.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import type { Page } from 'playwright-core';
import { api, waitForVideo } from '../helpers/api.js';
import { FAKE_MEDIA_ARGS, launchBrowser } from '../helpers/browser.js';
import { parseLivePlaylist, sleep, waitForLive } from '../helpers/live.js';
import { REPO_ROOT, startServer } from '../helpers/server.js';

// A reconnect window longer than the test: only the DELETE can end the live this soon.
const server = await startServer({
  // A publisher silent for idle_timeout_s is gone (a closed tab sends nothing more).
  // handshake_timeout_s: time for ICE, DTLS and the first keyframe out of ffmpeg on a crowded machine.
  config: { live: { reconnect_window_s: 120, idle_timeout_s: 3, handshake_timeout_s: 30, preset: 'ultrafast', whip_host_addresses: ['127.0.0.1'] } },
});
const browser = await launchBrowser({ extraArgs: FAKE_MEDIA_ARGS });
const publisherPage = await readFile(join(REPO_ROOT, 'test/fixtures/whip-publisher.html'));
const pageServer = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(publisherPage);
});
await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
const pageOrigin = `http://127.0.0.1:${(pageServer.address() as { port: number }).port}`;
t.teardown(async () => {
  await browser.close();
  await server.stop();
  pageServer.close();
});
const admin = api(server.url, server.adminToken);

interface Published {
  status: number;
  location?: string;
  contentType?: string;
  answer?: string;
  body?: string;
}

async function openPublisher(): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${pageOrigin}/`);
  return page;
}

const publish = (page: Page, url: string, key: string, codec: 'H264' | 'VP8'): Promise<Published> =>
  page.evaluate(([u, k, c]) => (window as unknown as { publish(u: string, k: string, c: string): Promise<Published> }).publish(u!, k!, c!), [url, key, codec]);

/** A syntactically valid offer for requests that must be refused before any WebRTC happens. */
const TINY_OFFER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

t.test('a browser publishes over WHIP; the live plays; a dropped publisher returns within the window; DELETE ends it and the recording becomes a VOD', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'WHIP show', record: true });
  t.equal(created.status, 201);
  const { id, stream_key: key, whip_url: whipUrl } = created.body;
  t.equal(whipUrl, `${server.url}/v1/live/${id}/whip`, 'POST /v1/live shows the whip_url');
  t.equal((await admin.json('GET', `/v1/live/${id}`)).body.whip_url, whipUrl, 'GET /v1/live/:id shows it too');

  const offer = (headers: Record<string, string>) => fetch(whipUrl, { method: 'POST', headers: { 'content-type': 'application/sdp', ...headers }, body: TINY_OFFER });
  const wrong = await offer({ authorization: 'Bearer not-the-key' });
  t.equal(wrong.status, 401, 'a wrong stream key gets 401');
  t.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'E_UNAUTHORIZED');
  t.equal(wrong.headers.get('www-authenticate'), 'Bearer', 'with a Bearer challenge');
  t.equal((await offer({})).status, 401, 'no key gets 401');
  t.equal((await offer({ authorization: `Bearer ${server.adminToken}` })).status, 401, 'an API token is not a stream key');
  const other = await admin.json('POST', '/v1/live', { title: 'another', record: false });
  t.equal((await fetch(other.body.whip_url, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${key}` }, body: TINY_OFFER })).status, 401, "one live's key does not publish to another");
  const textPlain = await fetch(whipUrl, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${key}` }, body: TINY_OFFER });
  t.equal(textPlain.status, 415, 'an offer that is not application/sdp gets 415');
  const preflight = await fetch(whipUrl, { method: 'OPTIONS', headers: { origin: pageOrigin, 'access-control-request-method': 'POST' } });
  t.equal(preflight.status, 204, 'CORS preflight');
  t.match(preflight.headers.get('access-control-allow-headers'), /Authorization/);
  t.equal(preflight.headers.get('accept-post'), 'application/sdp');

  const first = await openPublisher();
  const published = await publish(first, whipUrl, key, 'H264');
  t.equal(published.status, 201, `the offer is answered (${published.body ?? ''})`);
  t.equal(published.contentType, 'application/sdp');
  t.match(published.location, new RegExp(`^/v1/live/${id}/whip/[0-9a-f]{32}$`), 'Location is the session resource');
  t.match(published.answer, /a=candidate:.* 127\.0\.0\.1 \d+ typ host/, 'the answer carries a loopback host candidate (live.whip_host_addresses)');
  t.match(published.answer, /a=rtpmap:\d+ H264\/90000/, 'H.264 was negotiated');

  const onAir = await waitForLive(admin, id, (l) => l.status === 'live' && l.renditions.length > 0, 40_000);
  t.ok(onAir.publishing, 'the live is on air');
  t.same(
    onAir.renditions.map((r: { height: number; passthrough: boolean }) => [r.height, r.passthrough]),
    [[240, false], [360, false]],
    'the ladder is capped at the 360p ingest and every rung is encoded (a WebRTC GOP is not copied)',
  );
  const busy = await fetch(whipUrl, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${key}` }, body: TINY_OFFER });
  t.equal(busy.status, 409, 'a second publisher for a live on air gets 409');

  // The live page (hls.js) plays it.
  const viewer = await browser.newPage();
  t.teardown(() => viewer.close());
  await viewer.goto(`${server.url}/live/${id}`);
  await viewer.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 2, null, { timeout: 40_000 });
  const state = await viewer.evaluate(() => {
    const v = document.querySelector('video')!;
    return { error: v.error?.code ?? null, width: v.videoWidth, height: v.videoHeight };
  });
  t.same(state.error, null, 'hls.js plays the WHIP live without a media error');
  t.ok(state.height === 240 || state.height === 360, `a ladder rung is shown (${state.width}x${state.height})`);
  const stats = await first.evaluate(() => (window as unknown as { sent(): Promise<{ video: { keyframes: number } }> }).sent());
  t.ok(stats.video.keyframes >= 2, `the server asked for keyframes (PLI): ${stats.video.keyframes} sent`);

  // The tab goes away without a DELETE: the live waits for its publisher, then continues.
  await first.close();
  const waiting = await waitForLive(admin, id, (l) => !l.publishing, 20_000);
  t.equal(waiting.status, 'live', 'a dropped publisher leaves the live on air, waiting for its return');
  const page = await openPublisher();
  t.teardown(() => page.close());
  const again = await publish(page, whipUrl, key, 'H264');
  t.equal(again.status, 201, 'the publisher returns within the reconnect window');
  await waitForLive(admin, id, (l) => l.publishing, 30_000);
  let discontinuities = 0;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && discontinuities === 0; await sleep(300)) {
    discontinuities = parseLivePlaylist(await (await fetch(`${server.url}/live/${id}/240p/index.m3u8`)).text()).discontinuities;
  }
  t.equal(discontinuities, 1, 'the same live continues after a discontinuity');

  const status = await page.evaluate(() => (window as unknown as { stop(): Promise<number> }).stop());
  t.equal(status, 200, 'DELETE on the session resource answers 200');
  const ended = await waitForLive(admin, id, (l) => l.status === 'ended', 20_000);
  t.equal(ended.status, 'ended', 'the live ended at once, not after the 120 s reconnect window');
  const withVod = await waitForLive(admin, id, (l) => Boolean(l.vod_video_id || l.error), 60_000);
  t.notOk(withVod.error, JSON.stringify(withVod.error ?? ''));
  const vod = await waitForVideo(admin, withVod.vod_video_id);
  t.equal(vod.status, 'ready', 'the recording became a ready VOD');
  t.ok(vod.duration_ms >= 2000, `with the broadcast in it (${vod.duration_ms} ms)`);
  const gone = await fetch(`${server.url}${again.location}`, { method: 'DELETE' });
  t.equal(gone.status, 404, 'the session resource is gone');
  const late = await fetch(whipUrl, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${key}` }, body: TINY_OFFER });
  t.equal(late.status, 409, 'an ended live takes no more publishers');
});

t.test('VP8 from the browser goes through the same ladder', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'VP8 show', record: false });
  const { id, stream_key: key, whip_url: whipUrl } = created.body;
  const page = await openPublisher();
  t.teardown(() => page.close());
  const published = await publish(page, whipUrl, key, 'VP8');
  t.equal(published.status, 201, `the offer is answered (${published.body ?? ''})`);
  t.match(published.answer, /a=rtpmap:\d+ VP8\/90000/, 'VP8 was negotiated');
  await waitForLive(admin, id, (l) => l.status === 'live' && l.renditions.length > 0, 40_000);
  const deadline = Date.now() + 30_000;
  let segments = 0;
  while (Date.now() < deadline && segments === 0) {
    const r = await fetch(`${server.url}/live/${id}/240p/index.m3u8`);
    if (r.ok) segments = (await r.text()).split('\n').filter((l) => l.endsWith('.m4s')).length;
    if (segments === 0) await new Promise((resolve) => setTimeout(resolve, 300));
  }
  t.ok(segments > 0, `the 240p rung has segments (${segments})`);
  t.equal(await page.evaluate(() => (window as unknown as { stop(): Promise<number> }).stop()), 200);
  await waitForLive(admin, id, (l) => l.status === 'ended', 20_000);
});
