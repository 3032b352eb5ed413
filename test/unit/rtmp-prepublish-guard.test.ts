/**
 * The pre-publish guard reads RTMP the way node-media-server does: an encoder's handshake and
 * commands pass whole or byte by byte, and each cap stops the bytes that would break it.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { RtmpPrePublishGuard, type GuardViolation } from '../../live/rtmp-prepublish-guard.js';
import { basicHeader, c0c1, chunkHeader, message, setChunkSize } from '../helpers/rtmp-chunks.js';

const LIMITS = { maxMessageBytes: 8192, maxChunkStreams: 8, maxBufferedBytes: 32768 };

/** Handshake, a 300-byte command in 128-byte chunks, set chunk size 4096, a 3000-byte command in one chunk. */
function encoderOpening(): Buffer {
  return Buffer.concat([c0c1(), randomBytes(1536), message(3, randomBytes(300), 128), setChunkSize(4096), message(3, randomBytes(3000), 4096)]);
}

function feedAll(guard: RtmpPrePublishGuard, data: Buffer, step = data.length): GuardViolation | null {
  for (let at = 0; at < data.length; at += step) {
    const v = guard.feed(data.subarray(at, at + step));
    if (v) return v;
  }
  return null;
}

t.test("an encoder's opening passes, whole or byte by byte", async (t) => {
  for (const step of [1, 7, 100_000]) {
    const guard = new RtmpPrePublishGuard(LIMITS);
    t.equal(feedAll(guard, encoderOpening(), step), null, `in pieces of ${step}`);
    t.ok(guard.handshakeDone);
    // Each chunk stream's buffer keeps its largest message: 300 then 3000 on stream 3, 4 on stream 2.
    t.equal(guard.bufferedBytes, 3004);
  }
});

t.test('an extended timestamp does not shift the chunk boundaries', async (t) => {
  const guard = new RtmpPrePublishGuard(LIMITS);
  const data = Buffer.concat([c0c1(), randomBytes(1536), chunkHeader(4, 100, 9, 0x1000000), randomBytes(100), chunkHeader(5, 9000)]);
  t.match(feedAll(guard, data), { kind: 'message_too_large', chunkStream: 5, bytes: 9000 });
});

const handshake = () => Buffer.concat([c0c1(), randomBytes(1536)]);
const cases: { name: string; bytes: () => Buffer; violation: Partial<GuardViolation> }[] = [
  {
    name: 'unfinished messages parked over chunk streams',
    bytes: () => Buffer.concat([handshake(), setChunkSize(7000), ...[3, 4, 5, 6, 7].map((cs) => Buffer.concat([chunkHeader(cs, 8192), randomBytes(7000)]))]),
    violation: { kind: 'buffered_too_much' },
  },
  { name: 'a message larger than the cap', bytes: () => Buffer.concat([handshake(), chunkHeader(3, 0xffffff)]), violation: { kind: 'message_too_large', bytes: 0xffffff } },
  {
    name: 'more chunk streams than the cap',
    bytes: () => Buffer.concat([handshake(), ...Array.from({ length: 12 }, (_, i) => Buffer.concat([chunkHeader(64 + i, 10), randomBytes(10)]))]),
    violation: { kind: 'too_many_chunk_streams', chunkStreams: 9 },
  },
  { name: 'a chunk size of 0', bytes: () => Buffer.concat([handshake(), setChunkSize(0)]), violation: { kind: 'bad_chunk_size', size: 0 } },
  {
    name: 'a message length changed mid-message',
    bytes: () => Buffer.concat([handshake(), chunkHeader(3, 1000), randomBytes(128), chunkHeader(3, 10), randomBytes(10)]),
    violation: { kind: 'malformed_chunk' },
  },
  {
    name: 'a set-chunk-size shorter than 4 bytes',
    bytes: () => Buffer.concat([handshake(), chunkHeader(2, 1, 1), Buffer.from([1])]),
    violation: { kind: 'malformed_chunk' },
  },
];
for (const c of cases) {
  t.test(`${c.name} is stopped`, async (t) => {
    t.match(feedAll(new RtmpPrePublishGuard(LIMITS), c.bytes()), c.violation, 'fed whole');
    t.match(feedAll(new RtmpPrePublishGuard(LIMITS), c.bytes(), 1), c.violation, 'fed byte by byte');
  });
}

t.test('a type-3 chunk continues the message it belongs to', async (t) => {
  const guard = new RtmpPrePublishGuard(LIMITS);
  // 200 bytes of a 300-byte message at chunk size 128: 128, then a type-3 chunk of 72, then nothing more.
  const data = Buffer.concat([handshake(), chunkHeader(3, 300), randomBytes(128), basicHeader(3, 3), randomBytes(72)]);
  t.equal(feedAll(guard, data), null);
  t.equal(guard.bufferedBytes, 200);
});
