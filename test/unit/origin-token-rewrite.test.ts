import t from 'tap';
import { rewritableFormat, rewriteChildUris, withToken } from '../../core/origin/token-rewrite.js';

const TOKEN = '1800000000.ip.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ';

t.test('withToken only touches relative URIs and keeps fragments', async (t) => {
  t.equal(withToken('240p/index.m3u8', TOKEN), `240p/index.m3u8?token=${TOKEN}`);
  t.equal(withToken('sprite-0.jpg#xywh=0,0,160,90', TOKEN), `sprite-0.jpg?token=${TOKEN}#xywh=0,0,160,90`);
  t.equal(withToken('seg.m4s?x=1', TOKEN), `seg.m4s?x=1&token=${TOKEN}`);
  t.equal(withToken('seg.m4s?token=old', TOKEN), 'seg.m4s?token=old', 'an existing token is kept');
  for (const foreign of ['https://cdn.example/seg.m4s', '//cdn.example/seg.m4s', 'data:text/plain,x', 'skd://key']) {
    t.equal(withToken(foreign, TOKEN), foreign, foreign);
  }
});

t.test('HLS: variant and media URI lines and URI attributes', async (t) => {
  const master = `#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="a",URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.42c015,mp4a.40.2",AUDIO="aud"
240p/index.m3u8

#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="240p/iframes.m3u8"
`;
  const out = rewriteChildUris('m3u8', master, TOKEN);
  for (const want of [`URI="audio/index.m3u8?token=${TOKEN}"`, `\n240p/index.m3u8?token=${TOKEN}\n`, `URI="240p/iframes.m3u8?token=${TOKEN}"`]) {
    t.match(out, want);
  }
  t.match(out, 'CODECS="avc1.42c015,mp4a.40.2"', 'other attributes untouched');
  const media = '#EXTM3U\r\n#EXT-X-MAP:URI="init_240p.mp4"\r\n#EXTINF:2.0,\r\nseg-00000.m4s\r\n#EXT-X-ENDLIST\r\n';
  t.equal(
    rewriteChildUris('m3u8', media, TOKEN),
    `#EXTM3U\r\n#EXT-X-MAP:URI="init_240p.mp4?token=${TOKEN}"\r\n#EXTINF:2.0,\r\nseg-00000.m4s?token=${TOKEN}\r\n#EXT-X-ENDLIST\r\n`,
    'CRLF playlists keep their line ends',
  );
});

t.test('DASH: SegmentList, SegmentTemplate and BaseURL', async (t) => {
  const mpd = [
    '<Initialization sourceURL="240p/init_240p.mp4"/>',
    '<SegmentURL media="240p/seg-00000.m4s"/>',
    '<SegmentTemplate initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s"/>',
    '<BaseURL>video/?a=1</BaseURL>',
    '<BaseURL>https://cdn.example/</BaseURL>',
  ].join('\n');
  const out = rewriteChildUris('mpd', mpd, TOKEN);
  for (const want of [
    `sourceURL="240p/init_240p.mp4?token=${TOKEN}"`,
    `media="240p/seg-00000.m4s?token=${TOKEN}"`,
    `media="chunk-$RepresentationID$-$Number%05d$.m4s?token=${TOKEN}"`,
    `initialization="init-$RepresentationID$.m4s?token=${TOKEN}"`,
  ]) {
    t.match(out, want);
  }
  t.match(out, `<BaseURL>video/?a=1&amp;token=${TOKEN}</BaseURL>`, 'XML-escaped separator');
  t.match(out, '<BaseURL>https://cdn.example/</BaseURL>');
});

t.test('VTT: sprite cues get the token, text cues do not', async (t) => {
  const vtt = 'WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsprite-0.jpg#xywh=0,0,160,90\n\n00:00:02.000 --> 00:00:04.000\nHello there\n';
  const out = rewriteChildUris('vtt', vtt, TOKEN);
  t.match(out, `sprite-0.jpg?token=${TOKEN}#xywh=0,0,160,90`);
  t.match(out, '\nHello there\n');
  t.match(out, /^WEBVTT\n\n00:00:00\.000 --> 00:00:02\.000\n/);
});

t.test('formats by extension', async (t) => {
  t.equal(rewritableFormat('240p/index.m3u8'), 'm3u8');
  t.equal(rewritableFormat('master.mpd'), 'mpd');
  t.equal(rewritableFormat('storyboard.vtt'), 'vtt');
  t.equal(rewritableFormat('seg-00000.m4s'), undefined);
});
