/*
 * Reads a fragmented MP4 as ffmpeg's mp4 muxer streams it (`-movflags
 * +frag_keyframe+empty_moov+default_base_moof`, `-frag_duration`): the init segment (ftyp +
 * moov) first, then one fragment (moof + mdat) per ≤ part duration or per keyframe. Each
 * fragment becomes an LL-HLS part; fragments that start on a keyframe may start a segment.
 *
 * Only the boxes a packager needs are read: the track's timescale and default sample
 * duration (moov/trak/mdia/mdhd, moov/mvex/trex), and per fragment the decode time (tfdt),
 * the sample durations (trun, else tfhd, else trex) and whether its first sample is a sync
 * sample (trun first-sample-flags, else the sample's flags, else tfhd's defaults), and its
 * composition offset (trun).
 */
import { withDecodeTime } from '../core/media/fmp4.js';

/** `fragment` with its decode times moved `seconds` later (its tfdt rewritten). */
export function shiftFragment(fragment: CmafFragment, seconds: number): CmafFragment {
  const ticks = Math.round(seconds * fragment.timescale);
  if (ticks === 0) return fragment;
  const start = Math.round(fragment.start * fragment.timescale) + ticks;
  const bytes = withDecodeTime(fragment.bytes, start);
  return { ...fragment, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), start: start / fragment.timescale };
}

/** One moof + mdat, as bytes ready to serve. */
export interface CmafFragment {
  bytes: Buffer;
  /** Decode time of its first sample, seconds. */
  start: number;
  /** Seconds. */
  duration: number;
  /** Its first sample is a sync sample (a keyframe; every audio fragment). */
  keyframe: boolean;
  /** Presentation minus decode time of its first sample, seconds (B-frames make it positive). */
  firstCompositionOffset: number;
  /** Ticks per second of the track's times. */
  timescale: number;
}

export interface CmafListener {
  init(bytes: Buffer): void;
  fragment(fragment: CmafFragment): void;
}

interface Box {
  type: string;
  start: number;
  end: number;
  /** Offset of the payload (after size and type). */
  body: number;
}

function* children(buf: Buffer, start: number, end: number): Generator<Box> {
  let at = start;
  while (at + 8 <= end) {
    let size = buf.readUInt32BE(at);
    let body = at + 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      body = at + 16;
    }
    if (size < 8 || at + size > end) return;
    yield { type: buf.toString('latin1', at + 4, at + 8), start: at, end: at + size, body };
    at += size;
  }
}

function child(buf: Buffer, parent: Box, type: string): Box | undefined {
  for (const b of children(buf, parent.body, parent.end)) if (b.type === type) return b;
  return undefined;
}

function path(buf: Buffer, root: Box, ...types: string[]): Box | undefined {
  let at: Box | undefined = root;
  for (const t of types) at = at && child(buf, at, t);
  return at;
}

const NON_SYNC = 0x10000;

/** Incremental parser: `push()` what the pipe gives, the listener hears whole boxes. */
export class CmafFragmentReader {
  private pending: Buffer = Buffer.alloc(0);
  private timescale = 0;
  private trexDuration = 0;
  private trexFlags = 0;
  private header: Buffer[] = [];
  private moof: Buffer | undefined;

  constructor(private readonly listener: CmafListener) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.pending.length < 8) return;
      let size = this.pending.readUInt32BE(0);
      if (size === 1) {
        if (this.pending.length < 16) return;
        size = Number(this.pending.readBigUInt64BE(8));
      }
      if (size < 8) throw new Error(`bad MP4 box size ${size}`);
      if (this.pending.length < size) return;
      const box = this.pending.subarray(0, size);
      this.pending = this.pending.subarray(size);
      this.onBox(box.toString('latin1', 4, 8), box);
    }
  }

  private onBox(type: string, box: Buffer): void {
    if (type === 'ftyp') this.header = [box];
    else if (type === 'moov') {
      this.readMoov(box);
      this.listener.init(Buffer.concat([...this.header, box]));
      this.header = [];
    } else if (type === 'moof') this.moof = Buffer.from(box);
    else if (type === 'mdat' && this.moof) {
      const bytes = Buffer.concat([this.moof, box]);
      this.moof = undefined;
      this.listener.fragment(this.readFragment(bytes));
    }
  }

  private readMoov(box: Buffer): void {
    const moov = [...children(box, 0, box.length)][0]!;
    const mdhd = path(box, moov, 'trak', 'mdia', 'mdhd');
    if (mdhd) this.timescale = box.readUInt32BE(mdhd.body + (box[mdhd.body] === 1 ? 20 : 12));
    const trex = path(box, moov, 'mvex', 'trex');
    if (trex) {
      this.trexDuration = box.readUInt32BE(trex.body + 12);
      this.trexFlags = box.readUInt32BE(trex.body + 20);
    }
  }

  private readFragment(bytes: Buffer): CmafFragment {
    const moof = [...children(bytes, 0, bytes.length)][0]!;
    const traf = child(bytes, moof, 'traf');
    const scale = this.timescale || 1;
    let decodeTime = 0;
    let duration = 0;
    let keyframe = true;
    let firstOffset = 0;
    if (traf) {
      const tfdt = child(bytes, traf, 'tfdt');
      if (tfdt) decodeTime = bytes[tfdt.body] === 1 ? Number(bytes.readBigUInt64BE(tfdt.body + 4)) : bytes.readUInt32BE(tfdt.body + 4);
      let defaultDuration = this.trexDuration;
      let defaultFlags = this.trexFlags;
      const tfhd = child(bytes, traf, 'tfhd');
      if (tfhd) {
        const flags = bytes.readUInt32BE(tfhd.body) & 0xffffff;
        let at = tfhd.body + 8;
        if (flags & 0x1) at += 8; // base-data-offset
        if (flags & 0x2) at += 4; // sample-description-index
        if (flags & 0x8) defaultDuration = bytes.readUInt32BE((at += 4) - 4);
        if (flags & 0x10) at += 4; // default-sample-size
        if (flags & 0x20) defaultFlags = bytes.readUInt32BE(at);
      }
      let first = true;
      for (const trun of children(bytes, traf.body, traf.end)) {
        if (trun.type !== 'trun') continue;
        const flags = bytes.readUInt32BE(trun.body) & 0xffffff;
        const count = bytes.readUInt32BE(trun.body + 4);
        let at = trun.body + 8;
        if (flags & 0x1) at += 4; // data-offset
        let firstFlags: number | undefined;
        if (flags & 0x4) firstFlags = bytes.readUInt32BE((at += 4) - 4);
        for (let i = 0; i < count; i++) {
          let sampleDuration = defaultDuration;
          let sampleFlags = i === 0 && firstFlags !== undefined ? firstFlags : defaultFlags;
          if (flags & 0x100) sampleDuration = bytes.readUInt32BE((at += 4) - 4);
          if (flags & 0x200) at += 4;
          if (flags & 0x400) sampleFlags = bytes.readUInt32BE((at += 4) - 4);
          if (flags & 0x800) {
            // Version 1 offsets are signed; version 0 ones unsigned.
            if (first) firstOffset = bytes[trun.body] === 1 ? bytes.readInt32BE(at) : bytes.readUInt32BE(at);
            at += 4;
          }
          if (first) keyframe = (sampleFlags & NON_SYNC) === 0;
          first = false;
          duration += sampleDuration;
        }
      }
    }
    return { bytes, start: decodeTime / scale, duration: duration / scale, keyframe, firstCompositionOffset: firstOffset / scale, timescale: scale };
  }
}
