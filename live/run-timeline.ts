/**
 * Where each rendition of one packager run starts on the publisher's clock.
 *
 * ffmpeg's mp4 muxer starts every output track at decode time 0, and with an empty moov it
 * writes no edit list that would say where the track began: each output file has its own
 * zero. Its renditions then disagree on time by what each started with: a copied rung by
 * the publisher's first decode time (its B-frames show the first picture one or two frames
 * later), an encoded rung (no B-frames) by the first picture's presentation time, the AAC
 * encode by its priming frame. At 30 fps with B-frames the encoded rungs ran 67 ms ahead of
 * the copied one, which left holes where players switch rungs, and their pictures ahead of
 * the sound.
 *
 * The run notes the first tags of the FLV it is fed; each rendition's fragments are then
 * moved (their tfdt rewritten, live-packager.ts) so that all of them keep the publisher's
 * timeline, counted from its first media tag less one AAC frame (so that no track starts
 * before zero).
 */
import { flvCompositionTime, flvTimestamp, isFlvMediaTag, isFlvVideoKeyframe, TAG_AUDIO } from './flv-tags.js';

export class RunTimeline {
  private firstTagMs: number | undefined;
  private firstAudioMs: number | undefined;
  /** Presentation time of the first keyframe, where decoding (and stream copy) starts. */
  private firstPictureMs: number | undefined;

  /**
   * @param primingSeconds how much earlier than its first input sample the audio encoder's
   *   first packet starts (AAC: one frame).
   */
  constructor(private readonly primingSeconds: number) {}

  /**
   * Notes one FLV tag as it is fed to ffmpeg; returns its media time, ms since the first
   * media tag (undefined for headers, metadata and sequence headers: NMS keeps those at 0
   * when it shifts a resumed publish).
   */
  note(tag: Buffer): number | undefined {
    if (!isFlvMediaTag(tag)) return undefined;
    const ts = flvTimestamp(tag);
    this.firstTagMs ??= ts;
    if (tag[0] === TAG_AUDIO) this.firstAudioMs ??= ts;
    else if (this.firstPictureMs === undefined && isFlvVideoKeyframe(tag)) this.firstPictureMs = ts + flvCompositionTime(tag);
    return ts - this.firstTagMs;
  }

  /**
   * Seconds to add to the decode times of a video rendition whose first sample shows
   * `firstCompositionOffset` seconds after it is decoded. 0 when nothing was noted (an
   * input ffmpeg pulls itself).
   */
  videoShift(firstCompositionOffset: number): number {
    if (this.firstTagMs === undefined || this.firstPictureMs === undefined) return 0;
    return Math.max(0, (this.firstPictureMs - this.firstTagMs) / 1000 + this.primingSeconds - firstCompositionOffset);
  }

  /** Seconds to add to the decode times of the (re-encoded) audio rendition. */
  audioShift(): number {
    if (this.firstTagMs === undefined || this.firstAudioMs === undefined) return 0;
    return (this.firstAudioMs - this.firstTagMs) / 1000;
  }
}
