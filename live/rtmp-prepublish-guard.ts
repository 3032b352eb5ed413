/*
 * What an RTMP connection may make the server hold before its stream key is accepted.
 *
 * node-media-server sizes each chunk stream's buffer from the message length in the chunk
 * header (up to 16 MiB) and keeps one buffer per chunk stream id, reused and never freed, for
 * as many ids as a client cares to use, all before `publish`. The bytes of a message become
 * resident as they arrive. This guard reads the same byte stream first (the RTMP handshake,
 * then chunks: basic header, message header types 0-3, extended timestamps, set-chunk-size)
 * and keeps NMS's own accounting: per chunk stream the most bytes ever written into its
 * buffer. Bytes that would break a limit are never handed to NMS.
 *
 * It mirrors NMS 4's parser (src/protocol/rtmp.js `parserData`/`chunkRead`) on purpose,
 * quirks included (a fmt 3 chunk reuses the previous extended-timestamp flag; the 3-byte
 * basic header's id formula), so both read the same chunk boundaries. Once publishing is
 * accepted the guard is detached: an authenticated encoder's keyframes are not capped.
 */

/** Limits for a connection whose stream key is not accepted yet. */
export interface PrePublishLimits {
  /** Largest message length a chunk header may announce. */
  maxMessageBytes: number;
  /** Distinct chunk stream ids. */
  maxChunkStreams: number;
  /** Sum over chunk streams of the bytes held in their buffers. */
  maxBufferedBytes: number;
}

export type GuardViolation =
  | { kind: 'message_too_large'; chunkStream: number; bytes: number }
  | { kind: 'too_many_chunk_streams'; chunkStreams: number }
  | { kind: 'buffered_too_much'; bytes: number }
  | { kind: 'bad_chunk_size'; size: number }
  /** Chunks NMS would misread (e.g. a message header changing the length mid-message): guard and NMS could disagree after them. */
  | { kind: 'malformed_chunk'; reason: string };

/** C0 (version) + C1 + C2. */
const HANDSHAKE_BYTES = 1 + 1536 + 1536;
const MESSAGE_HEADER_BYTES = [11, 7, 3, 0] as const;
const DEFAULT_CHUNK_SIZE = 128;
const TYPE_SET_CHUNK_SIZE = 1;
/** RFC-less but NMS-compatible: RTMP says 1 … 2^31-1. */
const MAX_CHUNK_SIZE = 0x7fffffff;
const EXTENDED = 0xffffff;

interface ChunkStream {
  length: number;
  type: number;
  /** The timestamp field of the last header (0xffffff: an extended timestamp follows). */
  timestamp: number;
  /** Bytes of the current message received so far. */
  received: number;
  /** The most bytes its NMS buffer ever held (NMS keeps the buffer for reuse). */
  held: number;
  /** NMS's message clock; NMS skips the handling of a message whose clock passed 2^32-1. */
  clock: number;
  /** First bytes of a set-chunk-size message (its payload is all this guard reads). */
  control: number[];
}

type State = 'basic' | 'header' | 'payload';

export class RtmpPrePublishGuard {
  private handshakeLeft = HANDSHAKE_BYTES;
  private state: State = 'basic';
  private header: number[] = [];
  /** Header bytes expected for the chunk being read (basic + message + extended timestamp). */
  private headerSize = 1;
  private basicSize = 1;
  private fmt = 0;
  private current: ChunkStream | undefined;
  private chunkSize = DEFAULT_CHUNK_SIZE;
  private readonly streams = new Map<number, ChunkStream>();
  private buffered = 0;

  constructor(private readonly limits: PrePublishLimits) {}

  /** True once C0, C1 and C2 have all arrived. */
  get handshakeDone(): boolean {
    return this.handshakeLeft === 0;
  }

  /** Bytes the connection's messages hold in NMS's buffers now. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Reads the next bytes of the connection; the first limit they break, or null. After a
   * violation the connection must be closed (the guard's state is no longer meaningful).
   */
  feed(data: Buffer): GuardViolation | null {
    let p = Math.min(this.handshakeLeft, data.length);
    this.handshakeLeft -= p;
    while (p < data.length) {
      switch (this.state) {
        case 'basic': {
          if (this.header.length === 0) {
            const id = data[p]! & 0x3f;
            this.basicSize = id === 0 ? 2 : id === 1 ? 3 : 1;
            // Header size without the extended timestamp (known once the fmt's fields are read).
            this.headerSize = this.basicSize + MESSAGE_HEADER_BYTES[data[p]! >> 6]!;
          }
          p = this.take(data, p, this.headerSize);
          if (this.header.length < this.headerSize) break;
          const violation = this.chunkHeader();
          if (violation) return violation;
          break;
        }
        case 'header':
          // The extended timestamp (4 bytes) after the message header.
          p = this.take(data, p, this.headerSize);
          if (this.header.length === this.headerSize) {
            const violation = this.startPayload();
            if (violation) return violation;
          }
          break;
        case 'payload': {
          const s = this.current!;
          const inChunk = this.chunkSize - (s.received % this.chunkSize);
          const n = Math.min(inChunk, s.length - s.received, data.length - p);
          if (s.type === TYPE_SET_CHUNK_SIZE) for (let i = 0; i < n && s.control.length < 4; i++) s.control.push(data[p + i]!);
          s.received += n;
          p += n;
          if (s.received > s.held) {
            this.buffered += s.received - s.held;
            s.held = s.received;
            if (this.buffered > this.limits.maxBufferedBytes) return { kind: 'buffered_too_much', bytes: this.buffered };
          }
          if (s.received >= s.length) {
            const violation = this.messageDone(s);
            if (violation) return violation;
          } else if (s.received % this.chunkSize === 0) {
            this.nextChunk();
          }
          break;
        }
      }
    }
    return null;
  }

  private take(data: Buffer, p: number, upTo: number): number {
    while (this.header.length < upTo && p < data.length) this.header.push(data[p++]!);
    return p;
  }

  private chunkHeader(): GuardViolation | null {
    const h = this.header;
    const fmt = (this.fmt = h[0]! >> 6);
    const id = this.basicSize === 2 ? 64 + h[1]! : this.basicSize === 3 ? (64 + h[1]! + h[2]!) << 8 : h[0]! & 0x3f;
    let s = this.streams.get(id);
    if (!s) {
      s = { length: 0, type: 0, timestamp: 0, received: 0, held: 0, clock: 0, control: [] };
      this.streams.set(id, s);
      if (this.streams.size > this.limits.maxChunkStreams) return { kind: 'too_many_chunk_streams', chunkStreams: this.streams.size };
    }
    const at = this.basicSize;
    const uint24 = (o: number) => (h[o]! << 16) | (h[o + 1]! << 8) | h[o + 2]!;
    if (fmt <= 2) s.timestamp = uint24(at);
    if (fmt <= 1) {
      const length = uint24(at + 3);
      // NMS keeps the bytes received and would step back in its input when the new length is shorter.
      if (s.received > 0 && length !== s.length) return { kind: 'malformed_chunk', reason: 'message length changed mid-message' };
      s.length = length;
      s.type = h[at + 6]!;
      if (s.length > this.limits.maxMessageBytes) return { kind: 'message_too_large', chunkStream: id, bytes: s.length };
    }
    this.current = s;
    if (s.timestamp !== EXTENDED) return this.startPayload();
    this.headerSize += 4;
    this.state = 'header';
    return null;
  }

  private startPayload(): GuardViolation | null {
    const s = this.current!;
    if (s.received === 0) {
      s.control = [];
      const h = this.header;
      const at = this.headerSize - 4;
      const delta = s.timestamp === EXTENDED ? ((h[at]! << 24) | (h[at + 1]! << 16) | (h[at + 2]! << 8) | h[at + 3]!) >>> 0 : s.timestamp;
      s.clock = this.fmt === 0 ? delta : s.clock + delta;
    }
    this.state = 'payload';
    // A zero-length message completes at once, as in NMS.
    return s.length === 0 ? this.messageDone(s) : null;
  }

  private messageDone(s: ChunkStream): GuardViolation | null {
    s.received = 0;
    this.nextChunk();
    if (s.type !== TYPE_SET_CHUNK_SIZE || s.clock > 0xffffffff) return null;
    // NMS reads 4 bytes whatever the length: from a shorter message they would be stale ones.
    if (s.length < 4) return { kind: 'malformed_chunk', reason: 'set-chunk-size message shorter than 4 bytes' };
    const size = ((s.control[0]! << 24) | (s.control[1]! << 16) | (s.control[2]! << 8) | s.control[3]!) >>> 0;
    // NMS takes any value; 0 would stall its parser and a huge one is meaningless.
    if (size < 1 || size > MAX_CHUNK_SIZE) return { kind: 'bad_chunk_size', size };
    this.chunkSize = size;
    return null;
  }

  private nextChunk(): void {
    this.state = 'basic';
    this.header = [];
  }
}
