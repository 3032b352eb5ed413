/**
 * Low-latency live, end to end, on one node and one broadcast pushed with OBS's timing
 * (`-g 60 -keyint_min 60`, keyframes 1.999 s apart in the FLV):
 * - every segment of every rendition is ≤ 2 s and every playlist says TARGETDURATION:2,
 *   the recording's VOD playlists included;
 * - the live playlists are Apple LL-HLS (parts, PART-INF, SERVER-CONTROL, PRELOAD-HINT,
 *   RENDITION-REPORT) and pass hls-parser's strict mode;
 * - a blocking reload (`_HLS_msn`/`_HLS_part`) answers once its part is there, not before;
 *   one far ahead gets 400; the part the preload hint names is held until it exists;
 * - the live page (hls.js, lowLatencyMode) plays with a reported latency under 2.5 s; a
 *   stall makes it hold back further, and 15 s of smooth playing takes that back;
 * - DVR (`live.dvr_window_s: 60`): the page's seek bar goes 20 s back, the video plays
 *   there, and "Back to live" returns to the edge.
 */
import * as HLS from 'hls-parser';
import t, { type Test } from 'tap';
import { api, waitForVideo } from '../helpers/api.js';
import { makeIngestClip, pushRtmp, sleep, waitForLive } from '../helpers/live.js';
import { startPageFixture } from '../helpers/page-fixture.js';

HLS.setOptions({ strictMode: true });

// Long enough for the page to start, forgive a stall at start (15 s), be starved and forgive
// that, and still be live for the DVR test after them.
const CLIP_S = 75;
const { server, dir, browser, shots } = await startPageFixture(t, 'live-llhls', {
  config: { live: { reconnect_window_s: 2, preset: 'ultrafast', dvr_window_s: 60 } },
});
const admin = api(server.url, server.adminToken);
const clip = await makeIngestClip(dir, { seconds: CLIP_S, width: 640, height: 360, keyframeSeconds: 1.999 });
const created = await admin.json('POST', '/v1/live', { title: 'Low latency', record: true });
const id: string = created.body.id;
const base = `${server.url}/live/${id}/`;
const RENDITIONS = ['240p', '360p', 'audio'];

/** Every media playlist text seen during the broadcast, to check segment lengths in. */
const seen: { name: string; text: string }[] = [];
async function playlist(name: string, query = ''): Promise<{ status: number; text: string }> {
  const r = await fetch(`${base}${name}/index.m3u8${query}`);
  const text = await r.text();
  if (r.status === 200) seen.push({ name, text });
  return { status: r.status, text };
}

/**
 * Video segments end on the publisher's keyframes: ≤ 2 s (1.999 here). Audio frames (1024
 * samples at 48 kHz) cannot tile 2 s exactly: its segments follow a 2 s grid, a part more or
 * less, always within what TARGETDURATION:2 allows (EXTINF rounded ≤ 2).
 */
function checkSegments(t: Test, what: string, name: string, durations: number[]): void {
  const longest = Math.max(...durations);
  if (name === 'audio') t.ok(Math.round(longest) <= 2, `${what}: the longest segment (${longest.toFixed(3)} s) fits TARGETDURATION 2`);
  else t.ok(longest <= 2.001, `${what}: the longest segment is ${longest.toFixed(3)} s`);
}

/** Next segment (Media Sequence Number) and how many of its parts are listed. */
function position(text: string): { openMsn: number; openParts: number } {
  const lines = text.split('\n');
  const sequence = Number(lines.find((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'))?.split(':')[1] ?? 0);
  let segments = 0;
  let parts = 0;
  for (const l of lines) {
    if (l.startsWith('#EXTINF:')) {
      segments++;
      parts = 0;
    } else if (l.startsWith('#EXT-X-PART:')) parts++;
  }
  return { openMsn: sequence + segments, openParts: parts };
}

const push = pushRtmp(created.body.rtmp_url, created.body.stream_key, clip);
t.teardown(() => push.stop());
const page = await browser.newPage({ viewport: { width: 1024, height: 760 } });
t.teardown(() => page.close());
const pageErrors: string[] = [];
page.on('pageerror', (err) => pageErrors.push(err.message));
await page.goto(`${server.url}/live/${id}`);

// Playlists with parts in every rendition.
for (let i = 0; i < 200; i++) {
  const texts = await Promise.all(RENDITIONS.map((n) => playlist(n).then((p) => p.text).catch(() => '')));
  if (texts.every((x) => x.includes('#EXT-X-PART:') && x.includes('#EXTINF:'))) break;
  await sleep(200);
}

t.test('live playlists are LL-HLS and pass hls-parser strict mode', async (t) => {
  const master = HLS.parse(await (await fetch(`${base}master.m3u8`)).text()) as HLS.types.MasterPlaylist;
  t.ok(master.isMasterPlaylist && master.variants.length === 2, 'the master parses, two variants');
  for (const name of RENDITIONS) {
    const { text } = await playlist(name);
    const parsed = HLS.parse(text) as HLS.types.MediaPlaylist;
    t.equal(parsed.targetDuration, 2, `${name}: TARGETDURATION 2`);
    t.ok(parsed.lowLatencyCompatibility?.canBlockReload, `${name}: CAN-BLOCK-RELOAD=YES`);
    t.ok((parsed.lowLatencyCompatibility?.partHoldBack ?? 0) >= 1, `${name}: PART-HOLD-BACK ${parsed.lowLatencyCompatibility?.partHoldBack}`);
    t.equal(parsed.partTargetDuration, 0.5, `${name}: PART-TARGET 0.5`);
    t.ok(parsed.prefetchSegments.length > 0 || parsed.segments.some((s) => s.parts.length > 0), `${name}: parts are listed`);
    t.match(text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="r1-part-\d{6}\.m4s"/, `${name}: a preload hint names the next part`);
    t.equal(parsed.renditionReports.length, RENDITIONS.length - 1, `${name}: a rendition report for each other rendition`);
    const partDurations = [...text.matchAll(/#EXT-X-PART:DURATION=([\d.]+)/g)].map((m) => Number(m[1]));
    t.ok(partDurations.every((d) => d > 0 && d <= 0.5), `${name}: every part ≤ PART-TARGET (${Math.max(...partDurations)})`);
  }
  // A part is a playable piece of the segment: served, immutable, the bytes ffmpeg wrote.
  const { text } = await playlist('240p');
  const uri = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(text)![1]!;
  const part = await fetch(`${base}240p/${uri}`);
  t.equal(part.status, 200, 'a listed part is served');
  t.match(part.headers.get('cache-control'), /immutable/);
  t.equal(Buffer.from(await part.arrayBuffer()).toString('latin1', 4, 8), 'moof', 'it is a CMAF fragment');
});

t.test('a blocking reload answers when its part appears, not before; far ahead is 400', async (t) => {
  const now = position((await playlist('240p')).text);
  // Two parts past the newest one: it cannot be there yet.
  const want = { msn: now.openMsn, part: now.openParts + 1 };
  let answered = false;
  const blocked = playlist('240p', `?_HLS_msn=${want.msn}&_HLS_part=${want.part}`).finally(() => (answered = true));
  let sawItMissingWhileBlocked = false;
  while (!answered) {
    const plain = position((await playlist('240p')).text);
    const has = plain.openMsn > want.msn || (plain.openMsn === want.msn && plain.openParts > want.part);
    if (!has && !answered) sawItMissingWhileBlocked = true;
    await sleep(50);
  }
  const res = await blocked;
  t.equal(res.status, 200);
  const got = position(res.text);
  t.ok(got.openMsn > want.msn || (got.openMsn === want.msn && got.openParts > want.part), `the answer holds part ${want.part} of segment ${want.msn} (got ${got.openMsn}/${got.openParts})`);
  t.ok(sawItMissingWhileBlocked, 'the request was held while the part did not exist');

  const far = await playlist('240p', `?_HLS_msn=${now.openMsn + 5}&_HLS_part=0`);
  t.equal(far.status, 400, 'five segments ahead: 400');
  t.match(far.text, /E_BAD_REQUEST/);
  t.equal((await playlist('240p', '?_HLS_msn=x')).status, 400, 'a malformed directive: 400');
  const past = await playlist('audio', `?_HLS_msn=${Math.max(0, now.openMsn - 1)}`);
  t.equal(past.status, 200, 'a segment already there answers at once');
});

t.test('the part the preload hint names is held until it exists, then served; an unknown part is 404', async (t) => {
  const hintOf = (text: string) => /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(text)![1]!;
  // Right after the hint moves on, the part it names is a whole part duration away: the
  // request below is made well before it exists, even on a busy machine.
  const previous = hintOf((await playlist('240p')).text);
  let hinted = previous;
  for (let i = 0; i < 200 && hinted === previous; i++) {
    await sleep(10);
    hinted = hintOf((await playlist('240p')).text);
  }
  const listedPart = new RegExp(`#EXT-X-PART:[^\\n]*URI="${hinted}"`);
  let answered = false;
  const pending = fetch(`${base}240p/${hinted}`).finally(() => (answered = true));
  let heldWhileUnlisted = false;
  while (!answered) {
    const unlisted = !listedPart.test((await playlist('240p')).text);
    if (unlisted && !answered) heldWhileUnlisted = true;
    await sleep(50);
  }
  const res = await pending;
  t.equal(res.status, 200, `the hinted part ${hinted} is answered, not 404`);
  t.ok(heldWhileUnlisted, 'the request was held while the part was only hinted');
  t.equal(Buffer.from(await res.arrayBuffer()).toString('latin1', 4, 8), 'moof', 'with its fragment');
  const listed = await playlist('240p');
  t.match(listed.text, listedPart, 'and the playlist now lists it');
  const unknown = await fetch(`${base}240p/r9-part-999999.m4s`);
  t.equal(unknown.status, 404, 'a part nothing hints is 404 at once');
});

t.test('the live page plays in hls.js lowLatencyMode under 2.5 s from the live edge', async (t) => {
  await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 3, null, { timeout: 40_000 });
  // Latency as hls.js reports it, sampled over a few seconds once it settled.
  const samples: number[] = [];
  for (let i = 0; i < 8; i++) {
    await sleep(500);
    const v = await page.locator('#player').getAttribute('data-latency');
    if (v) samples.push(Number(v));
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  t.ok(samples.length >= 4, 'hls.js reports its latency');
  t.ok(median > 0 && median < 2.5, `median latency ${median.toFixed(2)} s (samples ${samples.map((s) => s.toFixed(2)).join(', ')})`);
  t.equal(await page.evaluate(() => document.querySelector('video')!.error?.code ?? null), null, 'no media error');
});

t.test('a stall adds hold-back, and smooth playing forgives it', async (t) => {
  const partHoldBack = Number(/PART-HOLD-BACK=([\d.]+)/.exec((await playlist('240p')).text)?.[1]);
  t.ok(partHoldBack > 0, `PART-HOLD-BACK ${partHoldBack} s`);
  const targetOver = (limit: number) => page.waitForFunction((l) => Number(document.getElementById('player')!.dataset.targetLatency) > l, limit, { timeout: 30_000 });
  const targetBackTo = (value: number) => page.waitForFunction((v) => Math.abs(Number(document.getElementById('player')!.dataset.targetLatency) - v) < 0.01, value, { timeout: 40_000 });
  // A stall while the page started would have raised it already: wait until it is forgiven.
  await targetBackTo(partHoldBack);
  t.pass('the page aims at the playlist\'s PART-HOLD-BACK');

  // Starve the player: every media request waits 3 s, for 4 s.
  const hold = async (route: import('playwright-core').Route) => {
    await sleep(3000);
    await route.continue().catch(() => undefined);
  };
  await page.route(`${base}**`, hold);
  await sleep(4000);
  await page.unroute(`${base}**`, hold);
  await targetOver(partHoldBack + 0.25);
  const stalledAt = Date.now();
  t.pass(`after a stall the page holds back ${await page.locator('#player').getAttribute('data-target-latency')} s`);

  await targetBackTo(partHoldBack);
  t.ok(Date.now() - stalledAt > 8_000, `forgiven after ${((Date.now() - stalledAt) / 1000).toFixed(1)} s of smooth playing, not at once`);
  const currentTime = await page.evaluate(() => document.querySelector('video')!.currentTime);
  await page.waitForFunction((from) => document.querySelector('video')!.currentTime > from + 1, currentTime, { timeout: 10_000 });
  t.pass('still playing');
});

t.test('DVR: the seek bar goes 20 s back and "Back to live" returns to the edge', async (t) => {
  const range = () =>
    page.evaluate(() => {
      const v = document.querySelector('video')!;
      const n = v.seekable.length;
      return { start: n ? v.seekable.start(0) : 0, end: n ? v.seekable.end(n - 1) : 0, current: v.currentTime };
    });
  await page.waitForFunction(() => {
    const v = document.querySelector('video')!;
    return v.seekable.length > 0 && v.seekable.end(v.seekable.length - 1) - v.seekable.start(0) > 24;
  }, null, { timeout: 40_000 });
  t.ok(await page.locator('#dvr').isVisible(), 'the seek bar is shown');
  const before = await range();
  const target = before.current - 20;
  await page.locator('#seek').evaluate((el: HTMLInputElement, to: number) => {
    el.value = String(to);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, target);
  await page.waitForFunction((to) => {
    const v = document.querySelector('video')!;
    return Math.abs(v.currentTime - to) < 3 && !v.seeking && v.readyState >= 3;
  }, target, { timeout: 20_000 });
  const back = await range();
  await page.waitForFunction((from) => document.querySelector('video')!.currentTime > from + 1, back.current, { timeout: 15_000 });
  t.pass(`playing 20 s back (at ${back.current.toFixed(1)} of ${back.start.toFixed(1)}–${back.end.toFixed(1)})`);
  t.ok(await page.locator('#back-to-live').isVisible(), '"Back to live" is offered');
  t.match(await page.locator('#behind').textContent(), /^\d+ s behind live$/);
  await page.screenshot({ path: `${shots}/live-dvr-behind.png` });

  await page.locator('#back-to-live').click();
  await page.waitForFunction(() => {
    const v = document.querySelector('video')!;
    return v.seekable.end(v.seekable.length - 1) - v.currentTime < 4 && !v.seeking;
  }, null, { timeout: 15_000 });
  t.pass('back at the live edge');
  await page.waitForFunction(() => document.getElementById('back-to-live')!.hidden, null, { timeout: 10_000 });
  t.pass('"Back to live" is hidden again');
});

t.test('OBS timing: every segment ≤ 2 s, TARGETDURATION 2, the recording too', async (t) => {
  t.equal(await push.exited, 0, 'the publish ran to its end');
  const ended = await waitForLive(admin, id, (l) => l.status === 'ended', 30_000);
  for (const name of RENDITIONS) await playlist(name);
  const targets = new Set(seen.flatMap(({ text }) => [...text.matchAll(/#EXT-X-TARGETDURATION:(\d+)/g)].map((m) => Number(m[1]))));
  t.same([...targets], [2], `every live playlist said TARGETDURATION:2 (${seen.length} seen)`);
  for (const name of RENDITIONS) {
    const durations = seen.filter((s) => s.name === name).flatMap(({ text }) => [...text.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1])));
    t.ok(durations.length > 10, `${name}: ${durations.length} segment listings seen`);
    checkSegments(t, `${name} live`, name, durations);
  }

  const withVod = ended.vod_video_id ? ended : await waitForLive(admin, id, (l) => Boolean(l.vod_video_id || l.error), 60_000);
  const video = await waitForVideo(admin, withVod.vod_video_id);
  t.equal(video.status, 'ready', 'the recording is a ready VOD');
  t.ok(Math.abs(video.duration_ms - CLIP_S * 1000) <= 2_000, `VOD duration ${video.duration_ms} ms for ${CLIP_S} s pushed`);
  for (const name of RENDITIONS) {
    const text = await (await fetch(server.url + video.playback.hls_url.replace('master.m3u8', `${name}/index.m3u8`))).text();
    t.match(text, /#EXT-X-TARGETDURATION:2\n/, `the recording's ${name} playlist: TARGETDURATION 2`);
    checkSegments(t, `the recording's ${name}`, name, [...text.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1])));
  }
  t.same(pageErrors, [], 'no uncaught errors in the page');
});
