/** Link previews, oEmbed answers and embed URLs (core/http/video-sharing.ts), and who may frame an embed. */
import t from 'tap';
import type { VideoView } from '../../core/catalog/videos.js';
import { embedFrameAncestors } from '../../core/http/security-headers.js';
import { embedSize, escapeHtml, oembedAnswer, parseShareUrl, siteBase, watchHead } from '../../core/http/video-sharing.js';

const BASE = 'https://video.example';

function view(fields: Partial<VideoView> = {}): VideoView {
  return {
    id: 'abcDEF123_-x',
    title: 'A "quoted" <b>title</b> & more',
    description: 'Line one\nline two https://example.com/?a=1&b=2',
    tags: ['one', 'two'],
    visibility: 'public',
    status: 'ready',
    version: 1,
    duration_ms: 61_400,
    width: 1920,
    height: 1080,
    created_at: '2026-12-01T00:00:00.000Z',
    ready_at: '2026-12-01T00:01:00.000Z',
    renditions: [
      { name: '360p', width: 640, height: 360, bitrate_kbps: 600, codecs: '' },
      { name: '1080p', width: 1920, height: 1080, bitrate_kbps: 4500, codecs: '' },
    ],
    source_dynamic_range: 'SDR',
    captions: [],
    chapters: [],
    watermark: null,
    playback: { hls_url: '/media/x/v1/master.m3u8', poster_url: '/media/x/v1/poster.jpg', thumbnail_vtt_url: null, manifest_url: null },
    ...fields,
  };
}

t.test('escapeHtml leaves no markup', async (t) => {
  t.equal(escapeHtml(`<a href="x" onclick='y'>&</a>`), '&#60;a href=&#34;x&#34; onclick=&#39;y&#39;&#62;&#38;&#60;/a&#62;');
});

t.test('the base URL is public_url when set, else the request origin', async (t) => {
  t.equal(siteBase('https://cdn.example/', { protocol: 'http', host: 'node:8080' }), 'https://cdn.example');
  t.equal(siteBase('', { protocol: 'http', host: 'node:8080' }), 'http://node:8080');
});

t.test('embed sizes keep the shape within the bounds', async (t) => {
  t.same(embedSize(view()), { width: 640, height: 360 }, '16:9 at 640 wide');
  t.same(embedSize(view({ width: 1080, height: 1920 })), { width: 360, height: 640 }, 'portrait: as tall as a landscape one is wide');
  t.same(embedSize(view({ width: null, height: null })), { width: 640, height: 360 }, 'no picture (audio): 16:9');
  t.same(embedSize(view(), { width: 320 }), { width: 320, height: 180 }, 'maxwidth');
  t.same(embedSize(view(), { height: 90 }), { width: 160, height: 90 }, 'maxheight');
});

t.test('share URLs of this site are taken apart; others are not ours', async (t) => {
  t.same(parseShareUrl(`${BASE}/watch/abc`, [BASE]), { id: 'abc', token: undefined });
  t.same(parseShareUrl(`${BASE}/embed/abc?token=1.x&t=3`, [BASE]), { id: 'abc', token: '1.x' });
  t.equal(parseShareUrl('https://evil.example/watch/abc', [BASE]), undefined, 'another host');
  t.equal(parseShareUrl(`${BASE}/watch/abc/extra`, [BASE]), undefined, 'another path');
  t.equal(parseShareUrl('not a url', [BASE]), undefined);
});

t.test('the oEmbed answer is an iframe of the embed player', async (t) => {
  const answer = oembedAnswer(view(), BASE);
  t.match(answer, {
    version: '1.0',
    type: 'video',
    title: 'A "quoted" <b>title</b> & more',
    provider_url: `${BASE}/`,
    width: 640,
    height: 360,
    thumbnail_url: `${BASE}/media/x/v1/poster.jpg`,
    thumbnail_width: 1920,
    thumbnail_height: 1080,
    duration: 61,
  });
  t.match(answer.html, `<iframe src="${BASE}/embed/abcDEF123_-x" width="640" height="360" title="A &#34;quoted&#34; &#60;b&#62;title&#60;/b&#62; &#38; more"`);
  t.match(oembedAnswer(view(), BASE, { token: '123.abc' }).html, '/embed/abcDEF123_-x?token=123.abc"', 'a signed embed keeps its token');
  t.notOk('thumbnail_url' in oembedAnswer(view({ playback: { hls_url: null, poster_url: null, thumbnail_vtt_url: null, manifest_url: null } }), BASE), 'no poster yet: no thumbnail');
});

t.test('the watch head: escaped tags, a player card, noindex for unlisted', async (t) => {
  const head = watchHead(view(), BASE);
  t.match(head, '<title>A &#34;quoted&#34; &#60;b&#62;title&#60;/b&#62; &#38; more · Framecast</title>');
  t.notMatch(head, '<b>', 'no markup from the title');
  t.match(head, '<meta property="og:description" content="Line one line two https://example.com/?a=1&#38;b=2">');
  t.match(head, `<meta property="og:image" content="${BASE}/media/x/v1/poster.jpg">`);
  t.match(head, `<meta property="og:video:secure_url" content="${BASE}/embed/abcDEF123_-x">`, 'https: a secure video URL');
  t.match(head, '<meta name="twitter:card" content="player">');
  t.match(head, '<meta property="video:duration" content="61">');
  t.match(head, `href="${BASE}/oembed?url=${encodeURIComponent(`${BASE}/watch/abcDEF123_-x`)}&#38;format=json"`);
  t.notMatch(head, 'noindex', 'public: indexable');
  t.match(watchHead(view({ visibility: 'unlisted' }), BASE), '<meta name="robots" content="noindex">', 'unlisted: not indexed');
  const long = watchHead(view({ description: 'x'.repeat(500) }), BASE);
  t.match(long, `content="${'x'.repeat(199)}…"`, 'long descriptions are cut');
});

t.test('who may frame an embed', async (t) => {
  t.same(embedFrameAncestors(['*'], true), ['*'], 'default: anyone');
  t.same(embedFrameAncestors(['https://a.example', 'https://*.b.example'], true), ["'self'", 'https://a.example', 'https://*.b.example']);
  t.same(embedFrameAncestors(['*'], false), ["'self'"], 'a private video without its signed URL: this site only');
});
