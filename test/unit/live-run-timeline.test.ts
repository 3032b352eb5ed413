/**
 * Every rendition of a live run keeps the publisher's clock (live/run-timeline.ts): each
 * output track starts at 0 in ffmpeg's fMP4, so it is moved by where it began in the FLV.
 */
import t from 'tap';
import { flvCompositionTime } from '../../live/flv-tags.js';
import { AAC_FRAME_S } from '../../live/live-command.js';
import { RunTimeline } from '../../live/run-timeline.js';

/** An FLV tag: 11-byte header, `data`, previous tag size. */
function tag(type: 8 | 9, ms: number, data: number[]): Buffer {
  const out = Buffer.alloc(11 + data.length + 4);
  out[0] = type;
  out.writeUIntBE(data.length, 1, 3);
  out.writeUIntBE(ms & 0xffffff, 4, 3);
  out[7] = Math.floor(ms / 2 ** 24);
  Buffer.from(data).copy(out, 11);
  return out;
}

/** An AVC video tag: frame type (1 key, 2 inter), packet type, 24-bit signed composition time. */
function video(ms: number, key: boolean, ctsMs: number, packetType = 1): Buffer {
  const cts = ctsMs & 0xffffff;
  return tag(9, ms, [((key ? 1 : 2) << 4) | 7, packetType, cts >> 16, (cts >> 8) & 0xff, cts & 0xff, 0, 0]);
}

/** An AAC audio tag (packet type 1: raw; 0: sequence header). */
function audio(ms: number, packetType = 1): Buffer {
  return tag(8, ms, [0xaf, packetType, 0x21, 0x10]);
}

const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;

t.test('composition times are read as signed 24-bit milliseconds, from pictures only', async (t) => {
  t.equal(flvCompositionTime(video(0, true, 67)), 67);
  t.equal(flvCompositionTime(video(0, false, -33)), -33);
  t.equal(flvCompositionTime(video(0, true, 67, 0)), 0, 'a sequence header has none');
  t.equal(flvCompositionTime(audio(0)), 0);
});

t.test('ffmpeg with B-frames: audio at 46 ms, the first picture decoded at 0 and shown at 67 ms', async (t) => {
  const timeline = new RunTimeline(AAC_FRAME_S);
  t.equal(timeline.note(video(0, true, 0, 0)), undefined, 'sequence headers carry no media time');
  t.equal(timeline.note(audio(0, 0)), undefined);
  t.equal(timeline.note(video(0, true, 67)), 0);
  t.equal(timeline.note(video(34, false, 133)), 34);
  t.equal(timeline.note(audio(46)), 46);
  // The copied rung keeps the publisher's composition offset; an encoded one has none.
  const copied = timeline.videoShift(0.067);
  const encoded = timeline.videoShift(0);
  t.ok(near(copied + 0.067, encoded), 'both rungs show their first picture at the same time');
  t.ok(near(encoded, 0.067 + AAC_FRAME_S), 'the timeline starts one AAC frame before the first tag');
  // The AAC encode's first packet is its priming frame: the source's first sample follows it.
  const firstSample = timeline.audioShift() + AAC_FRAME_S;
  t.ok(near(encoded - firstSample, 0.067 - 0.046), 'the sound starts 21 ms before the picture, as in the FLV');
});

t.test('OBS without B-frames: audio and picture both at 0', async (t) => {
  const timeline = new RunTimeline(AAC_FRAME_S);
  timeline.note(audio(0));
  timeline.note(video(0, true, 0));
  t.ok(near(timeline.videoShift(0), AAC_FRAME_S), 'the picture at the first source sample');
  t.equal(timeline.audioShift(), 0, 'the priming frame before it, from 0');
});

t.test('nothing noted (ffmpeg pulls the input itself): nothing moves', async (t) => {
  const timeline = new RunTimeline(AAC_FRAME_S);
  t.equal(timeline.videoShift(0.067), 0);
  t.equal(timeline.audioShift(), 0);
});
