/**
 * Reading one FLV tag as the ingests hand it over (core/live/ingest.ts): a whole tag, its
 * 11-byte header (type, data size, timestamp), its data, and the 4-byte previous tag size.
 * The data of an H.264 video tag starts with frame type + codec id, the AVC packet type
 * (0 sequence header, 1 NAL units, 2 end of sequence) and the composition time offset; an
 * AAC audio tag's with sound format and the AAC packet type (0 sequence header, 1 raw).
 */

export const TAG_AUDIO = 8;
export const TAG_VIDEO = 9;
export const TAG_SCRIPT = 18;
export const TAG_HEADER_BYTES = 11;

/** A tag's timestamp, ms (24 bits + the extended byte); for video, its decode time. */
export function flvTimestamp(tag: Buffer): number {
  return tag.readUIntBE(4, 3) + tag[7]! * 2 ** 24;
}

/** An audio or video tag whose data is a sequence header (AVC/AAC packet type 0), not media. */
export function isFlvSequenceHeader(tag: Buffer): boolean {
  return tag.length > TAG_HEADER_BYTES + 1 && tag[TAG_HEADER_BYTES + 1] === 0;
}

/** An audio or video tag that carries media (not a sequence header). */
export function isFlvMediaTag(tag: Buffer): boolean {
  return (tag[0] === TAG_AUDIO || tag[0] === TAG_VIDEO) && tag.length > TAG_HEADER_BYTES + 1 && !isFlvSequenceHeader(tag);
}

/** A keyframe's NAL units (AVC packet type 1; 2 is the end of sequence, not a picture). */
export function isFlvVideoKeyframe(tag: Buffer): boolean {
  return tag[0] === TAG_VIDEO && tag.length > TAG_HEADER_BYTES + 1 && ((tag[TAG_HEADER_BYTES]! >> 4) & 0x7) === 1 && tag[TAG_HEADER_BYTES + 1] === 1;
}

/**
 * The composition time offset of an AVC video tag, ms (its presentation time minus its
 * decode time: non-zero when the encoder uses B-frames). 0 for any other tag.
 */
export function flvCompositionTime(tag: Buffer): number {
  if (tag[0] !== TAG_VIDEO || tag.length < TAG_HEADER_BYTES + 5 || tag[TAG_HEADER_BYTES + 1] !== 1) return 0;
  // Enhanced RTMP (bit 7 of the first data byte) lays its data out differently; legacy AVC only.
  if (tag[TAG_HEADER_BYTES]! & 0x80) return 0;
  return tag.readIntBE(TAG_HEADER_BYTES + 2, 3);
}
