/*
 * The HLS master and MPD writers on synthetic ladders: several audio tracks with a surround
 * companion, audio-only and video-only versions. Masters must pass hls-parser's strict mode.
 */
import * as HLS from 'hls-parser';
import t from 'tap';
import { buildDashManifest, numberTemplate, type DashAudioRepresentation, type DashVideoRepresentation } from '../../core/media/dash-manifest.js';
import { readInitTimescale, readInitVideoCodec, readSegmentTiming } from '../../core/media/fmp4.js';
import { buildHlsMaster, languageTag, type MasterAudio, type MasterVideo } from '../../core/media/hls-master.js';
import type { AudioRenditionInfo } from '../../core/media/types.js';

HLS.setOptions({ strictMode: true });

function video(height: number, peakBps: number): MasterVideo {
  const width = Math.round((height * 16) / 9 / 2) * 2;
  return { uri: `${height}p/index.m3u8`, width, height, frameRate: 29.97, videoRange: 'SDR', codecs: 'avc1.64001f', peakBps, averageBps: peakBps * 0.8 };
}

function audio(info: Partial<AudioRenditionInfo> & Pick<AudioRenditionInfo, 'name'>, peakBps: number): MasterAudio {
  return {
    info: { track: 0, language: 'und', label: info.name, channels: 2, default: false, codecs: 'mp4a.40.2', bitrate_kbps: 128, ...info },
    uri: `${info.name}/index.m3u8`,
    peakBps,
    averageBps: peakBps * 0.9,
  };
}

const VIDEO = [video(480, 1_200_000), video(240, 400_000), video(360, 700_000)];
const ENGLISH = audio({ name: 'audio-0', language: 'eng', label: 'English', default: true }, 130_000);
const FRENCH = audio({ name: 'audio-1', track: 1, language: 'fre', label: 'Français' }, 140_000);
const SURROUND = audio({ name: 'audio-0-surround', language: 'eng', label: 'English 5.1', channels: 6, default: true, codecs: 'ec-3' }, 390_000);

t.test('languages become BCP 47 tags', async (t) => {
  t.same(['eng', 'fre', 'ger', 'und', '', 'not a tag!'].map(languageTag), ['en', 'fr', 'de', 'und', 'und', 'und']);
});

t.test('a ladder with two languages and a surround track: every variant is complete and strict', async (t) => {
  const text = buildHlsMaster({ video: VIDEO, audio: [ENGLISH, FRENCH, SURROUND] });
  const master = HLS.parse(text) as HLS.types.MasterPlaylist;
  t.ok(master.isMasterPlaylist);
  t.equal(master.variants.length, 6, 'each video rendition once per audio group (stereo AAC, 5.1 E-AC-3)');
  for (const v of master.variants) {
    t.ok(v.resolution && v.frameRate === 29.97 && v.codecs && v.averageBandwidth, `${v.uri} has RESOLUTION, FRAME-RATE, CODECS, AVERAGE-BANDWIDTH`);
  }
  t.match(text, /VIDEO-RANGE=SDR/);
  const stereo = master.variants.filter((v) => v.codecs === 'avc1.64001f,mp4a.40.2');
  t.same(stereo.map((v) => v.uri), ['240p/index.m3u8', '360p/index.m3u8', '480p/index.m3u8'], 'stereo variants first, smallest first');
  t.same(stereo.map((v) => v.bandwidth), [540_000, 840_000, 1_340_000], 'BANDWIDTH = video peak + the largest peak of its group');
  t.same(master.variants.filter((v) => v.codecs === 'avc1.64001f,ec-3').map((v) => v.bandwidth), [790_000, 1_090_000, 1_590_000]);

  const tracks = stereo[0]!.audio;
  t.same(
    tracks.map((a) => [a.name, a.language, a.isDefault, a.channels, a.uri]),
    [
      ['English', 'en', true, '2', 'audio-0/index.m3u8'],
      ['Français', 'fr', false, '2', 'audio-1/index.m3u8'],
    ],
  );
  t.same(master.variants[3]!.audio.map((a) => [a.language, a.channels, a.isDefault]), [['en', '6', true]]);
});

t.test('an audio-only version lists one variant per audio group and no video attributes', async (t) => {
  const text = buildHlsMaster({ video: [], audio: [ENGLISH, FRENCH, SURROUND] });
  const master = HLS.parse(text) as HLS.types.MasterPlaylist;
  t.same(
    master.variants.map((v) => [v.uri, v.codecs, v.bandwidth]),
    [
      ['audio-0/index.m3u8', 'mp4a.40.2', 140_000],
      ['audio-0-surround/index.m3u8', 'ec-3', 390_000],
    ],
  );
  t.notMatch(text, /RESOLUTION|FRAME-RATE|VIDEO-RANGE/);
});

t.test('a video without audio has no audio group', async (t) => {
  const master = HLS.parse(buildHlsMaster({ video: VIDEO, audio: [] })) as HLS.types.MasterPlaylist;
  t.equal(master.variants.length, 3);
  t.ok(master.variants.every((v) => v.audio.length === 0 && v.codecs === 'avc1.64001f'));
  t.equal(master.variants[0]!.bandwidth, 400_000);
});

t.test('segment names become a SegmentTemplate number pattern', async (t) => {
  t.same(numberTemplate(['seg-00000.m4s', 'seg-00001.m4s', 'seg-00002.m4s']), { media: 'seg-$Number%05d$.m4s', startNumber: 0 });
  t.same(numberTemplate(['s7.m4s', 's8.m4s']), { media: 's$Number%01d$.m4s', startNumber: 7 });
  t.equal(numberTemplate(['seg-00000.m4s', 'seg-00002.m4s']), null, 'a gap cannot be addressed by number');
  t.equal(numberTemplate(['intro.m4s']), null);
});

function dashVideo(height: number, bandwidth: number): DashVideoRepresentation {
  const id = `${height}p`;
  return {
    id,
    initialization: `${id}/init_${id}.mp4`,
    media: `${id}/seg-$Number%05d$.m4s`,
    startNumber: 0,
    timescale: 15360,
    segments: [0, 1, 2].map((i) => ({ start: i * 30720, duration: 30720 })).concat({ start: 92160, duration: 15360 }),
    bandwidth,
    codecs: 'avc1.64001f',
    width: Math.round((height * 16) / 9 / 2) * 2,
    height,
  };
}

function dashAudio(info: MasterAudio['info'], bandwidth: number): DashAudioRepresentation {
  return {
    ...dashVideo(0, bandwidth),
    id: info.name,
    initialization: `${info.name}/init_${info.name}.mp4`,
    media: `${info.name}/seg-$Number%05d$.m4s`,
    timescale: 48000,
    segments: [{ start: 0, duration: 96256 }, { start: 96256, duration: 96256 }, { start: 192512, duration: 48853 }],
    codecs: info.codecs,
    language: info.language,
    label: info.label,
    channels: info.channels,
    default: info.default,
    sampleRate: 48000,
  };
}

t.test('the MPD is a live-profile SegmentTemplate MPD with real languages, rates and timelines', async (t) => {
  const mpd = buildDashManifest({
    duration_ms: 7000,
    frameRate: '30000/1001',
    segmentSeconds: 2,
    video: [dashVideo(360, 700_000), dashVideo(240, 400_000)],
    audio: [dashAudio(ENGLISH.info, 130_000), dashAudio(FRENCH.info, 140_000), dashAudio({ ...SURROUND.info, codecs: 'mp4a.40.2' }, 390_000)],
  });
  t.match(mpd, /profiles="urn:mpeg:dash:profile:isoff-live:2011"/);
  t.notMatch(mpd, /SegmentList|isoff-on-demand/);
  t.match(mpd, /<Representation id="240p" bandwidth="400000" codecs="avc1.64001f" width="426" height="240" frameRate="30000\/1001"/);
  t.ok(mpd.indexOf('id="240p"') < mpd.indexOf('id="360p"'), 'representations from the lowest bandwidth');
  t.match(
    mpd,
    '<SegmentTemplate timescale="15360" initialization="240p/init_240p.mp4" media="240p/seg-$Number%05d$.m4s" startNumber="0">',
  );
  t.match(mpd, '<SegmentTimeline><S t="0" d="30720" r="2"/><S d="15360"/></SegmentTimeline>');
  const sets = mpd.split('<AdaptationSet').slice(1);
  t.equal(sets.length, 3, 'video, English (stereo + 5.1 AAC), French');
  t.match(sets[1], /lang="en"/);
  t.match(sets[1], /<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"\/>/);
  t.match(sets[1], /<Label>English<\/Label>/);
  t.equal(sets[1]!.match(/<Representation /g)?.length, 2, 'the surround AAC is a bitrate alternative of its track');
  t.match(sets[1], /value="6"/);
  t.match(sets[2], /lang="fr"[^]*value="alternate"/);
  t.notMatch(mpd, /lang="und"/);
});

t.test('the MPD of an audio-only version has no video AdaptationSet; a gap restarts the timeline', async (t) => {
  const info = { ...ENGLISH.info, name: 'audio-0' };
  const rep = dashAudio(info, 130_000);
  rep.segments = [{ start: 1024, duration: 96256 }, { start: 97280, duration: 96256 }, { start: 200000, duration: 1000 }];
  const mpd = buildDashManifest({ duration_ms: 4000, frameRate: '30', segmentSeconds: 2, video: [], audio: [rep] });
  t.notMatch(mpd, /contentType="video"/);
  t.match(mpd, '<S t="1024" d="96256" r="1"/><S t="200000" d="1000"/>');
});

/** A minimal box: size, type, payload. */
function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}
function u32(...values: number[]): Uint8Array {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v, i * 4));
  return b;
}

t.test('fMP4 boxes: timescale and codec of an init, start and duration of a segment', async (t) => {
  const mdhd = box('mdhd', u32(0, 0, 0, 15360, 0, 0));
  const avcC = box('avcC', Uint8Array.from([1, 0x64, 0x00, 0x1f, 0xff]));
  const avc1 = box('avc1', new Uint8Array(78), avcC);
  const stsd = box('stsd', u32(0, 1), avc1);
  const init = box('moov', box('trak', box('mdia', mdhd, box('minf', box('stbl', stsd)))));
  t.equal(readInitTimescale(init), 15360);
  t.equal(readInitVideoCodec(init), 'avc1.64001f');

  // tfhd with default-sample-duration (flag 0x8); one trun with defaults, one with durations.
  const tfhd = box('tfhd', u32(0x000008, 1, 512));
  const tfdt = box('tfdt', Uint8Array.from([1, 0, 0, 0]), Buffer.from([0, 0, 0, 0, 0, 0, 0x78, 0x00]));
  const trunDefault = box('trun', u32(0x000001, 60, 0));
  const trunDurations = box('trun', u32(0x000300, 2, 500, 100, 524, 100));
  const segment = Buffer.concat([box('styp'), box('moof', box('mfhd', u32(0, 1)), box('traf', tfhd, tfdt, trunDefault, trunDurations)), box('mdat')]);
  t.same(readSegmentTiming(segment), { start: 30720, duration: 60 * 512 + 1024 });
  t.equal(readSegmentTiming(box('mdat')), null);
});
