/**
 * The watch page in a real headless Chromium against a real node: a clip uploaded with
 * tus-js-client becomes a video that really plays at /watch/:id, with one quality-menu
 * entry per rendition and storyboard previews on the seek bar; a failed video shows its
 * error code and a Retry button.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { launchBrowser } from '../helpers/browser.js';
import { makeClip, makeTextFile } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

/** What the page exposes for tests (web/assets/watch.js). */
interface FramecastWindow {
  framecast?: {
    video: HTMLVideoElement;
    hls: { levels: { height: number }[]; currentLevel: number } | null;
  };
}

const server = await startServer();
const dir = await mkdtemp(join(tmpdir(), 'framecast-watch-'));
const browser = await launchBrowser();
t.teardown(async () => {
  await browser.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const anonymous = api(server.url, null);

/** Opens a page; `pageErrors` collects the page's uncaught exceptions. */
async function openPage(t: Test, path: string): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1024, height: 720 } });
  t.teardown(() => page.close());
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(server.url + path);
  return { page, pageErrors };
}

t.test('an uploaded clip plays on its watch page', async (t) => {
  const clip = await makeClip(dir, { width: 640, height: 360, seconds: 4 });
  const upload = await tusUpload(server.url, clip, {
    token: server.adminToken,
    metadata: { filename: 'clip.mp4', title: 'Watch page clip' },
  });
  t.ok(upload.videoId, 'the creation response names the video');
  const video = await waitForVideo(anonymous, upload.videoId!);
  t.equal(video.status, 'ready', 'the video becomes ready', { error: video.error });

  const { page, pageErrors } = await openPage(t, `/watch/${upload.videoId}`);
  await page.waitForFunction(
    () => ((window as FramecastWindow).framecast?.video.currentTime ?? 0) > 1,
    null,
    { timeout: 30_000 },
  );
  t.pass('the video plays past 1 s');

  const player = await page.evaluate(() => {
    const { hls, video } = (window as FramecastWindow).framecast!;
    return { levels: hls?.levels.length ?? null, paused: video.paused, error: video.error?.code ?? null };
  });
  t.equal(player.levels, video.renditions.length, 'hls.js sees every rendition');
  t.equal(player.error, null, 'the media element has no error');
  t.ok(await page.locator('#error').isHidden(), 'no error message is shown');
  t.equal(await page.locator('#title').textContent(), 'Watch page clip', 'the title is shown');

  const qualities = await page.locator('#quality option').allTextContents();
  t.equal(qualities.length, video.renditions.length + 1, 'the quality menu has Auto and each rendition');
  t.match(qualities[0], /^Auto/, 'Auto comes first');
  const byHeight = [...video.renditions].sort((a: { height: number }, b: { height: number }) => b.height - a.height);
  t.same(qualities.slice(1), byHeight.map((r: { name: string }) => r.name), 'renditions listed from the highest');

  const lowest = byHeight.at(-1)!.name as string;
  await page.selectOption('#quality', { label: lowest });
  const chosen = await page.evaluate(() => {
    const hls = (window as FramecastWindow).framecast!.hls!;
    return hls.levels[hls.currentLevel]?.height;
  });
  t.equal(`${chosen}p`, lowest, 'choosing a quality switches hls.js to that level');

  // Hovering the seek bar shows the storyboard tile for that time, from the server's VTT.
  const seek = await page.locator('#seek').boundingBox();
  t.ok(seek, 'the seek bar is on screen');
  await page.mouse.move(seek!.x + seek!.width * 0.5, seek!.y + seek!.height / 2);
  await page.waitForFunction(() => document.getElementById('preview-tile')!.style.backgroundImage.includes('sprite-'));
  t.ok(await page.locator('#preview').isVisible(), 'the storyboard preview is visible');

  const screenshot = process.env.FRAMECAST_SCREENSHOT_DIR ? join(process.env.FRAMECAST_SCREENSHOT_DIR, 'watch-page.png') : join(dir, 'watch-page.png');
  await page.screenshot({ path: screenshot });
  t.ok((await stat(screenshot)).size > 0, 'a screenshot was taken');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('a video that failed processing shows its error code and a Retry button', async (t) => {
  const text = await makeTextFile(dir);
  const upload = await tusUpload(server.url, text, {
    token: server.adminToken,
    metadata: { filename: 'notes.mp4', title: 'Not a video' },
  });
  const video = await waitForVideo(anonymous, upload.videoId!);
  t.equal(video.status, 'failed', 'a text file fails processing');

  const { page, pageErrors } = await openPage(t, `/watch/${upload.videoId}`);
  await page.locator('#error').waitFor({ state: 'visible' });
  t.equal(await page.locator('#error-code').textContent(), video.error.code, 'the code is shown');
  t.ok(await page.locator('#retry').isVisible(), 'Retry is offered');
  t.ok(await page.locator('#controls').isHidden(), 'no player controls for a video that cannot play');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});
