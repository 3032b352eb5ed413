/**
 * The video bitrate of an ingest that does not declare one (an MPEG-TS ingest such as SRT:
 * its remuxed FLV has no `videodatarate`), measured over its first complete GOP: the video
 * tag bytes from one keyframe to the next over their FLV time distance. The broadcast
 * waits for it (one GOP, at most) before the first run, so that an encoder's stream that
 * fits the top rung is copied rather than encoded again, as it is over RTMP.
 */

import { flvTimestamp, isFlvMediaTag, isFlvVideoKeyframe, TAG_HEADER_BYTES, TAG_VIDEO } from './flv-tags.js';

export class GopBitrate {
  private firstKeyMs: number | undefined;
  private bytes = 0;
  private kbps: number | undefined;

  /** The measured bitrate (kbps) once a whole GOP went by; undefined before. */
  get measured(): number | undefined {
    return this.kbps;
  }

  /** Counts one FLV tag; returns the bitrate when this tag completed the measurement. */
  push(tag: Buffer): number | undefined {
    if (this.kbps !== undefined || tag[0] !== TAG_VIDEO || !isFlvMediaTag(tag)) return undefined;
    if (isFlvVideoKeyframe(tag)) {
      const at = flvTimestamp(tag);
      if (this.firstKeyMs !== undefined && at > this.firstKeyMs) {
        // Bits per millisecond are kilobits per second.
        this.kbps = Math.round((this.bytes * 8) / (at - this.firstKeyMs));
        return this.kbps;
      }
      this.firstKeyMs = at;
      this.bytes = 0;
    }
    if (this.firstKeyMs !== undefined) this.bytes += tag.length - TAG_HEADER_BYTES - 4;
    return undefined;
  }
}
