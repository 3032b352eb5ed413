/**
 * Types shared by the media pipeline (probe → ladder → one-pass transcode → poster/storyboard)
 * and the job handler that drives it. The piscina worker (transcode.worker.ts) takes a
 * `TranscodeTask` and returns a `TranscodeResult`; both must be structured-clone safe.
 */

/** One audio stream of a source, as the ladder needs it. */
export interface AudioTrack {
  /** Index among the source's audio streams (ffmpeg `0:a:N`). */
  track: number;
  codec: string;
  channels: number;
  /** ISO 639 language tag as written in the source; "und" when untagged. */
  language: string;
  /** The track's title tag, if any. */
  title: string | null;
  /** The source flags this track as its default (disposition). */
  default: boolean;
}

/** How a picture's brightness is coded: SDR (BT.709 and older), HLG or PQ (HDR10, Dolby Vision). */
export type DynamicRange = 'SDR' | 'HLG' | 'PQ';

/** How the source's frames are scanned: progressive, or interlaced with the top/bottom field shown first. */
export type FieldOrder = 'progressive' | 'tff' | 'bff';

/**
 * What ffprobe told us about a source, normalised. Sizes are as displayed (rotation and pixel
 * aspect applied). An audio-only source (m4a, mp3, flac, wav, ogg) has `has_video` false,
 * width/height/fps 0 and `video_codec` null.
 */
export interface ProbeResult {
  /** ffprobe format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  format_name: string;
  duration_ms: number;
  /** Display width/height in square pixels: an anamorphic width is stretched by its pixel aspect, ±90° rotation swaps them. */
  width: number;
  height: number;
  /** Degrees clockwise the player must rotate (0, 90, 180, 270). */
  rotation: number;
  /**
   * The source's nominal frame rate in frames (not fields) per second: for a variable-rate
   * source the highest rate it really uses, so encoding at it drops no frame. Not capped:
   * the transcode caps it (config `transcode.max_fps`, see outputFrameRate).
   */
  fps: number;
  /** True when the source's real and average frame rates differ (variable frame rate). */
  vfr: boolean;
  video_codec: string | null;
  has_video: boolean;
  /** Duration of the video stream alone (the audio is trimmed to the frames it makes); null without video. */
  video_duration_ms: number | null;
  audio_codec: string | null;
  has_audio: boolean;
  /** Every audio stream, in source order. */
  audio_tracks: AudioTrack[];
  /** The source carries a picture as cover art (attached_pic), e.g. an m4a or mp3 with artwork. */
  cover_art: boolean;
  /** Bits per second of the whole file, when known. */
  bit_rate: number | null;
  /** The source's dynamic range; every output is tone-mapped to BT.709 SDR. */
  dynamic_range: DynamicRange;
  /** Interlaced sources are deinterlaced (bwdif, one frame per field). */
  field_order: FieldOrder;
  /** The container's own chapter marks (become the video's chapters unless set through the API). */
  chapters?: SourceChapter[];
}

/** A chapter mark: where it starts and its title. */
export interface SourceChapter {
  start_s: number;
  title: string;
}

/** Chapters read from a source at most (a DVD rip may list hundreds of cell marks). */
export const MAX_SOURCE_CHAPTERS = 200;

/** One rendition to produce, with its exact output size (even numbers, square pixels). */
export interface Rung {
  /** Name of the rung, e.g. "720p" (the short side for portrait sources). */
  name: string;
  width: number;
  height: number;
  video_kbps: number;
}

/** The video encoders Framecast knows how to drive. */
export type VideoEncoder = 'libx264' | 'h264_vaapi' | 'h264_nvenc' | 'h264_qsv';

export interface StoryboardSpec {
  interval_s: number;
  tile_width: number;
  columns: number;
  rows: number;
}

export interface TranscodeTask {
  ffmpegPath: string;
  /** Local path of the (already probed and accepted) source. */
  sourcePath: string;
  /** Local, empty directory that receives the version's files (see OUTPUT LAYOUT). */
  outDir: string;
  probe: ProbeResult;
  ladder: Rung[];
  segmentSeconds: number;
  preset: string;
  audioKbps: number;
  /** At most this many source audio tracks become renditions (config `transcode.max_audio_tracks`). */
  maxAudioTracks?: number;
  encoder: VideoEncoder;
  storyboard: StoryboardSpec;
  /** Highest output frame rate (config `transcode.max_fps`); default 60. */
  maxFps?: number;
  /** The mark burned into every rung (core/media/watermark.ts); absent or null: none. */
  watermark?: import('./watermark.js').WatermarkSpec | null;
  /**
   * One part of a chunked transcode (chunk-plan.ts): a video chunk (rungs only, decode times
   * moved to its start) or the audio part (audio, loudness, poster; the chunks write the storyboard's tiles); absent for
   * the one-pass ladder.
   */
  part?: import('./chunk-plan.js').ChunkPart;
  /** Niceness of the ladder's ffmpeg (live packagers run at 0 and come first). */
  niceness?: number;
  /** Receives `TranscodeProgress` messages while ffmpeg runs. */
  progressPort?: MessagePort | import('node:worker_threads').MessagePort;
  /**
   * Set by the pool (pool.ts): the worker listens for `{ type: 'abort' }` here and kills its
   * ffmpeg, so aborting a task never leaves an orphan ffmpeg behind.
   */
  controlPort?: import('node:worker_threads').MessagePort;
}

/** Message the pool sends on `TranscodeTask.controlPort`. */
export interface TranscodeControlMessage {
  type: 'abort';
}

export interface TranscodeProgress {
  /** Source time encoded so far, ms. */
  out_time_ms: number;
  /** 0–100. */
  percent: number;
}

export interface RenditionInfo {
  name: string;
  width: number;
  height: number;
  /** Real peak bit rate in kbps (max over segments of bytes·8/duration, video + default audio): the master's BANDWIDTH. */
  bitrate_kbps: number;
  /** RFC 6381 codecs string, e.g. "avc1.64001f,mp4a.40.2". */
  codecs: string;
  /**
   * Exact output frame rate as DASH @frameRate wants it: "30", "30000/1001", "12.5" (HLS
   * FRAME-RATE is its decimal value). Set by the VOD transcode; absent in a live's archive.
   */
  frame_rate?: string;
  /** Output video range (HLS VIDEO-RANGE): always SDR, HDR sources are tone-mapped. Set by the VOD transcode. */
  video_range?: 'SDR';
}

/**
 * One audio rendition of a version: a source audio track as stereo AAC, or the surround
 * companion of a multichannel track. The HLS master (EXT-X-MEDIA TYPE=AUDIO) and the MPD
 * (one audio AdaptationSet per language) are written from these.
 */
export interface AudioRenditionInfo {
  /** Directory under the version and the HLS/DASH id, e.g. "audio-0", "audio-0-surround". */
  name: string;
  /** Index among the source's audio streams (ffmpeg `0:a:N`). */
  track: number;
  /** ISO 639 language from the source's tags; "und" when untagged. */
  language: string;
  /** Human label (HLS NAME): the track's title tag, else the language's name, else "Audio N". */
  label: string;
  /** Output channel count: 2 for the stereo rendition, 6 or 8 for a surround one. */
  channels: number;
  /** The source's default track (the first track when none is flagged); its surround companion too. */
  default: boolean;
  /** RFC 6381 codecs, e.g. "mp4a.40.2", "ec-3". */
  codecs: string;
  bitrate_kbps: number;
}

export interface TranscodeResult {
  /** The encoder that really produced the video (after any fallback). */
  encoder: VideoEncoder;
  /** The video renditions; for an audio-only source, its audio renditions (width and height 0). */
  renditions: RenditionInfo[];
  /** Every audio rendition, in master order (empty without audio). */
  audio: AudioRenditionInfo[];
  /** Integrated loudness of the source's default audio track in LUFS; null without audio. */
  loudness: number | null;
  /** Duration of the produced media, ms. */
  duration_ms: number;
  /** Set when the requested encoder failed and libx264 ran instead: what went wrong. */
  encoder_fallback?: { from: VideoEncoder; reason: string };
  /** Where the storyboard tiles are (sprite sheets sprite-0.jpg …). */
  storyboard?: { sheets: number; tile_width: number; tile_height: number; columns: number; rows: number };
  /** Wall time of the whole task, ms. */
  elapsed_ms?: number;
  /**
   * Files (relative to outDir) changed after ffmpeg finished them (a short last segment
   * joined to the one before): instant publish may hold an older copy, so publish them again.
   */
  rewritten?: string[];
  /** A part of a chunked transcode: its renditions measured (decode times final) and its output frames. */
  chunk?: { renditions: import('./ladder-manifests.js').MeasuredRendition[]; frames: number };
}

/*
 * OUTPUT LAYOUT of a version directory (relative to outDir; the same under /media/{id}/v{N}/):
 *   master.m3u8                HLS master (CODECS, RESOLUTION, BANDWIDTH; audio group when present)
 *   {rung}/index.m3u8          media playlist per rendition (CMAF fMP4, 2 s segments, from 00000)
 *   {rung}/init_{rung}.mp4     init segment (ffmpeg's hls muxer insists on a per-variant name)
 *   {rung}/seg-NNNNN.m4s       media segments
 *   audio-N/…, audio-N-surround/…   one per AudioRenditionInfo (sources with audio)
 * While ffmpeg runs, the playlists are EVENT playlists that grow (files appear whole: ffmpeg
 * writes *.tmp and renames); when the task resolves they are VOD playlists with ENDLIST.
 *   master.mpd                 DASH manifest over the same segments
 *   poster.jpg
 *   sprite-K.jpg               storyboard sheets, K from 0
 *   storyboard.vtt             cues "sprite-K.jpg#xywh=x,y,w,h"
 *   manifest.json              media_manifest.json (API.md)
 */

/** media_manifest.json (API.md): written by VOD processing and by the archive of a recorded live. */
export interface MediaManifest {
  version: number;
  hls_url: string;
  dash_url: string | null;
  poster_url: string;
  thumbnail_vtt_url: string;
  duration_ms: number;
  ladder: TranscodeResult['renditions'];
  /** Every audio rendition (language, label, channels, default), in master order; absent on archived lives. */
  audio?: TranscodeResult['audio'];
  /** Integrated LUFS of the default audio track; null without audio. */
  loudness: number | null;
  encoder: VideoEncoder;
  /** The source's dynamic range (VOD versions); the ladder is BT.709 SDR whatever it is. */
  source_dynamic_range?: DynamicRange;
  /** Master revisions (core/captions): the video's caption tracks, with their WebVTT files. */
  captions?: { id: string; language: string; label: string; kind: string; auto: boolean; url: string | null }[];
  /** Master revisions: the video's chapters and its WebVTT chapters track. */
  chapters?: { start_s: number; title: string }[];
  chapters_vtt_url?: string | null;
}
