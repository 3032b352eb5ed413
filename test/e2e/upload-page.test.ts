/**
 * The upload page (/upload) in a real headless Chromium against a real node: a generated
 * clip set on the file input uploads with tus-js-client (the bar reaches 100%), its
 * processing progress shows, then the page's embedded player plays it. An upload cut short
 * by a page reload resumes when the same file is chosen again.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { api, waitForVideo } from '../helpers/api.js';
import { SAFE_INPUT_FORMATS } from '../../core/media/ffmpeg.js';
import { DEMUXER_EXTENSIONS } from '../../core/media/upload-formats.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startPageFixture } from '../helpers/page-fixture.js';

/** What the page exposes for tests (web/assets/upload.js). */
interface UploadWindow {
  framecastUpload?: { videoId: string | null; phases: string[]; processingPercents: number[] };
}

const { server, dir, browser, shots } = await startPageFixture(t, 'upload-page');
const admin = api(server.url, server.adminToken);

async function openUpload(t: Test): Promise<{ page: Page; pageErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 1000 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${server.url}/upload`);
  return { page, pageErrors };
}

t.test('the file picker offers exactly the containers the server accepts', async (t) => {
  const { page, pageErrors } = await openUpload(t);
  const accept = (await page.getAttribute('#file', 'accept'))!.split(',');
  const allowed = SAFE_INPUT_FORMATS.flatMap((format) => DEMUXER_EXTENSIONS[format] ?? []).map((extension) => `.${extension}`);
  t.same([...accept].sort(), [...new Set(allowed)].sort(), 'accept lists the extensions of the probe\'s demuxers');
  for (const audio of ['.m4a', '.mp3', '.flac', '.wav', '.ogg']) t.ok(accept.includes(audio), `${audio} can be picked`);
  t.notOk(accept.some((entry) => entry.includes('*')), 'no video/* or audio/* wildcard offering files the server refuses');

  // A drop (or "All files" in the dialog) skips the picker's filter: the page holds it to the same list.
  await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a video') });
  t.ok(await page.locator('#start').isDisabled(), 'a .txt file is not taken');
  t.match(await page.locator('#message').textContent(), /notes\.txt is not a video or audio file/, 'and the page says why');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('a chosen file uploads, shows its processing, then plays', async (t) => {
  const clip = await makeClip(dir, { width: 640, height: 360, seconds: 5, name: 'holiday.mp4' });
  const { page, pageErrors } = await openUpload(t);
  await page.fill('#token', server.adminToken);
  await page.setInputFiles('#file', clip);
  t.match(await page.locator('#dropzone-text').textContent(), /^holiday\.mp4 \(/, 'the chosen file is named');
  await page.fill('#title', 'Holiday clip');
  await page.selectOption('#visibility', 'unlisted');
  await page.click('#start');

  await page.waitForFunction(() => document.getElementById('progress-fill')!.style.width === '100%');
  t.match(await page.locator('#progress-text').textContent(), /^100\.0% · /, 'the upload bar reaches 100%');
  await page.locator('#processing').waitFor({ state: 'visible' });
  t.pass('processing progress appears');

  const frame = page.frameLocator('#player-frame');
  await page.locator('#result').waitFor({ state: 'visible', timeout: 60_000 });
  // The iframe's navigation may commit after the result shows: wait for it, not just look.
  const player = await (await page.locator('#player-frame').elementHandle())!.contentFrame();
  t.ok(player, 'the player is embedded');
  await player!.waitForURL(/\/watch\/.+embed=1/);
  await player!.waitForFunction(() => ((window as { framecast?: { video: HTMLVideoElement } }).framecast?.video.currentTime ?? 0) > 0.5, null, {
    timeout: 60_000,
  });
  t.pass('the embedded player plays the upload');
  t.ok(await frame.locator('header.site').isHidden(), 'the embed shows the player alone');

  await page.waitForFunction(() => (window as UploadWindow).framecastUpload!.phases.includes('ready'), null, { timeout: 120_000 });
  const state = await page.evaluate(() => (window as UploadWindow).framecastUpload!);
  t.same(state.phases, ['uploading', 'processing', 'ready'], 'the page went through upload, processing, ready');
  t.ok(state.processingPercents.every((p) => p >= 0 && p <= 100), 'processing percents are percents');
  t.equal(await page.locator('#processing-text').textContent(), 'Ready', 'the processing bar ends at Ready');
  t.equal(await page.locator('#watch-link').getAttribute('href'), `/watch/${state.videoId}`, 'a link to the watch page');

  const video = await waitForVideo(admin, state.videoId!);
  t.equal(video.title, 'Holiday clip', 'the video has the title typed in');
  t.equal(video.visibility, 'unlisted', 'and the visibility chosen');
  await page.screenshot({ path: join(shots, 'upload-page.png') });
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('an upload cut short by a reload resumes when the same file is chosen again', async (t) => {
  // Big enough that a throttled connection is still sending it when the page reloads.
  const clip = await makeClip(dir, { width: 1280, height: 720, seconds: 8, name: 'long.mp4' });
  const { page, pageErrors } = await openUpload(t);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
  await page.fill('#token', server.adminToken);
  await page.setInputFiles('#file', clip);
  await page.click('#start');
  await page.waitForFunction(() => /^[1-9]\d?\.\d% /.test(document.getElementById('progress-text')!.textContent ?? ''));
  const firstId = await page.evaluate(() => (window as UploadWindow).framecastUpload!.videoId);
  t.ok(firstId, 'the upload started for a new video');

  await page.reload();
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  t.match(await page.locator('#message').textContent(), /Unfinished: long\.mp4/, 'after the reload the page names the unfinished upload');
  await page.setInputFiles('#file', clip);
  await page.click('#start');
  await page.waitForFunction(() => /Resuming/.test(document.getElementById('message')!.textContent ?? ''));
  t.pass('choosing the same file resumes it');
  await page.waitForFunction(() => (window as UploadWindow).framecastUpload!.phases.includes('processing'), null, { timeout: 60_000 });
  const resumedId = await page.evaluate(() => (window as UploadWindow).framecastUpload!.videoId);
  t.equal(resumedId, firstId, 'the same video is filled');
  const video = await waitForVideo(admin, firstId!);
  t.equal(video.status, 'ready', 'and it becomes ready', { error: video.error });
  t.equal(video.version, 1, 'from one upload, not two');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});
