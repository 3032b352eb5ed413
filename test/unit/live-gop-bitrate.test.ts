/**
 * An ingest that declares no bitrate (SRT's MPEG-TS) is measured over its first whole GOP:
 * the video bytes from one keyframe to the next over their time apart.
 */
import t from 'tap';
import { GopBitrate } from '../../live/gop-bitrate.js';

/** An FLV video tag: header (type 9, size, timestamp), frame type + AVC packet type, payload, previous size. */
function videoTag(ms: number, keyframe: boolean, payloadBytes: number, avcPacketType = 1): Buffer {
  const tag = Buffer.alloc(11 + 2 + payloadBytes + 4);
  tag[0] = 9;
  tag.writeUIntBE(2 + payloadBytes, 1, 3);
  tag.writeUIntBE(ms & 0xffffff, 4, 3);
  tag[7] = Math.floor(ms / 2 ** 24);
  tag[11] = ((keyframe ? 1 : 2) << 4) | 7;
  tag[12] = avcPacketType;
  return tag;
}

t.test('one GOP of 2 s at 250 KB/s measures 1000 kbps; nothing before it completes', async (t) => {
  const gop = new GopBitrate();
  t.equal(gop.push(videoTag(0, true, 0, 0)), undefined, 'a sequence header is not a picture');
  t.equal(gop.push(videoTag(500, false, 9_999)), undefined, 'frames before the first keyframe do not count');
  // 60 frames of 4165 bytes (+2 bytes of AVC header each) from 1000 ms to 3000 ms.
  for (let i = 0; i < 60; i++) t.equal(gop.push(videoTag(1000 + Math.round((i * 1000) / 30), i === 0, 4165 - 2)), undefined);
  t.equal(gop.measured, undefined);
  t.equal(gop.push(videoTag(3000, true, 5000)), Math.round((60 * 4165 * 8) / 2000), 'the next keyframe completes it');
  t.equal(gop.measured, 1000);
  t.equal(gop.push(videoTag(5000, true, 50_000)), undefined, 'measured once');
  t.equal(gop.measured, 1000);
});
