/** The clip planner, the storyboard of a clip and the tfdt move of a cut piece (pure functions). */
import t from 'tap';
import { clipStoryboard, pieceStart, planClip, snapRange, type RenditionTimeline } from '../../core/media/clip-plan.js';
import { readSegmentTiming, withDecodeTime } from '../../core/media/fmp4.js';

/** Ten 2 s segments at timescale 1000 whose first starts at tick 21. */
const timeline: RenditionTimeline = {
  name: '240p',
  timescale: 1000,
  origin: 21,
  segments: Array.from({ length: 10 }, (_, k) => ({ uri: `seg-${k}.m4s`, start: 21 + k * 2000, ticks: 2000 })),
};

t.test('4.2 → 11.7 s: a cut head, the whole segments inside, a cut tail', async (t) => {
  const plan = planClip(timeline, { start_s: 4.2, end_s: 11.7 }, 0.02);
  t.same(plan.map((p) => [p.kind, p.segment.uri]), [['cut', 'seg-2.m4s'], ['reuse', 'seg-3.m4s'], ['reuse', 'seg-4.m4s'], ['cut', 'seg-5.m4s']]);
  const [head, , , tail] = plan;
  if (head?.kind !== 'cut' || tail?.kind !== 'cut') throw new Error('expected cuts');
  t.ok(Math.abs(head.from_s - 0.2) < 1e-9 && head.to_s === 2, 'the head is 0.2–2 s of segment 2');
  t.equal(pieceStart(head.anchor, 1800), 6021 - 1800, 'the head ends where segment 3 starts');
  t.ok(tail.from_s === 0 && Math.abs(tail.to_s - 1.7) < 1e-9, 'the tail is 0–1.7 s of segment 5');
  t.equal(pieceStart(tail.anchor, 1700), 10_021, 'the tail starts where segment 5 started');
});

t.test('a range inside one segment is one cut piece at its own place', async (t) => {
  const plan = planClip(timeline, { start_s: 6.5, end_s: 7.5 }, 0.02);
  t.equal(plan.length, 1);
  t.equal(plan[0]?.kind === 'cut' && pieceStart(plan[0].anchor, 1000), 6521);
});

t.test('cuts within the tolerance of a boundary reuse the segment', async (t) => {
  const plan = planClip(timeline, { start_s: 4.01, end_s: 7.99 }, 0.02);
  t.same(plan.map((p) => p.kind), ['reuse', 'reuse']);
});

t.test('snap grows the range to the boundaries around it', async (t) => {
  t.same(snapRange(timeline, { start_s: 4.2, end_s: 11.7 }), { start_s: 4, end_s: 12 });
  t.same(snapRange(timeline, { start_s: 0, end_s: 20 }), { start_s: 0, end_s: 20 });
});

t.test('the clip storyboard points at the parent tiles, moved to clip time', async (t) => {
  const parent = ['WEBVTT', '', '00:00:00.000 --> 00:00:02.000', 'sprite-0.jpg#xywh=0,0,96,54', '', '00:00:02.000 --> 00:00:04.000', 'sprite-0.jpg#xywh=96,0,96,54', '', '00:00:04.000 --> 00:00:06.000', 'sprite-1.jpg#xywh=0,0,96,54', ''].join('\n');
  const { vtt, sheets } = clipStoryboard(parent, { start_s: 3, end_s: 5.5 }, 2500);
  t.same(sheets, ['sprite-0.jpg', 'sprite-1.jpg']);
  t.match(vtt, /00:00:00\.000 --> 00:00:01\.000\nsprite-0\.jpg#xywh=96,0,96,54/);
  t.match(vtt, /00:00:01\.000 --> 00:00:02\.500\nsprite-1\.jpg#xywh=0,0,96,54/);
});

t.test('withDecodeTime moves every fragment of a segment', async (t) => {
  const box = (type: string, body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from(type), body]).fill(0, 0, 0);
  const sized = (b: Buffer) => (b.writeUInt32BE(b.length, 0), b);
  const tfdt = (value: bigint) => { const b = Buffer.alloc(12); b[0] = 1; b.writeBigUInt64BE(value, 4); return sized(box('tfdt', b)); };
  const tfhd = sized(box('tfhd', Buffer.from([0, 0, 0, 0, 0, 0, 0, 1])));
  const moof = (value: bigint) => sized(box('moof', sized(box('traf', Buffer.concat([tfhd, tfdt(value)])))));
  const segment = Buffer.concat([moof(100n), sized(box('mdat', Buffer.alloc(4))), moof(150n), sized(box('mdat', Buffer.alloc(4)))]);
  const moved = Buffer.from(withDecodeTime(segment, 1000));
  t.equal(readSegmentTiming(moved)?.start, 1000, 'the first fragment starts at the new place');
  const second = moved.indexOf(Buffer.from('tfdt'), moved.indexOf(Buffer.from('tfdt')) + 4);
  t.equal(moved.readBigUInt64BE(second + 8), 1050n, 'the second keeps its distance');
});
