/**
 * The watch page in a real headless Chromium against a real node: a clip uploaded with
 * tus-js-client becomes a video that really plays at /watch/:id, with one quality-menu
 * entry per rendition (in the settings panel) and storyboard previews on the seek bar; a
 * failed video shows its error code, without Retry when its error is not retryable.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip, makeTextFile } from '../helpers/media-fixtures.js';
import { startPageFixture } from '../helpers/page-fixture.js';

/** What the page exposes for tests (web/assets/watch.js). */
interface FramecastWindow {
  framecast?: {
    video: HTMLVideoElement;
    hls: { levels: { height: number }[]; currentLevel: number } | null;
  };
}

const { server, dir, browser } = await startPageFixture(t, 'watch');
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

  await page.waitForFunction(() => /^Auto \(\d+p\)$/.test(document.querySelector('#quality option')?.textContent ?? ''));
  t.pass('Auto names the level it is playing');

  const lowest = byHeight.at(-1)!.name as string;
  await page.click('#settings-button');
  await page.selectOption('#quality', { label: lowest });
  // hls.js reports the new level once the switch happened (its buffer is flushed and refilled).
  await page
    .waitForFunction((height) => {
      const hls = (window as FramecastWindow).framecast!.hls!;
      return hls.levels[hls.currentLevel]?.height === height;
    }, Number.parseInt(lowest, 10), { timeout: 10_000 })
    .catch(() => undefined);
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

  // Dragging along the seek bar keeps the preview following the pointer, then seeks there.
  const seekY = seek!.y + seek!.height / 2;
  await page.mouse.move(seek!.x + seek!.width * 0.2, seekY);
  await page.mouse.down();
  await page.mouse.move(seek!.x + seek!.width * 0.75, seekY, { steps: 5 });
  const dragged = await page.evaluate(() => ({
    visible: !document.getElementById('preview')!.hidden,
    tile: document.getElementById('preview-tile')!.style.backgroundImage,
    time: document.getElementById('preview-time')!.textContent,
    played: parseFloat(document.getElementById('seek-played')!.style.width),
  }));
  t.ok(dragged.visible, 'the preview shows while dragging');
  t.match(dragged.tile, /sprite-/, 'with a storyboard tile');
  t.equal(dragged.time, '0:03', 'for the time under the pointer (75% of 4 s)');
  t.ok(dragged.played > 70 && dragged.played < 80, `the played bar follows the drag (${dragged.played}%)`);
  const shotDir = process.env.FRAMECAST_SCREENSHOT_DIR ?? dir;
  await page.screenshot({ path: join(shotDir, 'watch-page-drag.png') });
  await page.mouse.up();
  await page.waitForFunction(() => Math.abs((window as FramecastWindow).framecast!.video.currentTime - 3) < 1);
  t.pass('letting go seeks there');

  const screenshot = join(shotDir, 'watch-page.png');
  await page.screenshot({ path: screenshot });
  t.ok((await stat(screenshot)).size > 0, 'a screenshot was taken');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('a video that failed processing shows its error code, and no Retry when retrying cannot help', async (t) => {
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
  t.equal(video.error.retryable, false, 'the API says E_NOT_MEDIA is not retryable');
  t.ok(await page.locator('#retry').isHidden(), 'so Retry is not offered');
  t.ok(await page.locator('#controls').isHidden(), 'no player controls for a video that cannot play');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('a returning viewer resumes where they left off', async (t) => {
  const clip = await makeClip(dir, { width: 640, height: 360, seconds: 8, name: 'resume.mp4' });
  const upload = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'resume.mp4', title: 'Resume me' } });
  const video = await waitForVideo(anonymous, upload.videoId!);
  t.equal(video.status, 'ready');

  const { page, pageErrors } = await openPage(t, `/watch/${upload.videoId}`);
  const currentTime = () => page.evaluate(() => (window as FramecastWindow).framecast!.video.currentTime);
  await page.waitForFunction(() => ((window as FramecastWindow).framecast?.video.currentTime ?? 0) >= 2, null, { timeout: 30_000 });
  await page.evaluate(() => (window as FramecastWindow).framecast!.video.pause());
  const leftAt = await currentTime();
  t.ok(await page.locator('#resume').isHidden(), 'a first visit starts at the beginning, without a resume notice');

  await page.reload();
  await page.waitForFunction(() => {
    const video = (window as FramecastWindow).framecast?.video;
    return video !== undefined && !video.paused && video.currentTime > 0;
  }, null, { timeout: 30_000 });
  const resumedAt = await currentTime();
  t.ok(resumedAt >= leftAt - 0.5 && resumedAt < leftAt + 1.5, `playback resumes near ${leftAt.toFixed(2)} s (at ${resumedAt.toFixed(2)} s)`);
  t.equal(await page.locator('#resume-text').textContent(), 'Resumed at 0:02', 'the viewer is told');

  await page.click('#start-over');
  await page.waitForFunction(() => (window as FramecastWindow).framecast!.video.currentTime < 1.5);
  t.pass('"Start over" goes back to the beginning');
  t.equal(await page.evaluate((id) => localStorage.getItem(`framecast.resume.${id}`), upload.videoId), null, 'and forgets the position');

  // Watched to the end: the next visit starts over.
  await page.evaluate(() => {
    const v = (window as FramecastWindow).framecast!.video;
    v.currentTime = v.duration - 0.3;
  });
  await page.waitForFunction(() => (window as FramecastWindow).framecast!.video.ended, null, { timeout: 30_000 });
  await page.reload();
  await page.waitForFunction(() => ((window as FramecastWindow).framecast?.video.currentTime ?? 0) > 0, null, { timeout: 30_000 });
  t.ok((await currentTime()) < 1.5, 'after watching to the end, the next visit starts at the beginning');
  t.ok(await page.locator('#resume').isHidden(), 'without a resume notice');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});
