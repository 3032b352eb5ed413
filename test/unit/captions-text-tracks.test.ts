/**
 * Caption files read and written (WebVTT, SRT), cues cut into segments lined up with the
 * video's, the master and MPD revisions that carry them, and the engines' outputs read.
 */
import t from 'tap';
import { chapterCues } from '../../core/captions/chapters.js';
import { parseCaptions, writeWebVtt } from '../../core/captions/cues.js';
import { masterWithSubtitles, mpdWithTextTracks, segmentCues, segmentSpans, subtitlePlaylist, timestampMap } from '../../core/captions/text-tracks.js';
import { groupWords } from '../../core/transcription/transcriber.js';
import { parseTimedWords } from '../../transcription-adapters/pocketsphinx.js';
import { parseWhisperJson } from '../../transcription-adapters/whisper-cpp.js';

t.test('SRT becomes WebVTT: comma times, cue numbers dropped, <font> removed, CRLF taken', async (t) => {
  const cues = parseCaptions('\uFEFF1\r\n00:00:01,5 --> 00:00:02,000\r\n<font color="red">Hi</font> <i>there</i>\r\n\r\n2\r\n01:00:00,000 --> 01:00:01,250\r\nlate\r\n');
  t.equal(writeWebVtt(cues), 'WEBVTT\n\n00:00:01.500 --> 00:00:02.000\nHi <i>there</i>\n\n01:00:00.000 --> 01:00:01.250\nlate\n');
});

t.test('WebVTT keeps ids and settings, skips NOTE and STYLE blocks, accepts mm:ss.ttt', async (t) => {
  const cues = parseCaptions('WEBVTT - title\n\nNOTE a comment\n\nSTYLE\n::cue { color: red }\n\nintro\n00:01.000 --> 00:02.000 line:0 align:start\nHello\nworld\n');
  t.same(cues, [{ startMs: 1000, endMs: 2000, text: 'Hello\nworld', id: 'intro', settings: 'line:0 align:start' }]);
});

t.test('malformed files are refused naming the line', async (t) => {
  const cases: [string, RegExp][] = [
    ['WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nbad', /line 3: "00:00:0x\.000" is not a timestamp/],
    ['WEBVTT\n\njust text\n', /line 3: expected a cue timing/],
    ['WEBVT\n\n00:00:01.000 --> 00:00:02.000\nx', /line 1: expected a cue number/],
    ['1\n00:00:02,000 --> 00:00:01,000\nx\n', /line 2: the cue ends before it starts/],
    ['', /line 1: no cue found/],
    ['\0\0\0', /binary/],
  ];
  for (const [text, message] of cases) t.throws(() => parseCaptions(text), { code: 'E_BAD_REQUEST', message }, JSON.stringify(text));
});

t.test('cues are cut into the video segments, a crossing cue in each segment it overlaps', async (t) => {
  const spans = segmentSpans('#EXTM3U\n#EXTINF:2.000,\na.m4s\n#EXTINF:2.000,\nb.m4s\n#EXTINF:1.500,\nc.m4s\n#EXT-X-ENDLIST\n');
  t.same(spans, [{ startMs: 0, durationMs: 2000 }, { startMs: 2000, durationMs: 2000 }, { startMs: 4000, durationMs: 1500 }]);
  const map = timestampMap(1024, 1024);
  t.equal(map, 'X-TIMESTAMP-MAP=MPEGTS:90000,LOCAL:00:00:00.000', 'the first decode time in 90 kHz');
  const segments = segmentCues([{ startMs: 1500, endMs: 2500, text: 'across' }, { startMs: 6000, endMs: 7000, text: 'after the end' }], spans, map);
  t.equal(segments.length, 3);
  t.match(segments[0], /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:90000,LOCAL:00:00:00\.000\n\n00:00:01\.500 --> 00:00:02\.500\nacross\n$/);
  t.match(segments[1], /across/);
  t.match(segments[2], /after the end/, 'the last segment takes what runs past the end');
  t.match(subtitlePlaylist(spans), /#EXT-X-TARGETDURATION:2\n[\s\S]*#EXTINF:1\.500,\n00002\.vtt\n#EXT-X-ENDLIST/);
});

t.test('master and MPD revisions name every track', async (t) => {
  const tracks = [
    { language: 'en', label: 'English', kind: 'captions' as const, playlistUri: 'cc-a/index.m3u8', fileUri: 'cc-a.vtt' },
    { language: 'en', label: 'English', kind: 'subtitles' as const, playlistUri: 'cc-b/index.m3u8', fileUri: 'cc-b.vtt' },
  ];
  const master = masterWithSubtitles('#EXTM3U\n#EXT-X-VERSION:7\n\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.64001e"\n240p/index.m3u8\n', tracks);
  t.match(master, /NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,CHARACTERISTICS="[^"]+",URI="cc-a\/index\.m3u8"/);
  t.match(master, /NAME="English \(2\)"/, 'names are unique in the group');
  t.match(master, /#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1\.64001e",SUBTITLES="subs"\n240p\/index\.m3u8\n$/);
  t.ok(master.indexOf('TYPE=SUBTITLES') < master.indexOf('#EXT-X-STREAM-INF'), 'the group comes before the variants');
  const mpd = mpdWithTextTracks('<MPD>\n  <Period id="0">\n    <AdaptationSet id="0"></AdaptationSet>\n    <AdaptationSet id="1"></AdaptationSet>\n  </Period>\n</MPD>\n', tracks);
  t.match(mpd, /<AdaptationSet id="2" contentType="text" mimeType="text\/vtt" lang="en">\n      <Label>English<\/Label>\n      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="caption"\/>/);
  t.match(mpd, /<AdaptationSet id="3"[\s\S]*<BaseURL>cc-b\.vtt<\/BaseURL>[\s\S]*<\/AdaptationSet>\n  <\/Period>/);
});

t.test('chapters run to the next one or the end', async (t) => {
  t.same(chapterCues([{ start_s: 0, title: 'A' }, { start_s: 4, title: 'B\nline' }, { start_s: 99, title: 'past the end' }], 10_000), [
    { startMs: 0, endMs: 4000, text: 'A' },
    { startMs: 4000, endMs: 10_000, text: 'B line' },
  ]);
});

t.test('engine outputs: pocketsphinx timed words, whisper.cpp JSON; words grouped at pauses', async (t) => {
  const words = parseTimedWords('well they do\n<s> 0.000 0.320 0.999600\nwell 0.330 0.570 0.830505\n<sil> 0.580 0.990 0.970830\nthe(2) 1.000 1.250 0.97\n[NOISE] 1.3 1.4 0.5\nday 2.290 2.530 0.206494\n</s> 2.540 2.850 1.000000\n');
  t.same(words.map((w) => w.word), ['well', 'the', 'day']);
  t.same(groupWords(words), [{ startMs: 330, endMs: 1250, text: 'well the' }, { startMs: 2290, endMs: 2530, text: 'day' }], 'a pause over 0.7 s starts a new cue');
  t.same(parseWhisperJson(JSON.stringify({ transcription: [{ offsets: { from: 0, to: 1500 }, text: ' Hello there.' }, { offsets: { from: 1500, to: 2000 }, text: ' [BLANK_AUDIO]' }] })), [
    { startMs: 0, endMs: 1500, text: 'Hello there.' },
  ]);
});
