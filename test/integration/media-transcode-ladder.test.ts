/*
 * The full one-pass ladder on a 4 s 1080p30 source with audio, run through the piscina pool
 * (under tap's TypeScript loader, like tsx), checked file by file.
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { FFPROBE, imageStats, makeClip, probeSegment } from '../helpers/media-fixtures.js';
import { buildLadder } from '../../core/media/ladder.js';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../core/media/playlists.js';
import { createTranscodePool } from '../../core/media/pool.js';
import { probeSource } from '../../core/media/probe.js';
import type { TranscodeProgress } from '../../core/media/types.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const LADDER = [
  { name: '240p', height: 240, video_kbps: 300 },
  { name: '360p', height: 360, video_kbps: 600 },
  { name: '480p', height: 480, video_kbps: 1100 },
  { name: '720p', height: 720, video_kbps: 2500 },
  { name: '1080p', height: 1080, video_kbps: 4500 },
];
const STORYBOARD = { interval_s: 1, tile_width: 160, columns: 3, rows: 1 };

t.test('a 1080p source becomes an aligned five-rung HLS+DASH ladder', async (t) => {
  const dir = t.testdir({ out: {} });
  const outDir = path.join(dir, 'out');
  const source = await makeClip(dir, { width: 1920, height: 1080, seconds: 4 });
  const probe = await probeSource(FFPROBE, source, { max_duration_s: 60, max_pixels: 1920 * 1080 });
  const ladder = buildLadder(probe, LADDER);
  const pool = createTranscodePool({ maxThreads: 1 });
  t.teardown(() => pool.close());

  const progress: TranscodeProgress[] = [];
  const started = process.hrtime.bigint();
  const result = await pool.run(
    {
      ffmpegPath: process.env.FFMPEG_PATH ?? 'ffmpeg',
      sourcePath: source,
      outDir,
      probe,
      ladder,
      segmentSeconds: 2,
      preset: 'ultrafast',
      audioKbps: 128,
      encoder: 'libx264',
      storyboard: STORYBOARD,
    },
    { onProgress: (p) => progress.push(p) },
  );
  t.comment(`transcode wall ${Number(process.hrtime.bigint() - started) / 1e6} ms (worker ${result.elapsed_ms} ms)`);

  t.test('progress messages arrive and end at 100%', async (t) => {
    t.ok(progress.length >= 2, `${progress.length} messages`);
    t.equal(progress.at(-1)?.percent, 100);
    t.ok(progress.every((p, i) => i === 0 || p.percent >= (progress[i - 1]?.percent ?? 0)), 'monotonic');
  });

  t.test('the result describes the ladder', async (t) => {
    t.equal(result.encoder, 'libx264');
    t.notOk(result.encoder_fallback);
    t.same(result.renditions.map((r) => `${r.name} ${r.width}x${r.height}`), [
      '240p 426x240', '360p 640x360', '480p 854x480', '720p 1280x720', '1080p 1920x1080',
    ]);
    t.equal(typeof result.loudness, 'number');
    t.ok((result.loudness ?? 0) < -5 && (result.loudness ?? 0) > -40, `loudness ${result.loudness} LUFS`);
    t.equal(result.duration_ms, 4000);
  });

  t.test('the master lists exactly the rungs with CODECS and RESOLUTION, audio once', async (t) => {
    const master = parseMasterPlaylist(await readFile(path.join(outDir, 'master.m3u8'), 'utf8'));
    t.same(master.variants.map((v) => v.uri), ladder.map((r) => `${r.name}/index.m3u8`));
    for (const [i, v] of master.variants.entries()) {
      t.equal(`${v.width}x${v.height}`, `${ladder[i]?.width}x${ladder[i]?.height}`);
      t.match(v.codecs, /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
      t.ok(v.audioGroup);
    }
    t.equal(master.media.length, 1);
    t.match(master.media[0], { type: 'AUDIO', uri: 'audio-0/index.m3u8' });
  });

  t.test('every segment decodes at its rung size, 2 s long, keyframes aligned across rungs', async (t) => {
    const keyframesByRung: number[][] = [];
    for (const rung of ladder) {
      const text = await readFile(path.join(outDir, rung.name, 'index.m3u8'), 'utf8');
      t.match(text, /#EXT-X-PLAYLIST-TYPE:VOD/);
      const playlist = parseMediaPlaylist(text);
      t.ok(playlist.ended && playlist.initUri);
      t.equal(playlist.segments.length, 2);
      const keyframes: number[] = [];
      for (const [i, seg] of playlist.segments.entries()) {
        const info = await probeSegment(dir, path.join(outDir, rung.name, playlist.initUri ?? ''), path.join(outDir, rung.name, seg.uri));
        t.equal(`${info.width}x${info.height}`, `${rung.width}x${rung.height}`, `${rung.name} ${seg.uri} size`);
        t.ok(info.packets[0]?.keyframe, `${rung.name} ${seg.uri} starts with a keyframe`);
        const seconds = info.packets.length / probe.fps;
        const last = i === playlist.segments.length - 1;
        t.ok(last ? seconds > 0 && seconds <= 2.01 : Math.abs(seconds - 2) < 0.01, `${rung.name} ${seg.uri} lasts ${seconds} s`);
        keyframes.push(...info.packets.filter((p) => p.keyframe).map((p) => p.pts_time));
      }
      keyframesByRung.push(keyframes);
    }
    for (const kf of keyframesByRung.slice(1)) t.same(kf, keyframesByRung[0], 'same keyframe times as 240p');
  });

  t.test('master.mpd addresses every segment of every rendition by template and opens', async (t) => {
    const mpd = await readFile(path.join(outDir, 'master.mpd'), 'utf8');
    t.match(mpd, /profiles="urn:mpeg:dash:profile:isoff-live:2011"/);
    t.notMatch(mpd, /SegmentList/);
    const templates = [...mpd.matchAll(/<Representation id="([^"]+)"[^]*?initialization="([^"]+)" media="([^"]+)" startNumber="(\d+)">\s*<SegmentTimeline>(.*?)<\/SegmentTimeline>/g)];
    t.equal(templates.length, 6);
    for (const [, id = '', init = '', media = '', start = '', timeline = ''] of templates) {
      const count = [...timeline.matchAll(/<S [^>]*?(?:r="(\d+)")?\/>/g)].reduce((n, m) => n + 1 + Number(m[1] ?? 0), 0);
      const playlist = parseMediaPlaylist(await readFile(path.join(outDir, id, 'index.m3u8'), 'utf8'));
      t.equal(count, playlist.segments.length, `${id}: as many segments as its HLS playlist`);
      const urls = [init, ...Array.from({ length: count }, (_, i) => media.replace('$Number%05d$', String(Number(start) + i).padStart(5, '0')))];
      t.same(urls.slice(1), playlist.segments.map((s) => `${id}/${s.uri}`), `${id}: the same files as HLS, from 00000`);
      for (const url of urls) await t.resolves(access(path.join(outDir, url)), url);
    }
    t.equal((mpd.match(/<AdaptationSet/g) ?? []).length, 2);
    t.equal((mpd.match(/<Representation/g) ?? []).length, 6);
    const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_type,width,height', '-of', 'csv=p=0', path.join(outDir, 'master.mpd')]);
    t.match(stdout, /video,1920,1080/);
    t.match(stdout, /audio/);
  });

  t.test('the poster is a real picture at the top rung size', async (t) => {
    const stats = await imageStats(path.join(outDir, 'poster.jpg'));
    t.same([stats.width, stats.height], [1920, 1080]);
    t.ok(stats.yrange > 50, `luma range ${stats.yrange}`);
  });

  t.test('storyboard cues cover [0, duration] and point at existing sheets', async (t) => {
    const vtt = await readFile(path.join(outDir, 'storyboard.vtt'), 'utf8');
    const cues = [...vtt.matchAll(/(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(sprite-\d+\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)/g)];
    const ms = (m: RegExpMatchArray, at: number): number =>
      ((Number(m[at]) * 60 + Number(m[at + 1])) * 60 + Number(m[at + 2])) * 1000 + Number(m[at + 3]);
    t.equal(cues.length, 4);
    t.equal(ms(cues[0] as RegExpMatchArray, 1), 0);
    t.equal(ms(cues.at(-1) as RegExpMatchArray, 5), result.duration_ms);
    for (let i = 1; i < cues.length; i++) t.equal(ms(cues[i] as RegExpMatchArray, 1), ms(cues[i - 1] as RegExpMatchArray, 5), 'contiguous');
    t.same(cues.map((c) => c[9]), ['sprite-0.jpg', 'sprite-0.jpg', 'sprite-0.jpg', 'sprite-1.jpg'], 'the partial last sheet exists');
    t.same(cues[1]?.slice(10, 14), ['160', '0', '160', '90']);
    for (const sheet of ['sprite-0.jpg', 'sprite-1.jpg']) {
      const stats = await imageStats(path.join(outDir, sheet));
      t.same([stats.width, stats.height], [480, 90], `${sheet} is a 3x1 sheet of 160x90 tiles`);
    }
  });
});
