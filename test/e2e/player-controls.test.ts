/**
 * The watch page's player on phones and with keyboards, in a real headless Chromium against
 * a real node: at 390 and 320 px wide every control lies inside the player box and the time
 * stays on one line; a portrait video gets a portrait player that it fills; the storyboard
 * preview stays inside the player at both ends of the seek bar; the keyboard shortcuts work
 * (and not while typing); a failed video whose error is not retryable offers no Retry.
 *
 * Two cases play HLS written here by ffmpeg and served to the page by a stub route
 * (Playwright `page.route`, same origin as the node): a master with two audio renditions
 * (the audio-track menu) and an audio-only master with a poster (it plays, poster shown).
 * A real upload with two audio tracks checks the menu against what the node's own master
 * offers (one entry per EXT-X-MEDIA TYPE=AUDIO; no menu for fewer than two), and a real
 * m4a upload either plays over its poster (once the pipeline makes audio-only videos) or
 * shows its final refusal without a Retry.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { FFMPEG, makeAudioOnly, makeClip, makeTextFile } from '../helpers/media-fixtures.js';
import { startPageFixture } from '../helpers/page-fixture.js';

const run = promisify(execFile);

/** What the page exposes for tests (web/assets/watch.js). */
interface FramecastWindow {
  framecast?: {
    video: HTMLVideoElement;
    hls: { audioTracks: { name: string }[]; audioTrack: number } | null;
  };
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

const PHONE = { width: 390, height: 844 };
const SMALL_PHONE = { width: 320, height: 568 };
const DESKTOP = { width: 1024, height: 720 };
/** Every control of the player, by id; hidden ones (e.g. the volume slider at 320 px) are skipped. */
const CONTROL_IDS = ['seek', 'play', 'mute', 'volume', 'time', 'settings-button', 'fullscreen', 'speed', 'quality', 'audio-track'];

const { server, dir, browser, shots } = await startPageFixture(t, 'player-controls');
const anonymous = api(server.url, null);

/** A source with two sine tracks tagged English and French. */
async function makeTwoTrackClip(): Promise<string> {
  const file = join(dir, 'two-tracks.mp4');
  await run(FFMPEG, [
    '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440', '-f', 'lavfi', '-i', 'sine=frequency=660',
    '-t', '3', '-map', '0:v', '-map', '1:a', '-map', '2:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k',
    '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra', file,
  ]);
  return file;
}

/** Uploads a file and returns its video id once the bytes are stored (its processing queued). */
async function upload(file: string, title: string): Promise<string> {
  const { videoId } = await tusUpload(server.url, file, { token: server.adminToken, metadata: { filename: file.split('/').pop()!, title } });
  return videoId!;
}

/** The video as the API shows it once processing has ended (ready or failed). */
const processed = (id: string): Promise<any> => waitForVideo(anonymous, id);

const [landscapeClip, portraitClip, textFile, twoTrackClip, audioFile] = await Promise.all([
  makeClip(dir, { width: 640, height: 360, seconds: 8, name: 'landscape.mp4' }),
  makeClip(dir, { width: 360, height: 640, seconds: 4, name: 'portrait.mp4' }),
  makeTextFile(dir),
  makeTwoTrackClip(),
  makeAudioOnly(dir, 3),
]);
// Uploaded one after the other in the order the tests below need them: the node processes
// one job at a time, oldest first, and each test waits only for its own video, so the later
// ones are processed while the first tests (and the fixtures below) run.
const ids = {
  landscape: await upload(landscapeClip, 'Landscape'),
  portrait: await upload(portraitClip, 'Portrait'),
  notMedia: await upload(textFile, 'Not media'),
  twoTracks: await upload(twoTrackClip, 'Two tracks'),
  audioOnly: await upload(audioFile, 'Audio only'),
};

// ------------------------------------------------------------------ stub-served HLS fixtures

const FIXTURES = join(dir, 'fixtures');
const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mp4': 'video/mp4',
  '.m4s': 'video/iso.segment',
  '.png': 'image/png',
};

/** Video + two audio renditions (English default, French), one ffmpeg run; the master is ours. */
async function makeTwoAudioHls(): Promise<void> {
  const out = join(FIXTURES, 'two-audio');
  await mkdir(out, { recursive: true });
  await run(FFMPEG, [
    '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440', '-f', 'lavfi', '-i', 'sine=frequency=660',
    '-t', '3', '-map', '0:v', '-map', '1:a', '-map', '2:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '25', '-c:a', 'aac', '-b:a', '64k',
    '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4',
    '-var_stream_map', 'v:0,agroup:aud a:0,agroup:aud a:1,agroup:aud',
    '-hls_segment_filename', join(out, 'stream_%v/seg_%d.m4s'), join(out, 'stream_%v/index.m3u8'),
  ]);
  await writeFile(join(out, 'master.m3u8'), [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="eng",DEFAULT=YES,AUTOSELECT=YES,URI="stream_1/index.m3u8"',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Français",LANGUAGE="fra",DEFAULT=NO,AUTOSELECT=YES,URI="stream_2/index.m3u8"',
    '#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180,CODECS="avc1.42c00c,mp4a.40.2",AUDIO="aud"',
    'stream_0/index.m3u8',
    '',
  ].join('\n'));
}

/** An audio-only master (no video variant) and a poster, as an audio upload is published. */
async function makeAudioOnlyHls(): Promise<void> {
  const out = join(FIXTURES, 'audio-only');
  await mkdir(join(out, 'audio'), { recursive: true });
  await run(FFMPEG, [
    '-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '4',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4',
    '-hls_fmp4_init_filename', 'init.mp4', '-hls_segment_filename', join(out, 'audio/seg_%d.m4s'), join(out, 'audio/index.m3u8'),
  ]);
  await run(FFMPEG, ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x3366ff:size=640x360', '-frames:v', '1', join(out, 'poster.png')]);
  await writeFile(join(out, 'master.m3u8'), '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=70000,CODECS="mp4a.40.2"\naudio/index.m3u8\n');
}

await Promise.all([makeTwoAudioHls(), makeAudioOnlyHls()]);

/** GET /v1/videos/:id as the node would answer for a ready video playing `name`'s fixture. */
function fixtureVideo(name: string, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    id: `fixture-${name}`, title: `Fixture ${name}`, description: '', tags: [], visibility: 'public',
    status: 'ready', created_at: new Date().toISOString(), duration_ms: 3000,
    playback: { hls_url: `/fixtures/${name}/master.m3u8` },
    ...fields,
  };
}

/** Serves the fixtures and their video records to `page` (same origin as the node). */
async function stubFixtures(page: Page, videos: Record<string, Record<string, unknown>>): Promise<void> {
  await page.route(`${server.url}/fixtures/**`, async (route) => {
    const path = new URL(route.request().url()).pathname.slice('/fixtures/'.length);
    if (path.includes('..')) return route.fulfill({ status: 404 });
    const body = await readFile(join(FIXTURES, path)).catch(() => null);
    if (!body) return route.fulfill({ status: 404 });
    await route.fulfill({ status: 200, body, contentType: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream' });
  });
  await page.route(`${server.url}/v1/videos/fixture-*`, async (route) => {
    const id = new URL(route.request().url()).pathname.split('/').pop()!;
    const video = videos[id];
    if (!video) return route.fulfill({ status: 404, json: { error: { code: 'E_NOT_FOUND', message: 'not found', retryable: false } } });
    await route.fulfill({ status: 200, json: video });
  });
}

// ------------------------------------------------------------------ page helpers

async function openWatch(
  t: Test,
  id: string,
  viewport: { width: number; height: number },
  fixtures?: Record<string, Record<string, unknown>>,
  hasTouch = false,
) {
  const context = await browser.newContext({ viewport, hasTouch });
  t.teardown(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  if (fixtures) await stubFixtures(page, fixtures);
  await page.goto(`${server.url}/watch/${id}`);
  return { page, pageErrors };
}

async function waitPlaying(page: Page, past = 0.3): Promise<void> {
  await page.waitForFunction((past) => ((window as FramecastWindow).framecast?.video.currentTime ?? 0) > past, past, { timeout: 30_000 });
}

/** The player's box and those of the rendered controls (settings panel open). */
async function controlBoxes(page: Page): Promise<{ player: Box; controls: Record<string, Box>; timeCut: boolean }> {
  if (await page.locator('#settings').isHidden()) await page.click('#settings-button');
  await page.locator('#settings').waitFor({ state: 'visible' });
  return page.evaluate((ids) => {
    const box = (el: Element) => {
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const controls: Record<string, Box> = {};
    for (const id of ids) {
      const el = document.getElementById(id);
      if (el && el.getClientRects().length > 0) controls[id] = box(el);
    }
    const time = document.getElementById('time')!;
    return { player: box(document.getElementById('player')!), controls, timeCut: time.scrollWidth > time.clientWidth };
  }, CONTROL_IDS);
}

function inside(inner: Box, outer: Box, slack = 0.5): boolean {
  return inner.x >= outer.x - slack && inner.y >= outer.y - slack &&
    inner.x + inner.width <= outer.x + outer.width + slack && inner.y + inner.height <= outer.y + outer.height + slack;
}

function assertControlsInside(t: Test, { player, controls, timeCut }: Awaited<ReturnType<typeof controlBoxes>>, expected: string[]): void {
  for (const id of expected) t.ok(controls[id], `#${id} is shown`);
  const outside = Object.entries(controls).filter(([, b]) => !inside(b, player)).map(([id, b]) => ({ id, ...b }));
  t.same(outside, [], `every control lies inside the ${player.width.toFixed(0)}x${player.height.toFixed(0)} player`);
  // The time on one line: no taller than a button.
  t.ok(controls.time!.height <= controls.play!.height, `the time stays on one line (${controls.time!.height.toFixed(1)} px high)`);
  t.notOk(timeCut, 'and is not cut off');
}

/** Hovers the seek bar at its start and its end: the storyboard preview must stay inside the player. */
async function assertPreviewInside(t: Test, page: Page, player: Box, where: string): Promise<void> {
  const seek = (await page.locator('#seek').boundingBox())!;
  for (const [end, x] of [['start', seek.x + 1], ['end', seek.x + seek.width - 1]] as const) {
    await page.mouse.move(x, seek.y + seek.height / 2);
    await page.waitForFunction(() => document.getElementById('preview-tile')!.style.backgroundImage.includes('sprite-'));
    const preview = (await page.locator('#preview').boundingBox())!;
    t.ok(inside(preview, player), `${where}: the preview at the ${end} is inside the player`, { preview, player });
  }
}

const BASIC = ['seek', 'play', 'mute', 'time', 'settings-button', 'fullscreen', 'speed', 'quality'];

// ------------------------------------------------------------------ tests

t.test('on phones the controls fit inside the player and the preview stays inside it', async (t) => {
  const landscape = await processed(ids.landscape);
  t.equal(landscape.status, 'ready', 'the landscape clip is ready', { error: landscape.error });
  for (const viewport of [PHONE, SMALL_PHONE]) {
    const { page, pageErrors } = await openWatch(t, ids.landscape, viewport);
    await waitPlaying(page);
    const boxes = await controlBoxes(page);
    const { player } = boxes;
    t.ok(Math.abs(player.width / player.height - 16 / 9) < 0.02, `a 16:9 player at ${viewport.width} px`);
    assertControlsInside(t, boxes, viewport === PHONE ? [...BASIC, 'volume'] : BASIC);
    await page.screenshot({ path: join(shots, `player-controls-${viewport.width}.png`) });
    await page.click('#settings-button');
    await assertPreviewInside(t, page, player, `landscape at ${viewport.width} px`);
    await page.screenshot({ path: join(shots, `player-preview-${viewport.width}.png`) });
    t.same(pageErrors, [], 'no uncaught errors in the page');
  }
});

t.test('a portrait video fills a portrait player on a portrait screen', async (t) => {
  const portrait = await processed(ids.portrait);
  t.equal(portrait.status, 'ready', 'the portrait clip is ready', { error: portrait.error });
  for (const viewport of [PHONE, SMALL_PHONE]) {
    const { page, pageErrors } = await openWatch(t, portrait.id, viewport);
    await waitPlaying(page);
    const boxes = await controlBoxes(page);
    const { player } = boxes;
    t.ok(player.height > player.width, `the player is portrait at ${viewport.width} px (${player.width.toFixed(0)}x${player.height.toFixed(0)})`);
    t.ok(Math.abs(player.width / player.height - 360 / 640) < 0.02, 'with the video\'s aspect ratio');
    t.ok(player.y + player.height <= viewport.height, 'and fits the screen\'s height');
    t.ok(player.height >= viewport.height * 0.6, 'and uses most of it');
    assertControlsInside(t, boxes, BASIC);
    await page.screenshot({ path: join(shots, `player-portrait-${viewport.width}.png`) });
    await page.click('#settings-button');
    await assertPreviewInside(t, page, player, `portrait at ${viewport.width} px`);
    t.same(pageErrors, [], 'no uncaught errors in the page');
  }
});

t.test('keyboard shortcuts control the player, but not while typing', async (t) => {
  const { page, pageErrors } = await openWatch(t, ids.landscape, DESKTOP);
  await waitPlaying(page);
  const player = () => page.evaluate(() => {
    const v = (window as FramecastWindow).framecast!.video;
    return { paused: v.paused, time: v.currentTime, muted: v.muted, volume: v.volume };
  });
  await page.keyboard.press('k');
  await page.waitForFunction(() => (window as FramecastWindow).framecast!.video.paused);
  t.pass('k pauses');
  await page.keyboard.press('Space');
  await page.waitForFunction(() => !(window as FramecastWindow).framecast!.video.paused);
  t.pass('space plays');
  await page.keyboard.press('Space');
  await page.waitForFunction(() => (window as FramecastWindow).framecast!.video.paused);
  t.pass('space pauses again');

  await page.evaluate(() => ((window as FramecastWindow).framecast!.video.currentTime = 1));
  await page.waitForFunction(() => !(window as FramecastWindow).framecast!.video.seeking);
  await page.keyboard.press('ArrowRight');
  t.ok(Math.abs((await player()).time - 6) < 0.2, `ArrowRight seeks 5 s ahead (${(await player()).time.toFixed(2)})`);
  await page.keyboard.press('ArrowLeft');
  t.ok(Math.abs((await player()).time - 1) < 0.2, 'ArrowLeft seeks 5 s back');

  await page.keyboard.press('m');
  t.equal((await player()).muted, true, 'm mutes');
  t.equal(await page.getAttribute('#mute', 'aria-label'), 'Unmute', 'the mute button now says Unmute');
  await page.keyboard.press('m');
  t.equal((await player()).muted, false, 'm unmutes');
  await page.keyboard.press('ArrowDown');
  t.ok(Math.abs((await player()).volume - 0.9) < 0.001, 'ArrowDown lowers the volume');
  t.equal(Number(await page.inputValue('#volume')), 0.9, 'and the volume slider follows');
  await page.keyboard.press('ArrowUp');
  t.equal((await player()).volume, 1, 'ArrowUp raises it');

  // Count requests (whether or not headless Chromium grants them).
  await page.evaluate(() => {
    const w = window as unknown as { fullscreenRequests: number };
    w.fullscreenRequests = 0;
    const original = Element.prototype.requestFullscreen;
    Element.prototype.requestFullscreen = function (this: Element, options?: FullscreenOptions) {
      w.fullscreenRequests++;
      return original.call(this, options);
    };
  });
  await page.keyboard.press('f');
  t.equal(await page.evaluate(() => (window as unknown as { fullscreenRequests: number }).fullscreenRequests), 1, 'f requests fullscreen');
  await page.waitForFunction(() => document.fullscreenElement?.id === 'player');
  t.pass('the player goes fullscreen');
  await page.keyboard.press('f');
  await page.waitForFunction(() => document.fullscreenElement === null);
  t.pass('f again leaves fullscreen');

  const before = await player();
  await page.click('#search');
  await page.keyboard.type('km f');
  const after = await player();
  t.equal(await page.inputValue('#search'), 'km f', 'typing in the search box types');
  t.same([after.paused, after.muted], [before.paused, before.muted], 'and does not play, pause or mute');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('on a touch screen a tap brings up hidden controls before they act', async (t) => {
  const { page, pageErrors } = await openWatch(t, ids.landscape, PHONE, undefined, true);
  await waitPlaying(page);
  const opacity = () => page.evaluate(() => getComputedStyle(document.getElementById('controls')!).opacity);
  await page.waitForFunction(() => getComputedStyle(document.getElementById('controls')!).opacity === '0');
  t.pass('while playing untouched, the controls are hidden');
  const play = (await page.locator('#play').boundingBox())!;
  await page.touchscreen.tap(play.x + play.width / 2, play.y + play.height / 2);
  await page.waitForFunction(() => getComputedStyle(document.getElementById('controls')!).opacity === '1');
  t.pass('a tap where the hidden pause button is shows the controls');
  t.equal(await page.evaluate(() => (window as FramecastWindow).framecast!.video.paused), false, 'and does not pause');
  await page.touchscreen.tap(play.x + play.width / 2, play.y + play.height / 2);
  await page.waitForFunction(() => (window as FramecastWindow).framecast!.video.paused);
  t.pass('a second tap on the now visible button pauses');
  t.equal(await opacity(), '1', 'paused, the controls stay up');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('the buttons are icons with accessible names', async (t) => {
  const { page } = await openWatch(t, ids.landscape, DESKTOP);
  await waitPlaying(page);
  for (const id of ['play', 'mute', 'settings-button', 'fullscreen']) {
    const button = page.locator(`#${id}`);
    t.ok(await button.getAttribute('aria-label'), `#${id} has an aria-label`);
    t.ok(await button.getAttribute('title'), `#${id} has a title`);
    t.equal((await button.textContent())!.trim(), '', `#${id} shows an icon, not text`);
    t.equal(await button.locator('svg').count() > 0, true, `#${id} holds an inline SVG`);
  }
  t.equal(await page.getAttribute('#play', 'aria-label'), 'Pause', 'while playing, the play button says Pause');
  await page.click('#settings-button');
  await page.selectOption('#speed', '1.5');
  t.equal(await page.evaluate(() => (window as FramecastWindow).framecast!.video.playbackRate), 1.5, 'the speed menu sets the playback rate');
});

t.test('a failed video whose error is not retryable offers no Retry', async (t) => {
  const notMedia = await processed(ids.notMedia);
  t.equal(notMedia.status, 'failed', 'a text file fails processing');
  t.equal(notMedia.error.code, 'E_NOT_MEDIA');
  t.equal(notMedia.error.retryable, false, 'and the API says retrying cannot help');
  const { page, pageErrors } = await openWatch(t, notMedia.id, PHONE);
  await page.locator('#error').waitFor({ state: 'visible' });
  t.equal(await page.locator('#error-code').textContent(), 'E_NOT_MEDIA', 'the code is shown');
  t.ok(await page.locator('#retry').isHidden(), 'no Retry button');
  t.ok(await page.locator('#controls').isHidden(), 'no player controls');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('a master with two audio renditions gets an audio-track menu that switches tracks', async (t) => {
  const video = fixtureVideo('two-audio', { width: 320, height: 180 });
  const { page, pageErrors } = await openWatch(t, 'fixture-two-audio', SMALL_PHONE, { 'fixture-two-audio': video });
  await waitPlaying(page);
  const boxes = await controlBoxes(page);
  t.same(await page.locator('#audio-track option').allTextContents(), ['English', 'Français'], 'both tracks are offered, by name');
  assertControlsInside(t, boxes, [...BASIC, 'audio-track']);
  await page.screenshot({ path: join(shots, 'player-audio-menu-320.png') });
  await page.selectOption('#audio-track', { label: 'Français' });
  await page.waitForFunction(() => (window as FramecastWindow).framecast!.hls!.audioTrack === 1);
  t.pass('choosing Français switches hls.js to that track');
  const time = await page.evaluate(() => (window as FramecastWindow).framecast!.video.currentTime);
  await waitPlaying(page, time + 0.3);
  t.pass('and playback goes on');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('the audio-track menu lists what the node\'s master offers for a two-track upload', async (t) => {
  const twoTracks = await processed(ids.twoTracks);
  t.equal(twoTracks.status, 'ready', 'the two-track upload is ready', { error: twoTracks.error });
  const master = await (await fetch(new URL(twoTracks.playback.hls_url, server.url))).text();
  const offered = master.split('\n').filter((line) => line.startsWith('#EXT-X-MEDIA:') && line.includes('TYPE=AUDIO')).length;
  const { page, pageErrors } = await openWatch(t, twoTracks.id, DESKTOP);
  await waitPlaying(page);
  const tracks = await page.evaluate(() => (window as FramecastWindow).framecast!.hls!.audioTracks.length);
  t.equal(tracks, offered, `hls.js sees the master's ${offered} audio rendition(s)`);
  if (offered >= 2) {
    await page.click('#settings-button');
    t.equal(await page.locator('#audio-track option').count(), offered, 'the menu lists each of them');
    t.ok(await page.locator('#audio-track').isVisible(), 'the menu is shown');
  } else {
    t.ok(await page.locator('#audio-label').isHidden(), 'with one track there is no audio menu');
  }
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('an audio-only video shows its poster and plays', async (t) => {
  const video = fixtureVideo('audio-only', {
    width: null, height: null,
    playback: { hls_url: '/fixtures/audio-only/master.m3u8', poster_url: '/fixtures/audio-only/poster.png' },
  });
  const { page, pageErrors } = await openWatch(t, 'fixture-audio-only', PHONE, { 'fixture-audio-only': video });
  await waitPlaying(page, 1);
  const state = await page.evaluate(() => {
    const v = (window as FramecastWindow).framecast!.video;
    const r = document.getElementById('player')!.getBoundingClientRect();
    return { poster: v.getAttribute('poster'), videoWidth: v.videoWidth, error: v.error, ratio: r.width / r.height };
  });
  t.equal(state.poster, '/fixtures/audio-only/poster.png', 'the poster is shown');
  t.equal(state.videoWidth, 0, 'there is no picture to cover it');
  t.ok(Math.abs(state.ratio - 16 / 9) < 0.02, 'the player keeps a 16:9 box');
  t.equal(state.error, null, 'no media error');
  t.ok(await page.locator('#error').isHidden(), 'no error shown');
  await page.screenshot({ path: join(shots, 'player-audio-only.png') });
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('an uploaded m4a plays on its watch page, or says why not without a useless Retry', async (t) => {
  const audioOnly = await processed(ids.audioOnly);
  const { page, pageErrors } = await openWatch(t, audioOnly.id, PHONE);
  if (audioOnly.status === 'ready') {
    // Audio-only processing (the media pipeline's work) has landed: it plays over its poster.
    await waitPlaying(page, 1);
    t.equal(await page.locator('#video').getAttribute('poster'), audioOnly.playback.poster_url, 'its poster is shown');
    t.ok(await page.locator('#error').isHidden(), 'no error');
  } else {
    // Before it has: the refusal is final, and the page does not pretend otherwise.
    t.equal(audioOnly.status, 'failed', 'the node refused the audio-only file');
    t.equal(audioOnly.error.retryable, false, 'for good');
    await page.locator('#error').waitFor({ state: 'visible' });
    t.equal(await page.locator('#error-code').textContent(), audioOnly.error.code, 'the page says why');
    t.ok(await page.locator('#retry').isHidden(), 'without a Retry');
  }
  t.same(pageErrors, [], 'no uncaught errors in the page');
});
