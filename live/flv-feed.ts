/**
 * An FLV byte stream (e.g. an ffmpeg remuxing a non-RTMP ingest with `-f flv pipe:1`) cut
 * into tags and fanned out to subscribers the way core/live/ingest.ts asks of every ingest:
 * a subscriber first gets the FLV header, the onMetaData tag, the AVC and AAC sequence
 * headers and the tags since the last video keyframe (the GOP), then every tag, one per
 * callback, as node-media-server does for RTMP.
 *
 * A chunk handed to subscribers is a whole tag (11-byte header, data, 4-byte previous tag
 * size), so the broadcast reads a tag's type at byte 0 and its first data byte at 11.
 */
import type { IngestMetadata } from '../core/live/ingest.js';
import { isFlvSequenceHeader, isFlvVideoKeyframe, TAG_AUDIO, TAG_HEADER_BYTES, TAG_SCRIPT, TAG_VIDEO } from './flv-tags.js';

const FLV_HEADER_BYTES = 9 + 4;
/** A GOP longer than this is not cached whole (a publisher without keyframes must not grow memory). */
const MAX_GOP_BYTES = 32 * 1024 * 1024;
/** Larger tags are malformed input, not media (an uncompressed 4K frame is ~12 MiB). */
const MAX_TAG_BYTES = 16 * 1024 * 1024;

export const NO_METADATA: IngestMetadata = { width: 0, height: 0, fps: 0, videoKbps: 0, videoCodecId: 0, audioCodecId: 0 };

/** The numbers of an AMF0 `onMetaData` (ECMA array or object); other values are skipped or end the read. */
export function parseOnMetaData(data: Buffer): Record<string, number> {
  const out: Record<string, number> = {};
  let p = 0;
  const str = (): string | undefined => {
    if (p + 2 > data.length) return undefined;
    const n = data.readUInt16BE(p);
    if (p + 2 + n > data.length) return undefined;
    const s = data.toString('utf8', p + 2, p + 2 + n);
    p += 2 + n;
    return s;
  };
  if (data[p++] !== 0x02 || str() !== 'onMetaData') return out;
  const type = data[p++];
  if (type === 0x08) p += 4;
  else if (type !== 0x03) return out;
  while (p < data.length) {
    const key = str();
    if (!key) break;
    const t = data[p++];
    if (t === 0x00 && p + 8 <= data.length) {
      out[key] = data.readDoubleBE(p);
      p += 8;
    } else if (t === 0x01) p += 1;
    else if (t === 0x02) {
      if (str() === undefined) break;
    } else break;
  }
  return out;
}

function metadataOf(values: Record<string, number>): IngestMetadata {
  const n = (k: string) => (Number.isFinite(values[k]) ? values[k]! : 0);
  return {
    width: n('width'),
    height: n('height'),
    fps: n('framerate'),
    videoKbps: n('videodatarate'),
    videoCodecId: n('videocodecid'),
    audioCodecId: n('audiocodecid'),
  };
}

export class FlvFeed {
  private pending: Buffer = Buffer.alloc(0);
  private header: Buffer | undefined;
  private metaTag: Buffer | undefined;
  private videoSequence: Buffer | undefined;
  private audioSequence: Buffer | undefined;
  private gop: Buffer[] = [];
  private gopBytes = 0;
  private meta: IngestMetadata = NO_METADATA;
  private broken = false;
  private readonly subscribers = new Set<(tag: Buffer) => void>();

  /** What onMetaData declared (zeros until it arrives). */
  metadata(): IngestMetadata {
    return this.meta;
  }

  /** True once the bytes stopped being FLV; nothing more is read. */
  get malformed(): boolean {
    return this.broken;
  }

  /** Reads the next bytes of the stream (any split). */
  push(bytes: Buffer): void {
    if (this.broken) return;
    this.pending = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes]);
    if (!this.header) {
      if (this.pending.length < FLV_HEADER_BYTES) return;
      if (this.pending.toString('latin1', 0, 3) !== 'FLV') {
        this.broken = true;
        return;
      }
      this.header = this.pending.subarray(0, FLV_HEADER_BYTES);
      this.pending = this.pending.subarray(FLV_HEADER_BYTES);
      this.send(this.header);
    }
    while (this.pending.length >= TAG_HEADER_BYTES) {
      const size = this.pending.readUIntBE(1, 3);
      if (size > MAX_TAG_BYTES) {
        this.broken = true;
        return;
      }
      const total = TAG_HEADER_BYTES + size + 4;
      if (this.pending.length < total) return;
      // A copy: subscribers may keep the tag while the pending buffer is reused.
      const tag = Buffer.from(this.pending.subarray(0, total));
      this.pending = this.pending.subarray(total);
      this.onTag(tag);
    }
  }

  /** Subscribes: the replay (header, metadata, sequence headers, GOP), then every tag. */
  attach(onData: (tag: Buffer) => void): () => void {
    for (const tag of [this.header, this.metaTag, this.videoSequence, this.audioSequence, ...this.gop]) if (tag) onData(tag);
    this.subscribers.add(onData);
    return () => void this.subscribers.delete(onData);
  }

  private onTag(tag: Buffer): void {
    const type = tag[0]! & 0x1f;
    if (type === TAG_SCRIPT) {
      this.metaTag = tag;
      this.meta = metadataOf(parseOnMetaData(tag.subarray(TAG_HEADER_BYTES, tag.length - 4)));
    } else if (type === TAG_VIDEO && isFlvSequenceHeader(tag)) this.videoSequence = tag;
    else if (type === TAG_AUDIO && isFlvSequenceHeader(tag)) this.audioSequence = tag;
    else if (type === TAG_VIDEO || type === TAG_AUDIO) this.keepInGop(tag);
    this.send(tag);
  }

  private keepInGop(tag: Buffer): void {
    if (isFlvVideoKeyframe(tag)) {
      this.gop = [];
      this.gopBytes = 0;
    } else if (this.gop.length === 0) return;
    if (this.gopBytes + tag.length > MAX_GOP_BYTES) return;
    this.gop.push(tag);
    this.gopBytes += tag.length;
  }

  private send(tag: Buffer): void {
    for (const s of this.subscribers) s(tag);
  }
}
