/** Raw RTMP bytes for tests of the ingest's pre-publish limits: handshake and chunk headers. */
import { randomBytes } from 'node:crypto';

/** C0 + C1 of the simple handshake (C1's time and zero fields 0). */
export function c0c1(): Buffer {
  const c1 = randomBytes(1536);
  c1.fill(0, 0, 8);
  return Buffer.concat([Buffer.from([3]), c1]);
}

/** A chunk's basic header: 1 byte for chunk streams 2-63, 2 bytes for 64-319. */
export function basicHeader(fmt: number, chunkStream: number): Buffer {
  return chunkStream < 64 ? Buffer.from([(fmt << 6) | chunkStream]) : Buffer.from([fmt << 6, chunkStream - 64]);
}

/** A type-0 chunk header announcing a message of `length` bytes (type 9: video) on message stream 1. */
export function chunkHeader(chunkStream: number, length: number, type = 9, timestamp = 0): Buffer {
  const message = Buffer.alloc(timestamp >= 0xffffff ? 15 : 11);
  message.writeUIntBE(Math.min(timestamp, 0xffffff), 0, 3);
  message.writeUIntBE(length, 3, 3);
  message[6] = type;
  message.writeUInt32LE(1, 7);
  if (timestamp >= 0xffffff) message.writeUInt32BE(timestamp, 11);
  return Buffer.concat([basicHeader(0, chunkStream), message]);
}

/** Set Chunk Size: later chunks carry up to `size` bytes of payload. */
export function setChunkSize(size: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(size);
  return Buffer.concat([chunkHeader(2, 4, 1), payload]);
}

/** A whole message on `chunkStream`, cut into chunks of `chunkSize` (type-3 continuation headers). */
export function message(chunkStream: number, payload: Buffer, chunkSize: number, type = 20): Buffer {
  const parts = [chunkHeader(chunkStream, payload.length, type)];
  for (let at = 0; at < payload.length; at += chunkSize) {
    if (at > 0) parts.push(basicHeader(3, chunkStream));
    parts.push(payload.subarray(at, at + chunkSize));
  }
  return Buffer.concat(parts);
}
