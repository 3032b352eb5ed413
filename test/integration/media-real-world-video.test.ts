/*
 * Real-world video through the VOD pipeline (probe → one-pass ladder → poster/storyboard),
 * judged by decoding the outputs: HDR phone clips come out as BT.709 SDR with their colours,
 * variable-rate clips keep every frame, 120 fps becomes 60, interlaced becomes progressive,
 * anamorphic becomes square pixels at the right shape, and a black opening is not the poster.
 * Tiny generated sources (test/fixtures/real-world-corpus.ts), ultrafast, one or two rungs.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { makeClip } from '../helpers/media-fixtures.js';
import {
  distinctFramesPerSecond,
  interlaceVerdict,
  joinRendition,
  makeAnamorphicClip,
  makeBlackOpeningClip,
  makeHdrClip,
  makeInterlacedClip,
  makeVfrClip,
  meanStats,
  videoStreamInfo,
} from '../fixtures/real-world-corpus.js';
import transcode from '../../core/media/transcode.worker.js';
import type { TranscodeResult, TranscodeTask } from '../../core/media/types.js';
import { pipelineTask } from '../helpers/transcode-task.js';

const LADDER = [
  { name: '180p', height: 180, video_kbps: 400 },
  { name: '240p', height: 240, video_kbps: 500 },
];

async function transcodeSource(dir: string, sourcePath: string, ladder = LADDER): Promise<{ task: TranscodeTask; result: TranscodeResult }> {
  const task = await pipelineTask(dir, sourcePath, ladder, { storyboard: { interval_s: 1, tile_width: 96, columns: 4, rows: 4 } });
  return { task, result: await transcode(task) };
}

/** The top rung of a finished version as one decodable file. */
function topRung(dir: string, task: TranscodeTask): Promise<string> {
  return joinRendition(task.outDir, task.ladder[task.ladder.length - 1]!.name, path.join(dir, 'top.mp4'));
}

for (const kind of ['HLG', 'PQ'] as const) {
  t.test(`a 10-bit ${kind} HEVC phone clip comes out as BT.709 SDR with its colours, poster and storyboard too`, async (t) => {
    const dir = t.testdir({ out: {} });
    const source = await makeHdrClip(dir, { kind, width: 320, height: 180, seconds: 2 });
    const { task, result } = await transcodeSource(dir, source);
    t.equal(task.probe.dynamic_range, kind);
    t.same(result.renditions.map((r) => r.video_range), ['SDR']);

    const out = await topRung(dir, task);
    const tags = await videoStreamInfo(out);
    t.same([tags.color_primaries, tags.color_transfer, tags.color_space], ['bt709', 'bt709', 'bt709'], 'tagged BT.709');

    // The SDR picture the HDR source was made from, and that source shown without tone-mapping.
    const sdr = await meanStats(await makeClip(dir, { width: 320, height: 180, seconds: 1, audio: false, name: 'sdr.mp4' }));
    const untouched = await meanStats(source);
    const encoded = await meanStats(out);
    t.ok(sdr.SATAVG! - untouched.SATAVG! > 40, `the HDR source shown as is is washed out (${untouched.SATAVG} vs ${sdr.SATAVG})`);
    const closeToSdr = (s: Record<string, number>): boolean => Math.abs(s.SATAVG! - sdr.SATAVG!) < Math.abs(s.SATAVG! - untouched.SATAVG!);
    t.ok(closeToSdr(encoded), `rung saturation ${encoded.SATAVG} is near the SDR original ${sdr.SATAVG}, far from ${untouched.SATAVG}`);
    const poster = await meanStats(path.join(task.outDir, 'poster.jpg'), { frames: 1 });
    t.ok(closeToSdr(poster), `poster saturation ${poster.SATAVG} is near the SDR original`);
    const tile = result.storyboard!;
    const firstTile = await meanStats(path.join(task.outDir, 'sprite-0.jpg'), { frames: 1, filter: `crop=${tile.tile_width}:${tile.tile_height}:0:0` });
    t.ok(closeToSdr(firstTile), `storyboard saturation ${firstTile.SATAVG} is near the SDR original`);
  });
}

// mp4 declares the true average (27.14 fps); Matroska declares 30 and rounds timestamps to ms.
for (const name of ['vfr.mp4', 'vfr.mkv']) t.test(`a variable-rate phone clip (${name}: 30 fps then 24 fps) keeps every frame, at 30 fps`, async (t) => {
  const dir = t.testdir({ out: {} });
  const source = await makeVfrClip(dir, { width: 320, height: 180, parts: [{ fps: 30, seconds: 4 }, { fps: 24, seconds: 4 }], name });
  const { task, result } = await transcodeSource(dir, source);
  t.equal(task.probe.fps, 30);
  t.equal(task.probe.vfr, true);
  t.same(result.renditions.map((r) => r.frame_rate), ['30']);
  const perSecond = await distinctFramesPerSecond(await topRung(dir, task));
  t.ok(perSecond.slice(0, 4).every((n) => n >= 29), `the 30 fps part keeps 30 distinct frames a second: ${perSecond.join(' ')}`);
  t.ok(perSecond.slice(4, 7).every((n) => n >= 23), `the 24 fps part keeps 24: ${perSecond.join(' ')}`);
  const mpd = await readFile(path.join(task.outDir, 'master.mpd'), 'utf8');
  t.match(mpd, /frameRate="30"/);
});

t.test('a 120 fps clip becomes 60 fps (every other frame), a 60 fps clip stays 60', async (t) => {
  for (const fps of [120, 60]) {
    const dir = t.testdir({ out: {} });
    const source = await makeClip(dir, { width: 320, height: 180, seconds: 2, fps, audio: false });
    const { task, result } = await transcodeSource(dir, source);
    t.equal(task.probe.fps, fps);
    t.same(result.renditions.map((r) => r.frame_rate), ['60'], `${fps} fps → 60`);
    const info = await videoStreamInfo(await topRung(dir, task));
    t.equal(info.r_frame_rate, '60/1');
    t.equal(Number(info.nb_frames), 120, `${fps} fps: 2 s are 120 frames`);
  }
});

t.test('an interlaced 576i clip is deinterlaced to progressive, one frame per field', async (t) => {
  const dir = t.testdir({ out: {} });
  const source = await makeInterlacedClip(dir, { width: 720, height: 576, fps: 25, seconds: 2, order: 'tff' });
  t.ok((await interlaceVerdict(source)).interlaced > 30, 'the source really is interlaced');
  // A rung at the source's own height: nothing scaled away the combing.
  const { task, result } = await transcodeSource(dir, source, [{ name: '576p', height: 576, video_kbps: 1500 }]);
  t.equal(task.probe.field_order, 'tff');
  t.same(result.renditions.map((r) => r.frame_rate), ['50']);
  const verdict = await interlaceVerdict(await topRung(dir, task));
  t.ok(verdict.progressive > 10 * verdict.interlaced, `progressive: ${JSON.stringify(verdict)}`);
});

t.test('an anamorphic 1440x1080 (pixel aspect 4:3) clip comes out 16:9 in square pixels', async (t) => {
  const dir = t.testdir({ out: {} });
  const source = await makeAnamorphicClip(dir, { width: 1440, height: 1080, sar: '4/3', seconds: 1 });
  const { task, result } = await transcodeSource(dir, source);
  t.same([task.probe.width, task.probe.height], [1920, 1080], 'probed at its display size');
  t.same(result.renditions.map((r) => `${r.width}x${r.height}`), ['320x180', '426x240']);
  const info = await videoStreamInfo(await topRung(dir, task));
  t.same([info.width, info.height], [426, 240]);
  t.ok(!info.sample_aspect_ratio || info.sample_aspect_ratio === '1:1', `square pixels (${info.sample_aspect_ratio})`);
});

t.test('a clip that opens on a 3 s black title card gets a poster from the picture, not the black', async (t) => {
  const dir = t.testdir({ out: {} });
  const source = await makeBlackOpeningClip(dir, { width: 320, height: 180, blackSeconds: 3, seconds: 6 });
  const { task } = await transcodeSource(dir, source);
  const poster = await meanStats(path.join(task.outDir, 'poster.jpg'), { frames: 1 });
  t.ok(poster.YAVG! > 60, `poster mean luma ${poster.YAVG} is well above black (16)`);
});
