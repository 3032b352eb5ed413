import t from 'tap';
import { parseFfmpegVersion, safeInputArgs } from '../../core/media/ffmpeg.js';
import {
  growingPlaylist,
  parseMasterPlaylist,
  parseMediaPlaylist,
  vodPlaylist,
} from '../../core/media/playlists.js';
import { parseRational, readRotation } from '../../core/media/probe.js';
import { storyboardTileCount, storyboardVtt } from '../../core/media/storyboard.js';
import { fpsRational, keyintFor } from '../../core/media/transcode-command.js';

const EVENT = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init_240p.mp4"
#EXTINF:2.000000,
seg-00000.m4s
#EXTINF:2.000000,
seg-00001.m4s
`;

const MASTER = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_aud",NAME="audio_2",DEFAULT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=470800,RESOLUTION=426x240,CODECS="avc1.64c015,mp4a.40.2",AUDIO="group_aud"
240p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=140800,CODECS="mp4a.40.2",AUDIO="group_aud"
audio/index.m3u8
`;

t.test('a media playlist is parsed into init, segments and end state', async (t) => {
  const p = parseMediaPlaylist(EVENT);
  t.equal(p.initUri, 'init_240p.mp4');
  t.same(p.segments, [
    { uri: 'seg-00000.m4s', duration: 2 },
    { uri: 'seg-00001.m4s', duration: 2 },
  ]);
  t.equal(p.ended, false);
  t.equal(parseMediaPlaylist(vodPlaylist(EVENT)).ended, true);
});

t.test('a growing playlist starts players at 0; the VOD one is final', async (t) => {
  const growing = growingPlaylist(EVENT);
  t.match(growing, /^#EXTM3U\n#EXT-X-START:TIME-OFFSET=0\n/);
  t.equal(growingPlaylist(growing), growing, 'idempotent');
  const vod = vodPlaylist(growing);
  t.match(vod, /#EXT-X-PLAYLIST-TYPE:VOD/);
  t.notMatch(vod, /EVENT|EXT-X-START/);
  t.match(vod, /#EXT-X-ENDLIST\n$/);
  t.equal(vodPlaylist(vod), vod, 'idempotent');
  t.match(vodPlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.m4s\n'), /TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD/);
});

t.test('a master playlist lists variants with their attributes and the audio group', async (t) => {
  const m = parseMasterPlaylist(MASTER);
  t.same(m.variants[0], {
    uri: '240p/index.m3u8',
    bandwidth: 470800,
    width: 426,
    height: 240,
    codecs: 'avc1.64c015,mp4a.40.2',
    audioGroup: 'group_aud',
  });
  t.same(m.media, [{ type: 'AUDIO', groupId: 'group_aud', name: 'audio_2', uri: 'audio/index.m3u8' }]);
});

t.test('storyboard cues cover the whole duration with real tile sizes', async (t) => {
  const layout = { interval_s: 2, tile_width: 160, tile_height: 90, columns: 2, rows: 2, sheets: 2 };
  const vtt = storyboardVtt(9_500, layout);
  const cues = [...vtt.matchAll(/(\S+) --> (\S+)\n(\S+)/g)].map((m) => [m[1], m[2], m[3]]);
  t.equal(cues.length, 5);
  t.same(cues[0], ['00:00:00.000', '00:00:02.000', 'sprite-0.jpg#xywh=0,0,160,90']);
  t.same(cues[3], ['00:00:06.000', '00:00:08.000', 'sprite-0.jpg#xywh=160,90,160,90']);
  t.same(cues[4], ['00:00:08.000', '00:00:09.500', 'sprite-1.jpg#xywh=0,0,160,90']);
  t.equal(storyboardTileCount(4000, 2), 2);
  t.equal(storyboardTileCount(4001, 2), 3);
  t.equal(storyboardTileCount(100, 2), 1);
});

t.test('ffmpeg versions parse, Debian style included', async (t) => {
  t.same(parseFfmpegVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026'), { version: '5.1.9-0+deb12u1', major: 5 });
  t.same(parseFfmpegVersion('ffmpeg version n6.1.1 Copyright'), { version: 'n6.1.1', major: 6 });
  t.same(parseFfmpegVersion('ffmpeg version 4.4.2-0ubuntu0.22.04.1'), { version: '4.4.2-0ubuntu0.22.04.1', major: 4 });
  t.equal(parseFfmpegVersion('ffmpeg version N-109562-gabc')?.major, 99);
  t.equal(parseFfmpegVersion('hello'), null);
});

t.test('untrusted inputs are opened with whitelists and a file: URL', async (t) => {
  const args = safeInputArgs('a:b.mp4');
  t.equal(args[args.indexOf('-protocol_whitelist') + 1], 'file');
  const formats = args[args.indexOf('-format_whitelist') + 1]?.split(',') ?? [];
  t.ok(formats.includes('mov') && formats.includes('matroska'));
  for (const bad of ['hls', 'concat', 'image2', 'png_pipe', 'lavfi', 'tty', 'dash', 'gif']) t.notOk(formats.includes(bad), bad);
  t.match(args.at(-1), /^file:\/.*a:b\.mp4$/);
  t.equal(args.at(-2), '-i');
});

t.test('frame rates, GOPs and rotations', async (t) => {
  t.equal(parseRational('30000/1001')?.toFixed(3), '29.970');
  t.equal(parseRational('0/0'), null);
  t.equal(fpsRational(29.97), '30000/1001');
  t.equal(fpsRational(23.976), '24000/1001');
  t.equal(fpsRational(30), '30');
  t.equal(fpsRational(12.5), '12.5');
  t.equal(keyintFor(29.97, 2), 60);
  t.equal(keyintFor(25, 2), 50);
  t.equal(readRotation({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] }), 90);
  t.equal(readRotation({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: 90 }] }), 270);
  t.equal(readRotation({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: 180 }] }), 180);
  t.equal(readRotation({ tags: { rotate: '90' } }), 90);
  t.equal(readRotation({}), 0);
});
