/*
 * Just enough of ISO BMFF to describe the fMP4 files the ladder wrote: the init segment's
 * timescale and video codec, and each media segment's start and duration in that timescale.
 * The manifests are written from these (not from ffmpeg's rounded EXTINF values), so the
 * MPD's SegmentTimeline matches the tfdt players read from the segments.
 */

interface Box {
  type: string;
  /** Offset of the payload (after the header). */
  start: number;
  end: number;
}

/** Boxes whose payload is only child boxes. */
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'moof', 'traf', 'mvex']);
/** Sample entries: their children follow a fixed header of this many bytes (after stsd's 8). */
const SAMPLE_ENTRY_HEADER: Record<string, number> = { avc1: 78, avc3: 78, mp4a: 28 };

function* children(data: Uint8Array, view: DataView, start: number, end: number): Generator<Box> {
  let at = start;
  while (at + 8 <= end) {
    let size = view.getUint32(at);
    let header = 8;
    if (size === 1 && at + 16 <= end) {
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || at + size > end) return;
    const type = String.fromCharCode(data[at + 4]!, data[at + 5]!, data[at + 6]!, data[at + 7]!);
    yield { type, start: at + header, end: at + size };
    at += size;
  }
}

/** Depth-first search for the first box of `type`, descending into containers and sample entries. */
function find(data: Uint8Array, type: string): Box | null {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const walk = (start: number, end: number): Box | null => {
    for (const box of children(data, view, start, end)) {
      if (box.type === type) return box;
      let inner: number | null = null;
      if (CONTAINERS.has(box.type)) inner = box.start;
      else if (box.type === 'stsd') inner = box.start + 8;
      else if (SAMPLE_ENTRY_HEADER[box.type] !== undefined) inner = box.start + SAMPLE_ENTRY_HEADER[box.type]!;
      const found = inner === null ? null : walk(inner, box.end);
      if (found) return found;
    }
    return null;
  };
  return walk(0, data.length);
}

function viewOf(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/** The mdhd timescale of the (first) track of an fMP4 init segment; null if absent. */
export function readInitTimescale(init: Uint8Array): number | null {
  const mdhd = find(init, 'mdhd');
  if (!mdhd) return null;
  const view = viewOf(init);
  const at = mdhd.start + (init[mdhd.start] === 1 ? 20 : 12);
  return at + 4 <= mdhd.end ? view.getUint32(at) : null;
}

/** RFC 6381 codecs of an H.264 track ("avc1.64001f") from its avcC box; null for other codecs. */
export function readInitVideoCodec(init: Uint8Array): string | null {
  const avcC = find(init, 'avcC');
  if (!avcC || avcC.start + 4 > avcC.end) return null;
  const hex = (i: number): string => init[avcC.start + i]!.toString(16).padStart(2, '0');
  return `avc1.${hex(1)}${hex(2)}${hex(3)}`;
}

/** Where a media segment sits on its track's timeline, in the track's timescale. */
export interface SegmentTiming {
  /** baseMediaDecodeTime (tfdt). */
  start: number;
  /** Sum of the sample durations of its first track fragment. */
  duration: number;
}

/** tfdt and total sample duration of a media segment's first track fragment; null if unreadable. */
export function readSegmentTiming(segment: Uint8Array): SegmentTiming | null {
  const view = viewOf(segment);
  const tfdt = find(segment, 'tfdt');
  const tfhd = find(segment, 'tfhd');
  if (!tfdt || !tfhd) return null;
  const start = segment[tfdt.start] === 1 ? Number(view.getBigUint64(tfdt.start + 4)) : view.getUint32(tfdt.start + 4);

  // tfhd: flags, track_ID, then optional fields in this order.
  const tfhdFlags = view.getUint32(tfhd.start) & 0xffffff;
  let at = tfhd.start + 8;
  if (tfhdFlags & 0x1) at += 8; // base_data_offset
  if (tfhdFlags & 0x2) at += 4; // sample_description_index
  const defaultDuration = tfhdFlags & 0x8 ? view.getUint32(at) : 0;

  let duration = 0;
  const traf = find(segment, 'traf');
  for (const box of traf ? children(segment, view, traf.start, traf.end) : []) {
    if (box.type !== 'trun') continue;
    const flags = view.getUint32(box.start) & 0xffffff;
    const count = view.getUint32(box.start + 4);
    if (!(flags & 0x100)) {
      duration += count * defaultDuration;
      continue;
    }
    let p = box.start + 8 + (flags & 0x1 ? 4 : 0) + (flags & 0x4 ? 4 : 0);
    const stride = 4 * [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length;
    for (let i = 0; i < count && p + 4 <= box.end; i++, p += stride) duration += view.getUint32(p);
  }
  return { start, duration };
}

/** Every tfdt box of a media segment (one per track fragment of every moof), in file order. */
function decodeTimeBoxes(segment: Uint8Array): Box[] {
  const view = viewOf(segment);
  const found: Box[] = [];
  for (const moof of children(segment, view, 0, segment.length)) {
    if (moof.type !== 'moof') continue;
    for (const traf of children(segment, view, moof.start, moof.end)) {
      if (traf.type !== 'traf') continue;
      for (const box of children(segment, view, traf.start, traf.end)) if (box.type === 'tfdt') found.push(box);
    }
  }
  return found;
}

/**
 * A copy of a media segment moved on its track's timeline so that it starts at `start` (its
 * first tfdt becomes `start`, later fragments keep their distance). A clip's re-encoded edge
 * pieces are placed this way right against the parent's segments they join.
 */
export function withDecodeTime(segment: Uint8Array, start: number): Uint8Array {
  const out = Uint8Array.from(segment);
  const view = viewOf(out);
  const boxes = decodeTimeBoxes(out);
  const first = boxes[0];
  if (!first) throw new Error('the segment has no tfdt box');
  const read = (b: Box): number => (out[b.start] === 1 ? Number(view.getBigUint64(b.start + 4)) : view.getUint32(b.start + 4));
  const delta = start - read(first);
  for (const box of boxes) {
    const value = read(box) + delta;
    if (value < 0) throw new Error('a fragment would start before the track');
    if (out[box.start] === 1) view.setBigUint64(box.start + 4, BigInt(value));
    else if (value <= 0xffffffff) view.setUint32(box.start + 4, value);
    else throw new Error('a 32-bit tfdt cannot hold the new start');
  }
  return out;
}

/** The sample description (stsd) of an init segment, to tell whether two inits decode alike. */
export function readSampleDescription(init: Uint8Array): Uint8Array | null {
  const stsd = find(init, 'stsd');
  return stsd ? init.subarray(stsd.start, stsd.end) : null;
}
