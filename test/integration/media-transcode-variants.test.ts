/*
 * Source shapes the ladder must respect (480p, rotated portrait, no audio), the hardware
 * encoder fallback and aborting through the pool. Small sources, ultrafast.
 */
import { execFile } from 'node:child_process';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { FFPROBE, makeClip, probeSegment, type ClipOptions } from '../helpers/media-fixtures.js';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../core/media/playlists.js';
import { createTranscodePool } from '../../core/media/pool.js';
import transcode from '../../core/media/transcode.worker.js';
import type { TranscodeTask, VideoEncoder } from '../../core/media/types.js';
import { pipelineTask } from '../helpers/transcode-task.js';

const run = promisify(execFile);
const LADDER = [
  { name: '240p', height: 240, video_kbps: 300 },
  { name: '360p', height: 360, video_kbps: 600 },
  { name: '480p', height: 480, video_kbps: 1100 },
  { name: '720p', height: 720, video_kbps: 2500 },
];

async function taskFor(dir: string, clip: ClipOptions, encoder: VideoEncoder = 'libx264'): Promise<TranscodeTask> {
  const sourcePath = await makeClip(dir, clip);
  return pipelineTask(dir, sourcePath, LADDER, { encoder, audioKbps: 128, storyboard: { interval_s: 2, tile_width: 120, columns: 5, rows: 5 } });
}

async function masterOf(outDir: string): Promise<ReturnType<typeof parseMasterPlaylist>> {
  return parseMasterPlaylist(await readFile(path.join(outDir, 'master.m3u8'), 'utf8'));
}

t.test('a 480p source gets 240p, 360p and 480p', async (t) => {
  const dir = t.testdir({ out: {} });
  const task = await taskFor(dir, { width: 854, height: 480, seconds: 2 });
  const result = await transcode(task);
  t.same(result.renditions.map((r) => r.name), ['240p', '360p', '480p']);
  t.same((await masterOf(task.outDir)).variants.map((v) => `${v.width}x${v.height}`), ['428x240', '640x360', '854x480']);
});

t.test('a rotated phone video comes out portrait, upright, without rotation metadata', async (t) => {
  const dir = t.testdir({ out: {} });
  const task = await taskFor(dir, { width: 640, height: 360, seconds: 2, rotate: 90, audio: false });
  t.same([task.probe.width, task.probe.height], [360, 640]);
  const result = await transcode(task);
  t.same(result.renditions.map((r) => `${r.name} ${r.width}x${r.height}`), ['240p 240x426', '360p 360x640']);
  const playlist = parseMediaPlaylist(await readFile(path.join(task.outDir, '360p', 'index.m3u8'), 'utf8'));
  const seg = await probeSegment(dir, path.join(task.outDir, '360p', playlist.initUri ?? ''), path.join(task.outDir, '360p', playlist.segments[0]?.uri ?? ''));
  t.same([seg.width, seg.height], [360, 640]);
  t.notOk(seg.rotation, 'no display matrix left: players must not rotate again');
  const vtt = await readFile(path.join(task.outDir, 'storyboard.vtt'), 'utf8');
  t.match(vtt, /sprite-0\.jpg#xywh=0,0,120,214/, 'portrait storyboard tiles');
});

t.test('a source without audio gives video-only renditions and null loudness', async (t) => {
  const dir = t.testdir({ out: {} });
  const task = await taskFor(dir, { width: 426, height: 240, seconds: 2, audio: false });
  const result = await transcode(task);
  t.equal(result.loudness, null);
  const master = await masterOf(task.outDir);
  t.same(master.media, [], 'no audio group');
  t.notOk(master.variants[0]?.audioGroup);
  t.match(master.variants[0]?.codecs, /^avc1\.[0-9a-f]{6}$/);
  t.notOk((await readdir(task.outDir)).includes('audio'));
  const mpd = await readFile(path.join(task.outDir, 'master.mpd'), 'utf8');
  t.notMatch(mpd, /contentType="audio"/);
  await t.resolves(access(path.join(task.outDir, 'poster.jpg')));
});

t.test('a hardware encoder that fails falls back to libx264 and says so', async (t) => {
  const dir = t.testdir({ out: {} });
  const task = await taskFor(dir, { width: 320, height: 240, seconds: 2 }, 'h264_nvenc');
  const result = await transcode(task);
  t.equal(result.encoder, 'libx264');
  t.equal(result.encoder_fallback?.from, 'h264_nvenc');
  t.ok(result.encoder_fallback?.reason);
  t.equal(typeof result.loudness, 'number');
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', path.join(task.outDir, 'master.mpd')]);
  t.match(stdout, /video/);
});

t.test('aborting a pooled transcode kills its ffmpeg', async (t) => {
  const dir = t.testdir({ out: {} });
  const task = await taskFor(dir, { width: 640, height: 360, seconds: 20, audio: false });
  const pool = createTranscodePool({ maxThreads: 1 });
  t.teardown(() => pool.close());
  const controller = new AbortController();
  const outcome = await pool
    .run(task, { signal: controller.signal, onProgress: () => controller.abort() })
    .then(() => 'resolved', (err: unknown) => err);
  t.match(outcome, { name: 'AbortError' });
  const { stdout } = await run('ps', ['-eo', 'args']);
  t.notOk(stdout.split('\n').some((l) => l.includes(task.outDir)), 'no ffmpeg still writing to the output');
  // The worker is still usable after an abort.
  const small = await taskFor(t.testdir({ out: {} }), { width: 320, height: 180, seconds: 1 });
  const done = await pool.run(small);
  t.same(done.renditions.map((r) => r.name), ['180p']);
});
