/**
 * Chunked transcoding's pure parts: where a long source is cut, which outputs a part keeps,
 * and the join check (no gap or overlap between chunks, identical init segments).
 */
import t from 'tap';
import { ChunkJoinError, assertSameInit, joinRendition } from '../../core/media/chunk-join.js';
import { chunkOutputKey, planChunks } from '../../core/media/chunk-plan.js';
import { firstTileOfChunk } from '../../core/media/transcode-command.js';
import type { MeasuredRendition } from '../../core/media/ladder-manifests.js';

const every = (step: number, until: number) => Array.from({ length: Math.floor(until / step) + 1 }, (_, i) => i * step);

t.test('cuts at keyframes on segment boundaries, about chunk_s apart', async (t) => {
  const chunks = planChunks({ keyframes: every(2, 298), durationS: 300, chunkS: 60, segmentS: 2, fps: 30 });
  t.same(chunks.map((c) => [c.start_s, c.end_s, c.first_segment, c.first_frame]), [
    [0, 60, 0, 0],
    [60, 120, 30, 1800],
    [120, 180, 60, 3600],
    [180, 240, 90, 5400],
    [240, null, 120, 7200],
  ]);
});

t.test('keyframes off the segment grid are not cut points; a short last chunk joins the one before', async (t) => {
  // x264's default GOP (250 frames at 30 fps = 8.33 s) lands on a 2 s boundary only every 50 s.
  const chunks = planChunks({ keyframes: every(250 / 30, 299), durationS: 300, chunkS: 60, segmentS: 2, fps: 30 });
  t.same(chunks.map((c) => Math.round(c.start_s * 1e6) / 1e6), [0, 100, 200], 'on the grid at 50, 100, 150, 200, 250 s; 60 s apart at least');
  t.same(planChunks({ keyframes: every(2, 130), durationS: 130, chunkS: 60, segmentS: 2, fps: 30 }).map((c) => c.start_s), [0, 60], '10 s left: no third chunk');
  t.equal(planChunks({ keyframes: [0, 8.333333], durationS: 150, chunkS: 60, segmentS: 2, fps: 30 }).length, 1, 'no cut point: one pass');
});

t.test('an NTSC keyframe within half a frame of the boundary is a cut point', async (t) => {
  const fps = 30000 / 1001;
  const keyframes = [0, Math.round(60 * fps) / fps, Math.round(120 * fps) / fps];
  const chunks = planChunks({ keyframes, durationS: 180, chunkS: 60, segmentS: 2, fps });
  t.same(chunks.map((c) => c.first_segment), [0, 30, 60]);
  t.same(chunks.map((c) => c.first_frame), [0, 1798, 3596]);
});

t.test('a part keeps its segments and inits, never its playlists', async (t) => {
  const chunk = { kind: 'video', index: 2, start_s: 16, end_s: null, first_segment: 8, first_frame: 480 } as const;
  t.equal(chunkOutputKey(chunk, '360p/seg-00008.m4s'), '360p/seg-00008.m4s');
  t.equal(chunkOutputKey(chunk, '360p/init_360p.mp4'), 'chunks/video-2/360p/init_360p.mp4');
  t.equal(chunkOutputKey(chunk, '360p/index.m3u8'), null);
  t.equal(chunkOutputKey(chunk, 'master.m3u8'), null);
  t.equal(chunkOutputKey({ kind: 'audio' }, 'sprite-0.jpg'), 'sprite-0.jpg');
  t.equal(chunkOutputKey({ kind: 'audio' }, 'master.mpd'), null);
  t.equal(chunkOutputKey(chunk, 'tile-00008.jpg'), 'chunks/tiles/tile-00008.jpg', 'storyboard tiles are numbered on the timeline: one folder for all chunks');
});

t.test("a chunk's first storyboard tile is the first interval that opens at or after its first frame", async (t) => {
  t.equal(firstTileOfChunk({ interval_s: 2 }, 0, 30), 0);
  t.equal(firstTileOfChunk({ interval_s: 2 }, 1800, 30), 30, 'a chunk on an interval boundary opens that tile');
  t.equal(firstTileOfChunk({ interval_s: 5 }, 1800, 30), 12, '60 s = tile 12 of 5 s');
  t.equal(firstTileOfChunk({ interval_s: 7 }, 1800, 30), 9, 'tile 8 opened at 56 s, in the chunk before; 9 opens at 63 s');
  // NTSC: 2 s is 59.94 frames; tile 30 opens at frame 1799 (ceil(30 × 59.94)), inside a chunk from frame 1798.
  t.equal(firstTileOfChunk({ interval_s: 2 }, 1798, 30000 / 1001), 30);
  t.equal(firstTileOfChunk({ interval_s: 2 }, 1799, 30000 / 1001), 30);
  t.equal(firstTileOfChunk({ interval_s: 2 }, 1800, 30000 / 1001), 31);
});

function rendition(starts: [number, number][], name = '360p'): MeasuredRendition {
  return {
    name,
    initUri: `init_${name}.mp4`,
    timescale: 15360,
    videoCodec: 'avc1.64001e',
    segments: starts.map(([start, ticks], i) => ({ uri: `seg-${i}.m4s`, bytes: 1000, duration: ticks / 15360, start, ticks })),
    peakBps: 4000,
    averageBps: 4000,
  };
}

t.test('chunks join when every segment starts where the one before ends', async (t) => {
  const joined = joinRendition([rendition([[0, 30720], [30720, 30720]]), rendition([[61440, 30720], [92160, 512]])]);
  t.equal(joined.segments.length, 4);
  t.equal(joined.segments.at(-1)!.start, 92160);
});

t.test('a gap or an overlap at a join is refused, naming the segment', async (t) => {
  t.throws(() => joinRendition([rendition([[0, 30720]]), rendition([[31232, 30720]])]), new ChunkJoinError('360p: a gap of 512 ticks (1/15360 s) before seg-0.m4s (chunk 1): it starts at 31232, the segment before it ends at 30720'));
  t.throws(() => joinRendition([rendition([[0, 30720]]), rendition([[30208, 30720]])]), /an overlap of 512 ticks/);
  t.throws(() => joinRendition([rendition([[512, 30720]])]), /a gap of 512 ticks/, 'the first segment starts at 0');
});

t.test('init segments must be identical across chunks', async (t) => {
  assertSameInit('360p', [Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3)]);
  t.throws(() => assertSameInit('360p', [Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4)]), /360p: chunk 2's init segment differs from chunk 0's/);
});
