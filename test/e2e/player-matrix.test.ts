/*
 * The browser half of the player matrix: hls.js, Shaka (HLS and DASH), dash.js and video.js
 * (HLS and DASH) in headless Chromium play ONE ready video from a real node. Each player
 * is forced onto the lowest and then the highest rendition (through its own API, with small
 * buffers so a switch shows at once): that rendition's segments must be fetched and playback
 * must go on. Then it seeks to the middle and plays to the end, faster than real time.
 * The libraries come from node_modules (page.addScriptTag), the page from a test-only route
 * on the node's origin: nothing is added to the product.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { besideBrowser } from '../helpers/page-fixture.js';
import { startPlayerFixture, type PlayedRendition } from '../helpers/player-fixture.js';
import { REPO_ROOT } from '../helpers/server.js';
import { eventually } from '../helpers/readiness.js';

// Chromium starts while the node prepares the video.
const [fixture, browser] = await besideBrowser(startPlayerFixture(), (f) => f.close());
t.teardown(async () => {
  await browser.close();
  await fixture.close();
});

/** Faster than real time, so a whole play-through stays short. */
const PLAYBACK_RATE = 2;

/** The page-side driver: one adapter per player, the same small surface for the test. */
const DRIVER = `
window.matrix = (() => {
  const video = document.querySelector('video');
  const errors = [];
  video.addEventListener('error', () => errors.push('media element error ' + (video.error && video.error.code)));
  const until = (ok) => new Promise((resolve) => { const tick = () => (ok() ? resolve() : setTimeout(tick, 50)); tick(); });
  const adapters = {
    async hlsjs(url) {
      const hls = new Hls({ maxBufferLength: 2, maxMaxBufferLength: 3, backBufferLength: 2 });
      hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) errors.push('hls.js ' + d.details); });
      hls.loadSource(url);
      hls.attachMedia(video);
      await new Promise((r) => hls.once(Hls.Events.MANIFEST_PARSED, r));
      return {
        heights: () => hls.levels.map((l) => l.height),
        // currentLevel flushes the buffer and switches now (nextLevel would wait).
        force: (h) => { hls.currentLevel = hls.levels.findIndex((l) => l.height === h); },
      };
    },
    async shaka(url) {
      shaka.polyfill.installAll();
      const player = new shaka.Player();
      await player.attach(video);
      player.configure({ abr: { enabled: false }, streaming: { bufferingGoal: 2, rebufferingGoal: 1, bufferBehind: 2 } });
      player.addEventListener('error', (e) => errors.push('shaka ' + e.detail.code));
      await player.load(url);
      const tracks = () => player.getVariantTracks();
      return {
        heights: () => [...new Set(tracks().map((v) => v.height))],
        force: (h) => player.selectVariantTrack(tracks().find((v) => v.height === h), true),
      };
    },
    async dashjs(url) {
      const player = dashjs.MediaPlayer().create();
      player.updateSettings({ streaming: {
        abr: { autoSwitchBitrate: { video: false, audio: false } },
        buffer: { bufferTimeDefault: 2, bufferTimeAtTopQuality: 2, bufferTimeAtTopQualityLongForm: 2, bufferToKeep: 2 },
      } });
      player.on('error', (e) => errors.push('dash.js ' + JSON.stringify(e.error && (e.error.message || e.error.code))));
      const ready = new Promise((r) => player.on('streamInitialized', r));
      player.initialize(video, url, false);
      await ready;
      const reps = () => player.getRepresentationsByType('video');
      return {
        heights: () => reps().map((r) => r.height),
        force: (h) => player.setRepresentationForTypeById('video', reps().find((r) => r.height === h).id, true),
      };
    },
    async videojs(url, type) {
      videojs.Vhs.GOAL_BUFFER_LENGTH = 2;
      videojs.Vhs.MAX_GOAL_BUFFER_LENGTH = 3;
      const player = videojs(video, { html5: { vhs: { overrideNative: true } }, muted: true });
      player.on('error', () => errors.push('video.js ' + JSON.stringify(player.error())));
      player.src({ src: url, type });
      const levels = player.qualityLevels();
      await until(() => levels.length > 0);
      const list = () => Array.from({ length: levels.length }, (_, i) => levels[i]);
      return {
        heights: () => list().map((l) => l.height),
        // Disabling every other level makes VHS switch now (fastQualityChange).
        force: (h) => list().forEach((l) => { l.enabled = l.height === h; }),
      };
    },
  };
  let adapter = null;
  return {
    async start(kind, url, type, rate) {
      video.muted = true;
      adapter = await adapters[kind](url, type);
      video.playbackRate = rate;
      video.addEventListener('loadeddata', () => { video.playbackRate = rate; });
      await video.play().catch((e) => errors.push('play(): ' + e.message));
      return adapter.heights();
    },
    force: (h) => adapter.force(h),
    state: () => ({
      currentTime: video.currentTime,
      duration: video.duration,
      ended: video.ended,
      paused: video.paused,
      seeking: video.seeking,
      errors: errors.slice(),
    }),
    seek: (to) => { video.currentTime = to; },
  };
})();
`;

interface PlayerState {
  currentTime: number;
  duration: number;
  ended: boolean;
  paused: boolean;
  seeking: boolean;
  errors: string[];
}

interface PlayerCase {
  name: string;
  kind: 'hlsjs' | 'shaka' | 'dashjs' | 'videojs';
  scripts: string[];
  manifest: 'hls' | 'dash';
  type?: string;
}

const PLAYERS: PlayerCase[] = [
  { name: 'hls.js', kind: 'hlsjs', scripts: ['hls.js/dist/hls.min.js'], manifest: 'hls' },
  { name: 'Shaka (HLS)', kind: 'shaka', scripts: ['shaka-player/dist/shaka-player.compiled.js'], manifest: 'hls' },
  { name: 'Shaka (DASH)', kind: 'shaka', scripts: ['shaka-player/dist/shaka-player.compiled.js'], manifest: 'dash' },
  { name: 'dash.js', kind: 'dashjs', scripts: ['dashjs/dist/modern/umd/dash.all.min.js'], manifest: 'dash' },
  { name: 'video.js (HLS)', kind: 'videojs', scripts: ['video.js/dist/video.min.js'], manifest: 'hls', type: 'application/x-mpegURL' },
  { name: 'video.js (DASH)', kind: 'videojs', scripts: ['video.js/dist/video.min.js'], manifest: 'dash', type: 'application/dash+xml' },
];

/** A test-only page on the node's origin (same origin as the media: no CORS in play). */
const PAGE_PATH = '/__player-matrix.html';

async function openPlayerPage(t: Test, scripts: string[]): Promise<{ page: Page; segmentRequests: string[] }> {
  const page = await browser.newPage();
  t.teardown(() => page.close());
  const segmentRequests: string[] = [];
  page.on('request', (r) => {
    if (/\/seg-\d+\.m4s/.test(r.url())) segmentRequests.push(new URL(r.url()).pathname);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') t.comment(`console: ${m.text()}`);
  });
  await page.route(`${fixture.server.url}${PAGE_PATH}`, (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><html><body><video width="640" height="360"></video></body></html>' }),
  );
  await page.goto(`${fixture.server.url}${PAGE_PATH}`);
  for (const script of scripts) await page.addScriptTag({ path: join(REPO_ROOT, 'node_modules', script) });
  await page.addScriptTag({ content: DRIVER });
  return { page, segmentRequests };
}

const state = (page: Page): Promise<PlayerState> => page.evaluate(() => (window as any).matrix.state());

/** Forces a rendition and waits until its segments arrive and the playhead moves on after them. */
async function switchTo(t: Test, page: Page, segmentRequests: string[], rendition: PlayedRendition): Promise<void> {
  const seen = segmentRequests.length;
  await page.evaluate((h) => (window as any).matrix.force(h), rendition.height);
  const marker = `/${rendition.name}/seg-`;
  await eventually(async () => segmentRequests.slice(seen).some((u) => u.includes(marker)), Boolean, `segments of ${rendition.name} requested`, 20_000);
  t.pass(`${rendition.name} segments are fetched after the switch`);
  const at = (await state(page)).currentTime;
  const after = await eventually(() => state(page), (s) => s.currentTime >= Math.min(at + 0.5, fixture.duration_s - 0.3) || s.errors.length > 0, `playback goes on on ${rendition.name}`, 20_000);
  t.same(after.errors, [], `playback goes on on ${rendition.name}`);
}

t.test('the ladder has three renditions', async (t) => {
  t.equal(fixture.renditions.length, 3);
});

for (const player of PLAYERS) {
  t.test(`${player.name} plays the video, switches to the lowest and highest rendition, seeks and reaches the end`, async (t) => {
    const { page, segmentRequests } = await openPlayerPage(t, player.scripts);
    const url = player.manifest === 'hls' ? fixture.hlsUrl : fixture.dashUrl;
    const heights: number[] = await page.evaluate(
      ([kind, u, type, rate]) => (window as any).matrix.start(kind, u, type, rate),
      [player.kind, url, player.type ?? '', PLAYBACK_RATE] as const,
    );
    t.same([...heights].sort((a, b) => a - b), fixture.renditions.map((r) => r.height), 'the player sees every rendition');
    await eventually(() => state(page), (s) => s.currentTime > 0.2 || s.errors.length > 0, 'playback starts', 20_000);

    await switchTo(t, page, segmentRequests, fixture.lowest);
    await switchTo(t, page, segmentRequests, fixture.highest);

    const middle = Math.round(fixture.duration_s / 2);
    await page.evaluate((to) => (window as any).matrix.seek(to), middle);
    const sought = await eventually(() => state(page), (s) => (!s.seeking && s.currentTime > middle + 0.3) || s.errors.length > 0, 'playback goes on after the seek', 20_000);
    t.ok(sought.currentTime > middle && sought.currentTime < fixture.duration_s, `plays on from the middle (${sought.currentTime.toFixed(2)} s)`);

    const end = await eventually(
      () => state(page),
      (s) => s.ended || s.currentTime >= fixture.duration_s - 0.3 || s.errors.length > 0,
      'playback reaches the end',
      30_000,
    );
    t.same(end.errors, [], 'no player or media error');
    t.ok(end.currentTime >= fixture.duration_s - 0.3, `reaches the end (${end.currentTime.toFixed(2)} of ${fixture.duration_s} s)`);
  });
}
