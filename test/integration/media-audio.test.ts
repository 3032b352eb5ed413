/*
 * Real-world audio through the one-pass pipeline (probe → transcode worker): every source
 * track becomes a rendition with its language and default flag in the HLS master and the MPD,
 * 5.1/7.1 keep a surround rendition, audio ends with the video (no crumb segment), loudness
 * is the default track's, and audio-only files become audio-only versions with a poster.
 * Each rendition is traced to its source track by decoding it (each track is its own sine).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parseAttributes, parseMasterPlaylist } from '../../core/media/playlists.js';
import transcode from '../../core/media/transcode.worker.js';
import type { TranscodeTask } from '../../core/media/types.js';
import {
  audioChannels,
  dominantFrequency,
  joinRendition,
  makeAudioFile,
  makeMultiAudio,
  pictureInfo,
  playlistDurations,
} from '../helpers/audio-fixtures.js';
import { FFMPEG } from '../helpers/media-fixtures.js';
import { pipelineTask } from '../helpers/transcode-task.js';

const run = promisify(execFile);
const LADDER = [{ name: '240p', height: 240, video_kbps: 300 }];

async function taskFor(dir: string, sourcePath: string, extra: Partial<TranscodeTask> = {}): Promise<TranscodeTask> {
  return pipelineTask(dir, sourcePath, LADDER, { storyboard: { interval_s: 2, tile_width: 80, columns: 5, rows: 5 }, ...extra });
}

/** The EXT-X-MEDIA TYPE=AUDIO attribute lists of a master, in order. */
async function audioMedia(outDir: string): Promise<Record<string, string>[]> {
  const text = await readFile(path.join(outDir, 'master.m3u8'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'))
    .map((l) => parseAttributes(l.slice('#EXT-X-MEDIA:'.length)));
}

/** lang, Role and Representations ("id/channels") of every audio AdaptationSet of master.mpd. */
async function mpdAudioSets(outDir: string): Promise<{ lang: string; role: string; reps: string[] }[]> {
  const mpd = await readFile(path.join(outDir, 'master.mpd'), 'utf8');
  const sets = mpd.split('<AdaptationSet').slice(1).filter((s) => s.includes('contentType="audio"'));
  return sets.map((s) => ({
    lang: /lang="([^"]*)"/.exec(s)?.[1] ?? '',
    role: /Role [^>]*value="([^"]*)"/.exec(s)?.[1] ?? '',
    reps: [...s.matchAll(/Representation id="([^"]*)"[^]*?AudioChannelConfiguration [^>]*value="([^"]*)"/g)].map((m) => `${m[1]}/${m[2]}`),
  }));
}

/** Integrated loudness (LUFS) of one audio track of a file. */
async function trackLoudness(file: string, track: number): Promise<number> {
  const { stderr } = await run(FFMPEG, ['-hide_banner', '-nostats', '-i', file, '-map', `0:a:${track}`, '-af', 'ebur128', '-f', 'null', '-']);
  return Number(/I:\s*(-?\d+(?:\.\d+)?) LUFS/.exec(stderr.split('Summary:').pop() ?? '')?.[1]);
}

t.test('three tagged tracks, default on the second: three renditions with names, languages and the default kept', async (t) => {
  const dir = t.testdir({ out: {} });
  const source = await makeMultiAudio(dir, {
    seconds: 4,
    defaultTrack: 1,
    tracks: [
      { frequency: 440, language: 'eng', amplitude: 0.1 },
      { frequency: 1000, language: 'fra', amplitude: 0.6 },
      { frequency: 660, language: 'deu', title: 'Kommentar', amplitude: 0.1 },
    ],
  });
  const task = await taskFor(dir, source);
  const result = await transcode(task);

  t.same(
    result.audio.map((a) => [a.name, a.language, a.label, a.channels, a.default]),
    [
      ['audio-0', 'eng', 'English', 2, false],
      ['audio-1', 'fra', 'French', 2, true],
      ['audio-2', 'deu', 'Kommentar', 2, false],
    ],
  );
  t.same(
    (await audioMedia(task.outDir)).map((m) => [m.NAME, m.LANGUAGE, m.DEFAULT, m.CHANNELS, m.URI]),
    [
      ['English', 'en', 'NO', '2', 'audio-0/index.m3u8'],
      ['French', 'fr', 'YES', '2', 'audio-1/index.m3u8'],
      ['Kommentar', 'de', 'NO', '2', 'audio-2/index.m3u8'],
    ],
    'the master names each track, with its language, and the source default is the default',
  );
  const master = parseMasterPlaylist(await readFile(path.join(task.outDir, 'master.m3u8'), 'utf8'));
  const rung = task.ladder[0]!.name;
  t.same(master.variants.map((v) => v.uri), [`${rung}/index.m3u8`], 'no audio-only variant beside the video');
  t.same(
    (await mpdAudioSets(task.outDir)).map((s) => [s.lang, s.role, s.reps]),
    [
      ['en', 'alternate', ['audio-0/2']],
      ['fr', 'main', ['audio-1/2']],
      ['de', 'alternate', ['audio-2/2']],
    ],
    'one DASH AdaptationSet per track with its lang',
  );

  for (const [name, frequency] of [['audio-0', 440], ['audio-1', 1000], ['audio-2', 660]] as const) {
    const file = await joinRendition(task.outDir, name, path.join(dir, `${name}.mp4`));
    t.equal(await dominantFrequency(file, [440, 660, 1000]), frequency, `${name} carries its own track`);
    t.equal(await audioChannels(file), 2, `${name} is stereo`);
  }

  const videoTimes = await playlistDurations(task.outDir, rung);
  t.ok(videoTimes.last >= 0.1, `the video's last segment lasts ${videoTimes.last} s`);
  for (const a of result.audio) {
    const audioTimes = await playlistDurations(task.outDir, a.name);
    t.ok(Math.abs(audioTimes.total - videoTimes.total) <= 1 / 30, `${a.name} ends within one frame of the video (${audioTimes.total} vs ${videoTimes.total} s)`);
    t.ok(audioTimes.last >= 0.1, `${a.name}'s last segment lasts ${audioTimes.last} s`);
  }
  const expected = await trackLoudness(source, 1);
  t.ok(result.loudness !== null && Math.abs(result.loudness - expected) < 1, `loudness ${result.loudness} is the default track's (${expected})`);
});

t.test('5.1 and 7.1 tracks keep a surround rendition beside the stereo one; max_audio_tracks caps the tracks', async (t) => {
  const dir = t.testdir({ out: {} });
  const source = await makeMultiAudio(dir, {
    seconds: 3,
    tracks: [
      { frequency: 440, language: 'eng', channels: 6 },
      { frequency: 1000, language: 'fra', channels: 8 },
      { frequency: 660, language: 'spa' },
    ],
  });
  const task = await taskFor(dir, source, { maxAudioTracks: 2 });
  t.same(task.probe.audio_tracks.map((a) => a.channels), [6, 8, 1]);
  const result = await transcode(task);
  t.same(
    result.audio.map((a) => [a.name, a.language, a.channels, a.default]),
    [
      ['audio-0', 'eng', 2, true],
      ['audio-0-surround', 'eng', 6, true],
      ['audio-1', 'fra', 2, false],
      ['audio-1-surround', 'fra', 8, false],
    ],
    'no track flagged default: the first is; the third track is over the cap',
  );
  const media = await audioMedia(task.outDir);
  t.same(
    media.map((m) => [m.URI, m.LANGUAGE, m.CHANNELS]),
    [
      ['audio-0/index.m3u8', 'en', '2'],
      ['audio-1/index.m3u8', 'fr', '2'],
      ['audio-0-surround/index.m3u8', 'en', '6'],
      ['audio-1-surround/index.m3u8', 'fr', '8'],
    ],
    'every rendition in the master with its CHANNELS',
  );
  for (const group of new Set(media.map((m) => m['GROUP-ID']))) {
    t.equal(media.filter((m) => m['GROUP-ID'] === group && m.DEFAULT === 'YES').length, 1, `one DEFAULT in ${group}`);
  }
  t.equal(media.find((m) => m.URI === 'audio-0/index.m3u8')?.DEFAULT, 'YES', 'the stereo default is the first track');
  t.same(
    (await mpdAudioSets(task.outDir)).map((s) => [s.lang, s.role, s.reps]),
    [
      ['en', 'main', ['audio-0/2', 'audio-0-surround/6']],
      ['fr', 'alternate', ['audio-1/2', 'audio-1-surround/8']],
    ],
    'DASH: stereo and surround of a track are alternatives in its language',
  );
  for (const a of result.audio) {
    const file = await joinRendition(task.outDir, a.name, path.join(dir, `${a.name}.mp4`));
    t.equal(await audioChannels(file), a.channels, `${a.name} has ${a.channels} channels`);
    t.equal(await dominantFrequency(file, [440, 660, 1000]), a.track === 0 ? 440 : 1000, `${a.name} carries its track`);
  }
});

t.test('an m4a with cover art becomes an audio-only version whose poster is the cover', async (t) => {
  const dir = t.testdir({ out: {} });
  const source = await makeAudioFile(dir, 'song.m4a', { seconds: 4, cover: 'red', frequency: 440 });
  const task = await taskFor(dir, source);
  t.match(task.probe, { has_video: false, has_audio: true, cover_art: true, width: 0, height: 0, video_codec: null });
  const result = await transcode(task);
  t.match(result.renditions, [{ name: 'audio-0', width: 0, height: 0, bitrate_kbps: Number, codecs: 'mp4a.40.2' }], 'renditions list the audio');
  t.equal(result.renditions.length, 1);
  t.equal(result.storyboard, undefined, 'no storyboard sheets for sound');
  t.ok(result.loudness !== null, 'loudness measured');
  const master = parseMasterPlaylist(await readFile(path.join(task.outDir, 'master.m3u8'), 'utf8'));
  t.same(master.variants.map((v) => [v.uri, v.codecs, v.audioGroup !== undefined]), [['audio-0/index.m3u8', 'mp4a.40.2', true]], 'one audio variant');
  t.same((await mpdAudioSets(task.outDir)).map((s) => s.reps), [['audio-0/2']]);
  t.notOk((await readFile(path.join(task.outDir, 'master.mpd'), 'utf8')).includes('contentType="video"'), 'no video AdaptationSet');
  const times = await playlistDurations(task.outDir, 'audio-0');
  t.ok(Math.abs(times.total - 4) < 0.1, `the audio lasts ${times.total} s`);
  t.ok(times.last >= 0.1, `no crumb segment at the end (${times.last} s)`);
  const poster = await pictureInfo(path.join(task.outDir, 'poster.jpg'));
  t.same([poster.width, poster.height], [320, 320], 'the cover at its own size');
  t.ok(poster.rgb[0] > 200 && poster.rgb[1] < 60 && poster.rgb[2] < 60, `the poster is the red cover (${poster.rgb})`);
  t.equal((await readFile(path.join(task.outDir, 'storyboard.vtt'), 'utf8')).trim(), 'WEBVTT');
});

t.test('mp3, flac, wav and ogg without cover art become audio-only versions with a waveform poster', async (t) => {
  const dir = t.testdir({ out: {} });
  const formats: [string, string[]][] = [
    ['a.mp3', ['-c:a', 'libmp3lame']],
    ['a.flac', ['-c:a', 'flac']],
    ['a.wav', ['-c:a', 'pcm_s16le']],
    ['a.ogg', ['-c:a', 'libvorbis']],
  ];
  for (const [name, codec] of formats) {
    const source = await makeAudioFile(dir, name, { seconds: 2, frequency: 660, codec });
    const task = await taskFor(dir, source, { outDir: path.join(dir, `out-${name}`) });
    await run('mkdir', ['-p', task.outDir]);
    const result = await transcode(task);
    t.same(result.renditions.map((r) => [r.name, r.codecs]), [['audio-0', 'mp4a.40.2']], `${name}: one AAC rendition`);
    const file = await joinRendition(task.outDir, 'audio-0', path.join(dir, `${name}.mp4`));
    t.equal(await dominantFrequency(file, [440, 660, 1000]), 660, `${name}: the rendition is the source's sound`);
    const poster = await pictureInfo(path.join(task.outDir, 'poster.jpg'));
    t.same([poster.width, poster.height], [1280, 720], `${name}: a waveform picture`);
    t.ok(poster.rgb[2] > poster.rgb[0] + 10, `${name}: the waveform is drawn (mean colour ${poster.rgb})`);
  }
});
