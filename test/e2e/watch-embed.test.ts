/**
 * The watch page as people share it and others embed it, against a real node and a real
 * headless Chromium, on five small videos (one shared transcode each, one node, one browser):
 *  - the watch page at 390×844 and 1280×800 shows the description (its link clickable, its
 *    HTML left as text), tags, view count, publish date, related videos (same tag first),
 *    a picture-in-picture button that works, and fits the screen;
 *  - "copy link at current time" gives a ?t= link that starts there, while a plain visit
 *    still resumes where the viewer left off;
 *  - the embed player plays inside an iframe of another origin (another 127.0.0.1 port) with
 *    ?autoplay=1&muted=1&t=, sending the same telemetry, while frame-ancestors
 *    (`embed.allowed_origins`) refuses an origin not allowed; a private video is framed
 *    elsewhere only through its signed URL;
 *  - GET /oembed answers oEmbed 1.0 JSON (404 unknown, 401 private without a signed URL, 501
 *    for xml), found through the watch page's discovery link beside OpenGraph/Twitter tags;
 *  - GET /v1/videos/:id/related ranks same-tag videos first.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startPageFixture } from '../helpers/page-fixture.js';
import { freePort } from '../helpers/server.js';

/** What the page exposes for tests (web/assets/watch.js). */
interface FramecastWindow {
  framecast?: { video: HTMLVideoElement };
}

/** A page of another site that frames `?src=`: two of them, on two ports, are two origins. */
async function startHostSite(port: number): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const src = new URL(req.url ?? '/', 'http://host').searchParams.get('src') ?? '';
    const attr = src.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>host</title><h1>A blog</h1>
<iframe id="player" src="${attr}" width="640" height="360" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen></iframe>`);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${port}`, server };
}

const [allowedPort, otherPort] = [await freePort(), await freePort()];
const ALLOWED = `http://127.0.0.1:${allowedPort}`;
const { server, dir, browser, shots } = await startPageFixture(t, 'watch-embed', { config: { embed: { allowed_origins: [ALLOWED] } } });
const allowedSite = await startHostSite(allowedPort);
const otherSite = await startHostSite(otherPort);
t.teardown(() => {
  allowedSite.server.close();
  otherSite.server.close();
});
const admin = api(server.url, server.adminToken);
const anonymous = api(server.url, null);

const DESCRIPTION =
  'Shot from the pier.\nMap: https://example.com/harbor?spot=pier&x=1 <img src=x onerror="window.pwned=1">\nBest part at 0:03.';

/** Creates a video with its fields, then uploads the clip to it. */
async function makeVideo(fields: Record<string, unknown>, clip: string): Promise<string> {
  const created = await admin.json('POST', '/v1/videos', fields);
  if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  await tusUpload(server.url, clip, { token: server.adminToken, metadata: { video_id: created.body.id, filename: 'clip.mp4' } });
  return created.body.id as string;
}

const longClip = await makeClip(dir, { width: 320, height: 180, seconds: 6, name: 'long.mp4' });
const shortClip = await makeClip(dir, { width: 320, height: 180, seconds: 1, name: 'short.mp4' });
// Oldest first: "newest first" among equals must not explain the related order.
const ids = {
  sameTag: await makeVideo({ title: 'Morning boats', tags: ['Harbor', 'boats'] }, shortClip),
  titleWord: await makeVideo({ title: 'Sunset over the hills', tags: ['nature'] }, shortClip),
  unrelated: await makeVideo({ title: 'Kitchen "recipe" <script>alert(1)</script>', tags: ['food'] }, shortClip),
  secret: await makeVideo({ title: 'Harbor secret', tags: ['harbor'], visibility: 'private' }, shortClip),
  main: await makeVideo({ title: 'Harbor sunset timelapse', description: DESCRIPTION, tags: ['harbor', 'timelapse'] }, longClip),
};
// One after the other, each with its own bound: the node processes them one at a time.
const videos = {} as Record<keyof typeof ids, any>;
for (const [name, id] of Object.entries(ids) as [keyof typeof ids, string][]) videos[name] = await waitForVideo(admin, id, undefined, 240_000);
/** The private video's signed playback token, as its signed media URLs carry it. */
const secretToken = new URL(videos.secret.playback.hls_url, server.url).searchParams.get('token')!;

t.test('the five videos are ready', async (t) => {
  for (const [name, video] of Object.entries(videos)) t.equal(video.status, 'ready', name, { error: video.error });
  t.ok(secretToken, 'the private video has signed URLs');
});

// ------------------------------------------------------------------ API

t.test('GET /v1/videos/:id/related ranks same-tag videos first, then shared title words, then the rest', async (t) => {
  const r = await anonymous.json('GET', `/v1/videos/${ids.main}/related`);
  t.equal(r.status, 200);
  t.equal(r.body.next_cursor, null, 'one bounded page');
  const order = r.body.items.map((v: { id: string }) => v.id);
  t.same(order, [ids.sameTag, ids.titleWord, ids.unrelated], 'same tag, then title word, then trending/newest; never itself nor a private video');
  t.ok(r.body.items[0].playback.poster_url, 'items have the GET /v1/videos/:id shape');
  const limited = await anonymous.json('GET', `/v1/videos/${ids.main}/related?limit=1`);
  t.same(limited.body.items.map((v: { id: string }) => v.id), [ids.sameTag], 'limit');
  t.equal((await anonymous.json('GET', `/v1/videos/${ids.secret}/related`)).status, 404, 'a private video is not found by others');
  t.equal((await anonymous.json('GET', '/v1/videos/nope-nope-no/related')).status, 404, 'unknown video: 404');
});

t.test('GET /oembed answers oEmbed 1.0 video JSON, with the right refusals', async (t) => {
  const watch = `${server.url}/watch/${ids.main}`;
  const r = await fetch(`${server.url}/oembed?url=${encodeURIComponent(watch)}&format=json`);
  t.equal(r.status, 200);
  t.match(r.headers.get('content-type'), /^application\/json/);
  const body = (await r.json()) as Record<string, any>;
  t.match(body, { version: '1.0', type: 'video', title: 'Harbor sunset timelapse', provider_name: 'Framecast', width: 640, height: 360 });
  t.equal(body.provider_url, `${server.url}/`);
  t.match(body.html, new RegExp(`^<iframe src="${server.url}/embed/${ids.main}" width="640" height="360" `), 'html is an iframe of the embed player');
  const thumbnail = await fetch(body.thumbnail_url);
  t.equal(thumbnail.status, 200, 'thumbnail_url serves');
  t.equal(thumbnail.headers.get('content-type'), 'image/jpeg');
  t.same([body.thumbnail_width, body.thumbnail_height], [320, 180], 'thumbnail size is the poster size');

  const small = (await (await fetch(`${server.url}/oembed?url=${encodeURIComponent(watch)}&maxwidth=320`)).json()) as Record<string, number>;
  t.same([small.width, small.height], [320, 180], 'maxwidth bounds the embed, keeping the shape');
  const embedUrl = (await (await fetch(`${server.url}/oembed?url=${encodeURIComponent(`${server.url}/embed/${ids.main}`)}`)).json()) as Record<string, string>;
  t.equal(embedUrl.title, 'Harbor sunset timelapse', 'an embed URL works too');

  const status = async (url: string, extra = '') => (await fetch(`${server.url}/oembed?url=${encodeURIComponent(url)}${extra}`)).status;
  t.equal(await status(`${server.url}/watch/AAAAAAAAAAAA`), 404, 'unknown video: 404');
  t.equal(await status(`https://elsewhere.example/watch/${ids.main}`), 404, "another site's URL: 404");
  t.equal(await status(`${server.url}/upload`), 404, 'not a video URL: 404');
  t.equal(await status(watch, '&format=xml'), 501, 'xml: 501 Not Implemented');
  t.equal(await status(`${server.url}/watch/${ids.secret}`), 401, 'private video without a signed URL: 401');
  t.equal(await status(`${server.url}/watch/${ids.secret}?token=1.${'x'.repeat(43)}`), 401, 'with a forged token: 401');
  const signed = await fetch(`${server.url}/oembed?url=${encodeURIComponent(`${server.url}/embed/${ids.secret}?token=${secretToken}`)}`);
  t.equal(signed.status, 200, 'with its signed URL: 200');
  t.match(((await signed.json()) as { html: string }).html, `/embed/${ids.secret}?token=${encodeURIComponent(secretToken)}`, 'whose iframe carries the token');
  t.equal(signed.headers.get('cache-control'), 'private, no-store');
});

t.test('watch pages carry escaped OpenGraph/Twitter tags and the oEmbed discovery link; private ones nothing', async (t) => {
  const html = await (await fetch(`${server.url}/watch/${ids.main}`)).text();
  t.match(html, '<title>Harbor sunset timelapse · Framecast</title>');
  t.match(html, `<meta property="og:url" content="${server.url}/watch/${ids.main}">`);
  t.match(html, `<meta property="og:video:url" content="${server.url}/embed/${ids.main}">`);
  t.match(html, '<meta name="twitter:card" content="player">');
  t.match(html, /<meta property="og:image" content="http:\/\/127\.0\.0\.1:\d+\/media\/[^"]+\/poster\.jpg">/);
  t.match(html, '<meta property="og:description" content="Shot from the pier. Map: https://example.com/harbor?spot=pier&#38;x=1 &#60;img src=x onerror=&#34;window.pwned=1&#34;&#62; Best part at 0:03.">', 'description escaped, on one line');
  const discovery = /<link rel="alternate" type="application\/json\+oembed" href="([^"]+)"/.exec(html);
  t.ok(discovery, 'the discovery link is there');
  const oembed = await fetch(discovery![1]!.replace(/&#38;/g, '&'));
  t.equal(oembed.status, 200, 'and answers');

  const scripted = await (await fetch(`${server.url}/watch/${ids.unrelated}`)).text();
  t.notMatch(scripted, '<script>alert(1)</script>', 'a title is never markup');
  t.match(scripted, '<meta property="og:title" content="Kitchen &#34;recipe&#34; &#60;script&#62;alert(1)&#60;/script&#62;">');

  const secret = await (await fetch(`${server.url}/watch/${ids.secret}`)).text();
  t.notMatch(secret, 'Harbor secret', "a private video's page does not name it");
  t.notMatch(secret, 'og:title');
});

t.test('embed pages: frame-ancestors from embed.allowed_origins; a private video only with its signed URL', async (t) => {
  const csp = async (path: string) => (await fetch(server.url + path)).headers.get('content-security-policy') ?? '';
  t.match(await csp(`/embed/${ids.main}`), `frame-ancestors 'self' ${ALLOWED}`, 'public: the allowed origins');
  t.match(await csp(`/embed/${ids.secret}`), /frame-ancestors 'self'$/, 'private without a token: this site only');
  t.match(await csp(`/embed/${ids.secret}?token=${secretToken}`), `frame-ancestors 'self' ${ALLOWED}`, 'private with its signed URL: the allowed origins');
  t.match(await csp(`/watch/${ids.main}`), "frame-ancestors 'none'", 'the watch page itself is never framed');
  t.equal((await anonymous.json('GET', `/v1/videos/${ids.secret}`)).status, 404, 'the private video is hidden from others…');
  const viaToken = await anonymous.json('GET', `/v1/videos/${ids.secret}?token=${secretToken}`);
  t.equal(viaToken.status, 200, '…but readable with its signed token (what its embed does)');
  t.equal((await anonymous.json('GET', `/v1/videos/${ids.main}?token=${secretToken}`)).status, 200, 'a token of another video changes nothing for a public one');
  t.equal((await anonymous.json('GET', `/v1/videos/${ids.secret}?token=1.${'x'.repeat(43)}`)).status, 404, 'a forged token shows nothing');
});

// ------------------------------------------------------------------ pages

async function newContext(t: Test, viewport: { width: number; height: number }): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport });
  t.teardown(() => context.close());
  return context;
}

async function openPage(context: BrowserContext, url: string): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(url);
  return { page, pageErrors };
}

async function waitPlaying(target: Page | Frame, past: number): Promise<void> {
  await target.waitForFunction((past) => {
    const video = (window as FramecastWindow).framecast?.video;
    return video !== undefined && !video.paused && video.currentTime > past;
  }, past, { timeout: 30_000 });
}

const currentTime = (page: Page) => page.evaluate(() => (window as FramecastWindow).framecast!.video.currentTime);

for (const viewport of [{ width: 390, height: 844 }, { width: 1280, height: 800 }]) {
  t.test(`the watch page at ${viewport.width}×${viewport.height}: details, related videos, picture-in-picture`, async (t) => {
    const context = await newContext(t, viewport);
    const { page, pageErrors } = await openPage(context, `${server.url}/watch/${ids.main}`);
    await waitPlaying(page, 0.2);
    await page.locator('#related-list li').first().waitFor();
    await page.locator('#views').waitFor();

    const link = page.locator('#description a[href^="https://"]');
    t.equal(await link.getAttribute('href'), 'https://example.com/harbor?spot=pier&x=1', 'the address in the description is a link');
    t.equal(await link.getAttribute('target'), '_blank');
    t.match(await link.getAttribute('rel'), /nofollow.*noopener/, 'an untrusted link: nofollow, noopener');
    t.equal(await page.locator('#description img').count(), 0, 'the HTML in the description is not markup…');
    t.match(await page.locator('#description').textContent(), '<img src=x onerror="window.pwned=1">', '…but text');
    t.equal(await page.evaluate(() => (window as { pwned?: number }).pwned), undefined, 'and never ran');

    t.same(await page.locator('#tags a').allTextContents(), ['#harbor', '#timelapse'], 'the tags');
    t.equal(await page.locator('#tags a').first().getAttribute('href'), '/?q=harbor', 'each searches the library');
    t.match(await page.locator('#views').textContent(), /^\d[\d,]* views?$/, 'the view count');
    t.equal(await page.locator('#published').getAttribute('datetime'), videos.main.ready_at, 'the publish date');
    t.match(await page.locator('#published').textContent(), /\d{4}/, 'shown as a date');

    const related = await page.locator('#related-list a').evaluateAll((links) => links.map((a) => (a as HTMLElement).dataset.videoId));
    t.same(related, [ids.sameTag, ids.titleWord, ids.unrelated], 'related videos, same tag first');
    t.match(await page.locator('#related-list .related-title').nth(2).textContent(), '<script>alert(1)</script>', 'a related title is text');

    const geometry = await page.evaluate(() => {
      const box = (id: string) => document.getElementById(id)!.getBoundingClientRect().toJSON() as DOMRect;
      return { scroll: document.documentElement.scrollWidth, width: innerWidth, player: box('player'), related: box('related'), info: box('description'), pip: box('pip'), fullscreen: box('fullscreen') };
    });
    t.ok(geometry.scroll <= geometry.width, `nothing runs off the side (${geometry.scroll} ≤ ${geometry.width})`);
    for (const id of ['pip', 'fullscreen'] as const) {
      const b = geometry[id];
      t.ok(b.left >= geometry.player.left && b.right <= geometry.player.right + 0.5, `#${id} lies inside the player`);
    }
    if (viewport.width >= 1200) t.ok(geometry.related.left >= geometry.player.right, 'wide: related videos beside the player');
    else t.ok(geometry.related.top >= geometry.info.bottom, 'narrow: related videos below the description');

    t.ok(await page.locator('#pip').isVisible(), 'a picture-in-picture button');
    await page.click('#pip');
    await page.waitForFunction(() => document.pictureInPictureElement === (window as FramecastWindow).framecast!.video);
    t.equal(await page.locator('#pip').getAttribute('aria-label'), 'Exit picture in picture', 'it enters picture-in-picture');
    await page.click('#pip');
    await page.waitForFunction(() => document.pictureInPictureElement === null);
    t.pass('and leaves it');

    await page.screenshot({ path: join(shots, `watch-details-${viewport.width}.png`), fullPage: true });
    t.same(pageErrors, [], 'no uncaught errors in the page');
  });
}

t.test('"copy link at current time" gives a ?t= link that starts there; a plain visit still resumes', async (t) => {
  const context = await newContext(t, { width: 1280, height: 800 });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  const { page, pageErrors } = await openPage(context, `${server.url}/watch/${ids.main}`);
  await waitPlaying(page, 2);
  await page.evaluate(() => (window as FramecastWindow).framecast!.video.pause());
  const at = Math.floor(await currentTime(page));
  await page.click('#copy-link');
  await page.locator('#share-url').waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  t.equal(copied, `${server.url}/watch/${ids.main}?t=${at}`, `the clipboard holds the watch link at ${at} s`);
  t.equal(await page.locator('#share-url').inputValue(), copied, 'and the page shows it');

  // Leave off later than the link's time: the link must win over the resume position.
  await page.evaluate(() => {
    const v = (window as FramecastWindow).framecast!.video;
    v.currentTime = 4.5;
  });
  await page.waitForFunction(() => Math.abs((window as FramecastWindow).framecast!.video.currentTime - 4.5) < 0.3);
  await page.close();

  const shared = await openPage(context, copied);
  await shared.page.waitForFunction(() => ((window as FramecastWindow).framecast?.video.currentTime ?? 0) > 0, null, { timeout: 30_000 });
  const start = await currentTime(shared.page);
  t.ok(start >= at - 0.3 && start < at + 1.5, `the ?t= link starts at ${at} s (at ${start.toFixed(2)} s)`);
  t.ok(await shared.page.locator('#resume').isHidden(), 'without offering to resume elsewhere');
  await shared.page.evaluate(() => (window as FramecastWindow).framecast!.video.pause());
  await shared.page.evaluate(() => {
    const v = (window as FramecastWindow).framecast!.video;
    v.currentTime = 4.5;
  });
  await shared.page.waitForFunction(() => Math.abs((window as FramecastWindow).framecast!.video.currentTime - 4.5) < 0.3);
  await shared.page.close();

  const plain = await openPage(context, `${server.url}/watch/${ids.main}`);
  await plain.page.waitForFunction(() => ((window as FramecastWindow).framecast?.video.currentTime ?? 0) > 0, null, { timeout: 30_000 });
  const resumed = await currentTime(plain.page);
  t.ok(resumed >= 4 && resumed < 6, `a plain visit resumes where the viewer left off (${resumed.toFixed(2)} s)`);
  t.equal(await plain.page.locator('#resume-text').textContent(), 'Resumed at 0:04', 'and says so');
  t.same([...pageErrors, ...shared.pageErrors, ...plain.pageErrors], [], 'no uncaught errors in the pages');
});

/** Opens a page of a host site framing `src`; resolves with the page and the frame's outcome. */
async function frameOn(t: Test, site: string, src: string) {
  const context = await newContext(t, { width: 800, height: 600 });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const refusals: string[] = [];
  page.on('console', (msg) => {
    if (/frame-ancestors/.test(msg.text())) refusals.push(msg.text());
  });
  const events: { type: string; video_id: string }[] = [];
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url() === `${server.url}/v1/events`) events.push(...((req.postDataJSON() as { events: { type: string; video_id: string }[] }).events ?? []));
  });
  await page.goto(`${site}/?src=${encodeURIComponent(src)}`);
  const frame = await (await page.waitForSelector('#player')).contentFrame();
  return { page, frame: frame!, refusals, events };
}

t.test('the embed player plays inside an iframe on another origin, with ?autoplay=1&muted=1&t=', async (t) => {
  const { page, frame, events } = await frameOn(t, allowedSite.origin, `${server.url}/embed/${ids.main}?autoplay=1&muted=1&t=2`);
  await waitPlaying(frame, 2.2);
  const state = await frame.evaluate(() => {
    const v = (window as FramecastWindow).framecast!.video;
    return { muted: v.muted, origin: location.origin, top: window.top === window };
  });
  t.equal(state.origin, server.url, 'the player is on the node');
  t.not(allowedSite.origin, server.url, 'another origin than the host page');
  t.equal(state.top, false, 'inside the frame');
  t.equal(state.muted, true, 'muted=1');
  t.ok(await frame.locator('header.site').isHidden(), 'the player alone: no site header');
  t.ok(await frame.locator('#related').isHidden(), 'nor details');
  t.equal(await frame.locator('#embed-title').getAttribute('href'), `/watch/${ids.main}`, 'its title links to the watch page');
  // The same telemetry as the watch page: a view of this video, from the frame.
  await t.resolves(
    waitUntil(() => events.some((e) => e.type === 'view_start' && e.video_id === ids.main), 'a view_start event'),
    'the embed sends view_start telemetry',
  );
  await page.screenshot({ path: join(shots, 'embed-cross-origin.png') });
});

t.test('an embed without ?autoplay waits for a click', async (t) => {
  const { frame } = await frameOn(t, allowedSite.origin, `${server.url}/embed/${ids.main}`);
  await frame.locator('#play').waitFor({ state: 'visible' });
  t.equal(await frame.evaluate(() => (window as FramecastWindow).framecast!.video.paused), true, 'paused at first');
  await frame.click('#play');
  await waitPlaying(frame, 0.2);
  t.pass('plays after the click');
});

t.test('frame-ancestors refuses an origin not allowed, and a private video framed without its signed URL', async (t) => {
  for (const [what, site, src] of [
    ['a site not in embed.allowed_origins', otherSite.origin, `${server.url}/embed/${ids.main}?autoplay=1&muted=1`],
    ['a private video without its signed URL', allowedSite.origin, `${server.url}/embed/${ids.secret}?autoplay=1&muted=1`],
  ] as const) {
    const { frame, refusals } = await frameOn(t, site, src);
    await t.resolves(waitUntil(() => refusals.length > 0, 'a frame-ancestors refusal'), `${what}: Chromium refuses to frame it`);
    t.equal(await frame.evaluate(() => (window as FramecastWindow).framecast === undefined).catch(() => true), true, 'no player runs in the frame');
  }
  const { frame } = await frameOn(t, allowedSite.origin, `${server.url}/embed/${ids.secret}?token=${secretToken}&autoplay=1&muted=1`);
  await waitPlaying(frame, 0.3);
  t.pass('the private video plays in a frame of an allowed site through its signed URL');
});

/** Waits (at most 30 s) until `done()` says yes: what the browser reports arrives on its own time. */
async function waitUntil(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
