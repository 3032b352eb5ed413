/**
 * The library page (/) in a real headless Chromium against a real node: ready public videos
 * appear with posters that load, titles and durations; the search box narrows the grid;
 * unlisted and private videos stay out for anonymous visitors; "Load more" pages on; with an
 * API token saved in the browser, a video still processing shows a placeholder with its
 * progress that turns into a playable card.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { besideBrowser } from '../helpers/page-fixture.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const [server, browser] = await besideBrowser(startServer(), (node) => node.stop());
const dir = await mkdtemp(join(tmpdir(), 'framecast-library-'));
const shots = process.env.FRAMECAST_SCREENSHOT_DIR ?? dir;
let mediaStopped = 0;
t.teardown(async () => {
  // A stopped media process would never drain on SIGTERM.
  if (mediaStopped) process.kill(mediaStopped, 'SIGCONT');
  await browser.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);
const clip = await makeClip(dir, { width: 640, height: 360, seconds: 3 });

async function uploadVideo(body: { title: string; description?: string; tags?: string[]; visibility?: string }): Promise<string> {
  const created = await admin.json('POST', '/v1/videos', body);
  await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', video_id: created.body.id } });
  return created.body.id as string;
}

const lighthouse = await uploadVideo({ title: 'Lighthouse at dawn', description: 'Waves and a slow sunrise' });
const lake = await uploadVideo({ title: 'Mountain lake', tags: ['nature', 'timelapse'] });
const rehearsal = await uploadVideo({ title: 'Unlisted rehearsal', visibility: 'unlisted' });
const diary = await uploadVideo({ title: 'Private diary', visibility: 'private' });
for (const id of [lighthouse, lake, rehearsal, diary]) {
  const v = await waitForVideo(admin, id);
  if (v.status !== 'ready') throw new Error(`${v.title} did not become ready: ${JSON.stringify(v.error)}`);
}

/** A fresh page (own storage); `token` is saved in localStorage before any script runs. */
async function openLibrary(t: Test, path = '/', token?: string): Promise<{ page: Page; pageErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  t.teardown(() => context.close());
  if (token) await context.addInitScript((value) => localStorage.setItem('framecast.token', value), token);
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(server.url + path);
  return { page, pageErrors };
}

/** Title → what its card shows. */
async function cards(page: Page): Promise<Record<string, { status: string; duration: string | null; badge: string | null }>> {
  return page.$$eval('#grid .card', (els) =>
    Object.fromEntries(
      els.map((el) => {
        const visible = (selector: string) => {
          const node = el.querySelector<HTMLElement>(selector);
          return node && !node.hidden ? node.textContent : null;
        };
        return [el.querySelector('.card-title')!.textContent!, { status: (el as HTMLElement).dataset.status!, duration: visible('.duration'), badge: visible('.visibility') }];
      }),
    ),
  );
}

/** Waits until every poster image in the grid has loaded and decoded. */
async function postersLoaded(page: Page): Promise<number[]> {
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll<HTMLImageElement>('#grid .card img:not([hidden])')).every((img) => img.complete && img.naturalWidth > 0),
  );
  return page.$$eval('#grid .card img:not([hidden])', (imgs) => imgs.map((img) => (img as HTMLImageElement).naturalWidth));
}

t.test('anonymous visitors see ready public videos with posters, titles and durations', async (t) => {
  const { page, pageErrors } = await openLibrary(t);
  await page.locator('#grid .card').nth(1).waitFor();
  await page.waitForFunction(() => document.getElementById('grid')!.getAttribute('aria-busy') === null);
  t.same(await cards(page), {
    'Mountain lake': { status: 'ready', duration: '0:03', badge: null },
    'Lighthouse at dawn': { status: 'ready', duration: '0:03', badge: null },
  }, 'the two public videos, with their durations; unlisted and private ones are absent');
  const order = await page.locator('#grid .card-title').allTextContents();
  t.same(order, ['Mountain lake', 'Lighthouse at dawn'], 'newest first');
  const widths = await postersLoaded(page);
  t.equal(widths.length, 2, 'each card has a poster');
  t.ok(widths.every((w) => w > 0), 'every poster image loaded');
  t.equal(await page.locator('#grid .card').first().getAttribute('href'), `/watch/${lake}`, 'a card links to its watch page');
  t.ok(await page.locator('#more').isHidden(), 'no "Load more" when everything is shown');
  await page.screenshot({ path: join(shots, 'library.png') });
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('the search box narrows the grid, and says when nothing matches', async (t) => {
  const { page, pageErrors } = await openLibrary(t);
  await page.locator('#grid .card').nth(1).waitFor();
  await page.fill('#search', 'TIMELAPSE');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 1);
  t.same(await page.locator('#grid .card-title').allTextContents(), ['Mountain lake'], 'a tag match, whatever the case');
  t.match(await page.locator('#heading').textContent(), /TIMELAPSE/, 'the heading names the search');
  t.equal(new URL(page.url()).searchParams.get('q'), 'TIMELAPSE', 'the address keeps the search');

  await page.fill('#search', 'rehearsal');
  await page.locator('#empty').waitFor({ state: 'visible' });
  t.equal(await page.locator('#grid .card').count(), 0, 'an unlisted video is not found by anonymous visitors');
  t.match(await page.locator('#empty-title').textContent(), /No videos match/, 'the empty state says so');
  await page.screenshot({ path: join(shots, 'library-search-empty.png') });

  await page.fill('#search', '');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 2);
  t.ok(await page.locator('#empty').isHidden(), 'clearing the search brings the library back');

  const direct = await openLibrary(t, '/?q=lighthouse');
  await direct.page.locator('#grid .card').first().waitFor();
  t.same(await direct.page.locator('#grid .card-title').allTextContents(), ['Lighthouse at dawn'], '/?q= opens with the search done');
  t.equal(await direct.page.inputValue('#search'), 'lighthouse', 'and the box holds the words');
  t.same([...pageErrors, ...direct.pageErrors], [], 'no uncaught errors in the pages');
});

t.test('"Load more" follows next_cursor', async (t) => {
  const { page } = await openLibrary(t, '/?limit=1');
  await page.locator('#grid .card').first().waitFor();
  t.equal(await page.locator('#grid .card').count(), 1, 'one card per page');
  await page.locator('#more').click();
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 2);
  t.same(await page.locator('#grid .card-title').allTextContents(), ['Mountain lake', 'Lighthouse at dawn'], 'the next page is appended');
  await page.locator('#more').waitFor({ state: 'hidden' });
  t.pass('"Load more" goes away at the end');
});

t.test('with a saved token, a processing video shows its progress, then becomes a card', async (t) => {
  // Holding the media process keeps the next video in processing for as long as the test looks.
  mediaStopped = await server.mediaPid();
  process.kill(mediaStopped, 'SIGSTOP');
  const pendingId = await uploadVideo({ title: 'Still processing' });
  const { page, pageErrors } = await openLibrary(t, '/', server.adminToken);
  const pending = page.locator(`#grid .card[data-id="${pendingId}"]`);
  await pending.waitFor();
  t.equal(await pending.getAttribute('data-status'), 'processing', 'the video is processing');
  t.match(await pending.locator('.pending-stage').textContent(), /^(Queued|Inspecting|Transcoding|Publishing) \d+%$/, 'the placeholder shows stage and percent');
  t.ok(await pending.locator('.meter').isVisible(), 'and a progress meter');
  t.same((await cards(page))['Private diary'], { status: 'ready', duration: '0:03', badge: 'Private' }, 'the token holder sees private videos');
  t.same((await cards(page))['Unlisted rehearsal'], { status: 'ready', duration: '0:03', badge: 'Unlisted' }, 'and unlisted ones');
  const widths = await postersLoaded(page);
  t.equal(widths.length, 4, 'the four ready videos show posters (the private one through its signed URL)');
  await page.screenshot({ path: join(shots, 'library-processing.png') });

  process.kill(mediaStopped, 'SIGCONT');
  mediaStopped = 0;
  await page.waitForFunction((id) => document.querySelector(`#grid .card[data-id="${id}"]`)?.getAttribute('data-status') === 'ready', pendingId, {
    timeout: 120_000,
  });
  t.equal(await pending.locator('.duration').textContent(), '0:03', 'once ready, the card shows its duration');
  t.equal((await postersLoaded(page)).length, 5, 'and its poster');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});

t.test('pages are revalidated; their versioned assets are cached for a year', async (t) => {
  const html = await fetch(`${server.url}/`);
  t.equal(html.headers.get('cache-control'), 'no-cache', 'the page is no-cache');
  const etag = html.headers.get('etag');
  t.ok(etag, 'with an ETag');
  // As a browser revalidates (fetch() would add `no-cache`, which asks for a full answer).
  const revalidated = await fetch(`${server.url}/`, { headers: { 'if-none-match': etag!, 'cache-control': 'max-age=0' } });
  t.equal(revalidated.status, 304, 'and revalidates to 304');
  const assets = [...(await html.text()).matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
  t.ok(assets.length >= 3, 'the page refers to its stylesheet, icon and script');
  for (const path of assets) {
    t.match(path, /^\/assets\/[0-9a-f]{12}\//, `${path} is versioned`);
    const r = await fetch(server.url + path);
    t.equal(r.status, 200, `${path} is served`);
    t.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable', `${path} is immutable`);
  }
  const version = assets[0]!.split('/')[2]!;
  for (const vendor of ['hls.min.js', 'tus.min.js']) {
    const r = await fetch(`${server.url}/assets/vendor/${vendor}`);
    t.equal(r.status, 200, `the unversioned /assets/vendor/${vendor} still works`);
    t.equal((await fetch(`${server.url}/assets/${version}/vendor/${vendor}`)).headers.get('cache-control'), 'public, max-age=31536000, immutable', `and is versioned too`);
  }
  const stale = await fetch(`${server.url}/assets/000000000000/library.js`);
  t.equal(stale.status, 200, 'an asset asked for under another version is still served');
  t.equal(stale.headers.get('cache-control'), 'no-cache', 'but not cached under that name');
  const gz = await fetch(`${server.url}${assets.find((p) => p.endsWith('.js'))}`, { headers: { 'accept-encoding': 'br' } });
  t.equal(gz.headers.get('content-encoding'), 'br', 'scripts are compressed for clients that take it');
  for (const path of ['/assets/%2e%2e/package.json', '/assets/..%2fpackage.json', `/assets/${version}/../index.html`, '/assets/nope.js']) {
    t.equal((await fetch(server.url + path)).status, 404, `${path} is a 404`);
  }
});
