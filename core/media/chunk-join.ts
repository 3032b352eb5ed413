/*
 * Joining the parts of a chunked transcode (chunk-plan.ts) without touching a byte of
 * media: one rendition's segments from every chunk, in order, checked to sit end to end on
 * the track's timeline (each segment's tfdt is the previous one's plus its duration: no gap,
 * no overlap at a join), and its init segments checked to be the same file.
 */
import type { MeasuredRendition } from './ladder-manifests.js';

/** A rendition whose parts do not join: the message says where and by how much. */
export class ChunkJoinError extends Error {
  override name = 'ChunkJoinError';
}

/**
 * One rendition over all its parts (in chunk order): segments concatenated, rates measured
 * again over the whole. Throws ChunkJoinError when the timeline has a gap or an overlap,
 * does not start at 0, or the parts disagree on timescale or codec.
 */
export function joinRendition(parts: readonly MeasuredRendition[]): MeasuredRendition {
  const first = parts[0];
  if (!first) throw new ChunkJoinError('no part to join');
  const segments = [];
  let expected = 0;
  for (const [k, part] of parts.entries()) {
    if (part.timescale !== first.timescale || part.videoCodec !== first.videoCodec) {
      throw new ChunkJoinError(`${first.name}: chunk ${k} has timescale ${part.timescale} and codec ${part.videoCodec}, chunk 0 ${first.timescale} and ${first.videoCodec}`);
    }
    for (const seg of part.segments) {
      if (seg.start !== expected) {
        const what = seg.start > expected ? 'a gap' : 'an overlap';
        throw new ChunkJoinError(
          `${first.name}: ${what} of ${Math.abs(seg.start - expected)} ticks (1/${first.timescale} s) before ${seg.uri} (chunk ${k}): it starts at ${seg.start}, the segment before it ends at ${expected}`,
        );
      }
      expected = seg.start + seg.ticks;
      segments.push(seg);
    }
  }
  const totalBytes = segments.reduce((sum, s) => sum + s.bytes, 0);
  const totalSeconds = segments.reduce((sum, s) => sum + s.duration, 0);
  return {
    ...first,
    segments,
    peakBps: Math.max(...parts.map((p) => p.peakBps)),
    averageBps: (totalBytes * 8) / Math.max(totalSeconds, 1e-3),
  };
}

/** Throws ChunkJoinError unless every chunk's init segment of a rendition is byte for byte chunk 0's. */
export function assertSameInit(rendition: string, inits: readonly Uint8Array[]): void {
  const [first, ...rest] = inits;
  if (!first) return;
  rest.forEach((init, i) => {
    if (init.length !== first.length || !init.every((b, j) => b === first[j])) {
      throw new ChunkJoinError(
        `${rendition}: chunk ${i + 1}'s init segment differs from chunk 0's (${init.length} vs ${first.length} bytes): the chunks were not encoded with the same settings (encoder or version), so they cannot play as one stream`,
      );
    }
  });
}
