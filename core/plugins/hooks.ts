/**
 * The hooks plugins can register for (API.md "Plugins"), from one const object: the names,
 * kinds and failure policies live in `HOOKS`, and every type below is derived from it, so a
 * misspelt hook name does not compile.
 *
 * Two kinds, as in PeerTube's server hooks:
 *  - filters transform a value: handlers run one after the other (highest priority first),
 *    each gets the previous one's result, and any of them may refuse with
 *    `throw api.reject(reason)`;
 *  - actions are told something happened: they run after the fact, are never awaited by the
 *    pipeline, and whatever they return or throw is ignored (logged).
 *
 * A refusal becomes an AppError with the filter's `rejectAs` code and the reason as message.
 * A filter's `onError` says what a handler that throws (anything but a rejection) or runs
 * past its time limit does:
 *  - `reject`: fail closed, as if it had refused (moderation and access decisions);
 *  - `skip`: the handler is left out and the value passes on unchanged (cosmetic filters).
 */
import type { VideoView } from '../catalog/videos.js';
import type { ErrorCode, VideoError } from '../errors.js';
import type { IngestProtocol } from '../live/ingest.js';
import type { ProbeResult, Rung } from '../media/types.js';
import type { Visibility } from '../storage/metadata-db.js';
import type { TranscriptSegment } from '../transcription/transcriber.js';

export const HOOKS = {
  /** A tus upload is being created; no byte is stored yet. Refusing answers 422 E_MODERATION_REJECTED. */
  'filter:upload.accept': { kind: 'filter', onError: 'reject', rejectAs: 'E_MODERATION_REJECTED' },
  /** The source was probed; refusing fails the video with E_MODERATION_REJECTED and the reason. */
  'filter:video.inspected': { kind: 'filter', onError: 'reject', rejectAs: 'E_MODERATION_REJECTED' },
  /** The rendition ladder about to be encoded. */
  'filter:transcode.ladder': { kind: 'filter', onError: 'skip', rejectAs: 'E_MODERATION_REJECTED' },
  /**
   * The priority (a number, higher first) a new processing job gets (core/jobs/priority.ts);
   * return another integer to change it, e.g. from the creator's audience.
   */
  'filter:job.priority': { kind: 'filter', onError: 'skip', rejectAs: 'E_INTERNAL' },
  /** A publisher with a valid stream key is about to go on air; refusing drops it. */
  'filter:live.publish': { kind: 'filter', onError: 'reject', rejectAs: 'E_FORBIDDEN' },
  /** A media request passed the visibility and token checks; refusing answers 403 E_FORBIDDEN. */
  'filter:playback.authorize': { kind: 'filter', onError: 'reject', rejectAs: 'E_FORBIDDEN' },
  /**
   * Automatic captions are about to be made (value: `{video_id, language, audio_path, segments: null}`):
   * a handler that sets `segments` replaces the configured engine (it never runs then).
   */
  'filter:captions.transcribe': { kind: 'filter', onError: 'skip', rejectAs: 'E_BAD_REQUEST' },
  /** A version was published and plays (value: the video as GET /v1/videos/:id shows it). */
  'action:video.ready': { kind: 'action' },
  /** Processing failed for good (no retry follows). */
  'action:video.failed': { kind: 'action' },
  /**
   * Media URLs of a video changed meaning (a new version replaced the served one, the
   * visibility changed, the video was deleted): the value names the URL prefixes a CDN must
   * purge. Wire it to your CDN's purge API (the webhooks plugin sends it as `video.media_changed`).
   */
  'action:video.media_changed': { kind: 'action' },
  /** A live went on air (first publish). */
  'action:live.started': { kind: 'action' },
  /** A live ended (the reconnect window passed or it was revoked). */
  'action:live.ended': { kind: 'action' },
} as const satisfies Record<string, { kind: 'filter'; onError: 'reject' | 'skip'; rejectAs: ErrorCode } | { kind: 'action' }>;

export type HookName = keyof typeof HOOKS;
export type FilterHookName = { [K in HookName]: (typeof HOOKS)[K]['kind'] extends 'filter' ? K : never }[HookName];
export type ActionHookName = Exclude<HookName, FilterHookName>;

export function isHookName(name: unknown): name is HookName {
  return typeof name === 'string' && Object.hasOwn(HOOKS, name);
}

/** Who asked, as plugins see it (no secrets). */
export interface HookPrincipal {
  kind: 'admin' | 'token' | 'anonymous';
  /** The API token's id (kind `token`). */
  token_id?: string;
  scopes: string[];
}

/** `filter:upload.accept` value: the upload about to be created. Filters may change `metadata`. */
export interface UploadAcceptValue {
  /** The video uploaded to, or null when the upload creates one. */
  video_id: string | null;
  filename: string | null;
  /** Declared size in bytes (null with deferred length). */
  size: number | null;
  /** The tus Upload-Metadata (title, filename, video_id, …). */
  metadata: Record<string, string | null>;
}

/** A probe summary as plugins see it (API.md: at least duration, size and codecs). */
export type HookProbe = Pick<ProbeResult, 'duration_ms' | 'width' | 'height' | 'video_codec' | 'audio_codec' | 'fps' | 'has_audio' | 'format_name'>;

/** A live broadcast as plugins see it (a subset of GET /v1/live/:id). */
export interface LiveHookValue {
  id: string;
  title: string;
  status: 'idle' | 'live' | 'ended';
  started_at?: string | undefined;
  ended_at?: string | undefined;
  vod_video_id?: string | undefined;
}

/** `filter:playback.authorize` value: one media request about to be served. */
export interface PlaybackAuthorizeValue {
  video_id: string;
  version: number;
  /** The file inside the version, e.g. `720p/seg-00003.m4s`. */
  file: string;
  visibility: Visibility;
  ip: string;
  /** The signed token presented (private videos). */
  token: string | null;
}

/** Why a video's media URLs changed (`action:video.media_changed`). */
export type MediaChangeReason = 'new_version' | 'visibility' | 'deleted';

/** `action:video.media_changed` value. */
export interface MediaChangedValue {
  video_id: string;
  reason: MediaChangeReason;
  /** The version now served (null once deleted). */
  version: number | null;
  /**
   * URL prefixes to purge from caches: absolute under `public_url` when it is set, else
   * paths. `new_version`: the replaced versions' prefixes (the origin serves them
   * `versions.grace_s` longer, with max-age no longer than that, then 404); `visibility` and
   * `deleted`: every version of the video (`/media/{id}/`).
   */
  purge_prefixes: string[];
  /** `new_version`: when the origin stops serving the replaced versions (ISO 8601). */
  replaced_served_until?: string;
}

/** `filter:job.priority` context: the job being queued. */
export interface JobPriorityContext {
  job_type: string;
  video_id: string;
  version: number;
  /** The class asked for when the video was created: `low`, `normal` or `high`. */
  priority_class: string;
  /** The source's size in bytes (null when not known). */
  source_bytes: number | null;
}

/** `filter:captions.transcribe` value. */
export interface CaptionsTranscribeValue {
  video_id: string;
  /** BCP 47 language asked for. */
  language: string;
  /** The video's audio as 16 kHz mono 16-bit WAV. */
  audio_path: string;
  /** Set by a plugin that transcribed the audio itself: milliseconds and text per segment. */
  segments: TranscriptSegment[] | null;
}

/** Value and context of every hook. */
export interface HookSignatures {
  'filter:upload.accept': { value: UploadAcceptValue; context: { principal: HookPrincipal } };
  'filter:video.inspected': { value: { video: VideoView; probe: HookProbe }; context: { video_id: string; version: number } };
  'filter:transcode.ladder': { value: Rung[]; context: { video_id: string; version: number; probe: HookProbe } };
  'filter:job.priority': { value: number; context: JobPriorityContext };
  'filter:live.publish': { value: LiveHookValue; context: { address: string | null; protocol: IngestProtocol } };
  'filter:playback.authorize': { value: PlaybackAuthorizeValue; context: { method: string } };
  'filter:captions.transcribe': { value: CaptionsTranscribeValue; context: { video_id: string; version: number } };
  'action:video.ready': { value: VideoView; context: { video_id: string; version: number } };
  'action:video.failed': { value: VideoView; context: { video_id: string; version: number; error: VideoError } };
  'action:video.media_changed': { value: MediaChangedValue; context: { video_id: string } };
  'action:live.started': { value: LiveHookValue; context: { live_id: string } };
  'action:live.ended': { value: LiveHookValue; context: { live_id: string; reason: string } };
}

export type HookValue<H extends HookName> = HookSignatures[H]['value'];
export type HookContext<H extends HookName> = HookSignatures[H]['context'];

/**
 * A hook handler: filters return the (possibly changed) value, sync or async; actions'
 * results are ignored.
 */
export type HookHandler<H extends HookName> = H extends FilterHookName
  ? (value: HookValue<H>, context: HookContext<H>) => HookValue<H> | Promise<HookValue<H>>
  : (value: HookValue<H>, context: HookContext<H>) => unknown;

/** What `api.registerHook` takes. Higher priorities run first; equal ones in registration order. */
export interface HookRegistration<H extends HookName = HookName> {
  target: H;
  handler: HookHandler<H>;
  priority?: number;
}

// Every hook in HOOKS has a signature and no signature lacks a hook: this fails to compile otherwise.
type MissingSignatures = Exclude<HookName, keyof HookSignatures> | Exclude<keyof HookSignatures, HookName>;
const signaturesComplete: [MissingSignatures] extends [never] ? true : never = true;
void signaturesComplete;
