/**
 * The metadata seam: a Kysely handle over the tables below plus the few operations whose
 * SQL differs by database (claiming a job atomically). `storage-adapters/metadata/*.ts`
 * implement it; migrations (core/storage/migrations.ts) are shared by every dialect.
 *
 * Times are integer milliseconds since the epoch; JSON columns are TEXT.
 */
import type { ColumnType, Generated, Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { LiveUpdateTransport } from '../origin/live-updates.js';

export type Visibility = 'public' | 'unlisted' | 'private';
export type VideoStatus = 'awaiting_upload' | 'uploading' | 'processing' | 'ready' | 'failed';
export type VersionStatus = 'uploading' | 'processing' | 'ready' | 'failed';
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead';
export type ProcessingStage = 'queued' | 'probe' | 'transcode' | 'publish';

export interface VideosTable {
  id: string;
  title: string;
  description: string;
  /** JSON array of strings. */
  tags: string;
  visibility: Visibility;
  status: VideoStatus;
  /** The version viewers get (0 = none yet). */
  current_version: number;
  /** The newest version created by an upload. */
  latest_version: number;
  /** Token id that created it (null for the admin token). */
  owner: string | null;
  error_code: string | null;
  error_message: string | null;
  error_retryable: number | null;
  created_at: number;
  updated_at: number;
  ready_at: number | null;
  /** The priority class asked for at creation (`low`, `normal`, `high`): every job of the video starts from it. */
  priority: Generated<string>;
  /** JSON `[{start_s, title}]` (null: none set; the source's own chapters fill it). */
  chapters?: string | null;
  /** JSON: the caption and chapter files published for the served version (core/captions). */
  text_tracks?: string | null;
  /** A clip: the video it was cut from (null otherwise; kept when that video is deleted). */
  clip_of: string | null;
  /** A clip: the range of `clip_of` it holds, ms. */
  clip_start_ms: number | null;
  clip_end_ms: number | null;
  /** JSON `{version, file}`: a chosen poster under that version's media prefix (null: the automatic one). */
  poster: string | null;
  /** JSON: this video's watermark override (null: `transcode.watermark` as configured). */
  watermark: string | null;
}

/** Who made a caption track. */
export type CaptionKind = 'subtitles' | 'captions';

/** One caption track of a video (the text is WebVTT, SRT already converted). */
export interface CaptionsTable {
  id: string;
  video_id: string;
  /** BCP 47 tag, canonical ("en", "pt-BR"). */
  language: string;
  label: string;
  kind: CaptionKind;
  /** 1 when made by automatic transcription. */
  auto: number;
  vtt: string;
  created_at: number;
  updated_at: number;
}

export interface VersionsTable {
  video_id: string;
  version: number;
  status: VersionStatus;
  stage: ProcessingStage | null;
  percent: number | null;
  /** 1 once every rung has its first segments (instant publish): playable from staging. */
  playable: number;
  source_bytes: number | null;
  source_filename: string | null;
  duration_ms: number | null;
  width: number | null;
  height: number | null;
  /** JSON: the probe summary. */
  probe: string | null;
  /** JSON: media_manifest.json as published. */
  manifest: string | null;
  loudness: number | null;
  encoder: string | null;
  error_code: string | null;
  error_message: string | null;
  error_retryable: number | null;
  processing_started_at: number | null;
  created_at: number;
  ready_at: number | null;
  /** When a newer version became current; served `versions.grace_s` longer, then swept. */
  superseded_at: number | null;
  /** When the sweep deleted this version's media. */
  media_removed_at: number | null;
}

export interface RenditionsTable {
  video_id: string;
  version: number;
  name: string;
  width: number;
  height: number;
  bitrate_kbps: number;
  codecs: string;
}

export interface JobsTable {
  id: Generated<number>;
  type: string;
  video_id: string | null;
  version: number | null;
  /** JSON payload for the handler. */
  payload: string;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  run_after: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** The only node that may claim the job (its `core/jobs/node-id.ts` id); null: any node. */
  node_id: string | null;
  /** Higher is claimed first; a waiting job gains one point per `jobs.priority.ageing_s` (core/jobs/priority.ts). */
  priority: Generated<number>;
  /** Only a worker or runner that proved this encoder (e.g. `h264_nvenc`) claims the job; null: any. */
  wants_encoder: string | null;
  /** The group this job belongs to (e.g. the chunks of one version), or null. */
  group_key: string | null;
  /** Not claimed while a job of this group has not succeeded (a finish job after its chunks); null: no wait. */
  waits_for: string | null;
}

export interface RunnerRegistrationTokensTable {
  id: string;
  token_hash: string;
  created_at: number;
  revoked_at: number | null;
}

/** `active` claims jobs; `draining` finishes its job and claims no more; `revoked` is refused. */
export type RunnerState = 'active' | 'draining' | 'revoked';

export interface RunnersTable {
  id: string;
  name: string;
  token_hash: string;
  registration_token_id: string;
  /** JSON array of the encoders whose trial encode worked on the runner. */
  encoders: string;
  state: RunnerState;
  created_at: number;
  last_seen_at: number;
  revoked_at: number | null;
}

export interface UploadSessionsTable {
  /** The upload's id (tus's, or ours for a multipart upload). */
  id: string;
  /** How the bytes arrive: through tus, or straight into storage in parts. */
  kind: ColumnType<'tus' | 'multipart', 'tus' | 'multipart' | undefined, never>;
  /** A multipart upload's id in the object store (S3 UploadId, or the fs store's own). */
  storage_upload_id: string | null;
  video_id: string;
  version: number;
  size: number | null;
  filename: string | null;
  created_at: number;
  /** Creation + expire_after_s at creation (informative: expiry follows `last_activity_at`). */
  expires_at: number;
  completed_at: number | null;
  /**
   * When bytes last arrived (null: none since creation, `created_at` counts): an upload idle
   * `uploads.expire_after_s` expires.
   */
  last_activity_at: number | null;
}

/**
 * A named lease held by one owner until it expires: `upload:ID` for the request writing an
 * upload (core/uploads/db-locker.ts), `telemetry:rollup` for the roll-up.
 */
export interface LeasesTable {
  name: string;
  /** Unique per holder (a request, a process). */
  owner: string;
  expires_at: number;
}

/** One upload started by an API token: the per-token hourly limit counts these. */
export interface UploadStartsTable {
  id: Generated<number>;
  /** The token id. */
  owner: string;
  created_at: number;
}

/** Raw events of one video and one UTC day, rolled up once older than `telemetry.retention_days`. */
export interface PlaybackDailyTable {
  video_id: string;
  /** Start of the UTC day, epoch ms. */
  day: number;
  /** Sessions with a view_start that day. */
  views: number;
  /** Distinct sessions with any event that day. */
  sessions: number;
  watch_time_ms: number;
  /** Sessions that day whose view_end reached COMPLETION_PERCENT. */
  completed: number;
  rebuffer_ms: number;
  rebuffer_count: number;
  errors: number;
}

export interface ApiTokensTable {
  id: string;
  /** sha256 of the token, hex. */
  token_hash: string;
  name: string;
  /** Comma list of scopes: upload, read, admin. */
  scopes: string;
  created_at: number;
  revoked_at: number | null;
}

/** One player QoE event (core/telemetry); figure columns are null for types without them. */
export interface PlaybackEventsTable {
  id: Generated<number>;
  video_id: string;
  session_id: string;
  /** The event type (core/telemetry/events.ts). */
  type: string;
  /** Client time of the event. */
  ts: number;
  /** Server time the batch arrived. */
  received_at: number;
  /** view_end: time spent playing since the session's previous view_end. */
  dwell_ms: number | null;
  /** view_end: furthest position ÷ duration × 100. */
  percent_complete: number | null;
  /** ttff_ms: time to first frame. */
  ttff_ms: number | null;
  /** rebuffer: stall length. */
  duration_ms: number | null;
  /** bitrate_change: the new level's bitrate. */
  kbps: number | null;
  /** JSON: the event's other fields (positions, error code and message, height). */
  detail: string | null;
}

/** Where a live broadcast is (API.md "Live"). */
export type LiveStatus = 'idle' | 'live' | 'ended';

/** One live broadcast (live/). */
export interface LivesTable {
  id: string;
  title: string;
  /** Token id that created it (null for the admin token). */
  owner: string | null;
  /** sha256 of the stream key, hex. */
  stream_key_hash: string;
  /** 1 = keep every segment and make a VOD when it ends. */
  record: number;
  status: LiveStatus;
  /** 1 while a publisher is connected (0 during a reconnect window). */
  publishing: number;
  /** JSON: the ladder being served, [{name, width, height, bitrate_kbps, passthrough}]. */
  renditions: string | null;
  /** JSON array of rendition names dropped because the packager fell behind. */
  dropped_renditions: string | null;
  vod_video_id: string | null;
  /** Why archiving failed, when it did. */
  error_message: string | null;
  /** JSON [{id, url}]: restream targets (core/live/restream-targets.ts); the URLs hold secrets. */
  restream_targets: string | null;
  /** JSON [{id, state, reason?, attempts, since}]: written by the media process while on air. */
  restream_status: string | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  revoked_at: number | null;
  updated_at: number;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One webhook delivery (plugins/webhooks): the event's signed body for one URL, and how it went. */
export interface WebhookDeliveriesTable {
  id: Generated<number>;
  /** e.g. `video.ready`. */
  event: string;
  url: string;
  /** The JSON body, exactly as sent and signed. */
  payload: string;
  /** pending until delivered, or failed once retries ran out. */
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  /** Set while a process is sending it (another one skips it until then). */
  lease_expires_at: number | null;
  /** HTTP status of the last attempt (null when it got no answer). */
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface Database {
  videos: VideosTable;
  versions: VersionsTable;
  renditions: RenditionsTable;
  jobs: JobsTable;
  upload_sessions: UploadSessionsTable;
  api_tokens: ApiTokensTable;
  playback_events: PlaybackEventsTable;
  lives: LivesTable;
  webhook_deliveries: WebhookDeliveriesTable;
  leases: LeasesTable;
  upload_starts: UploadStartsTable;
  playback_daily: PlaybackDailyTable;
  runner_registration_tokens: RunnerRegistrationTokensTable;
  runners: RunnersTable;
  captions: CaptionsTable;
}

/** The lease the request writing upload `uploadId` holds. */
export function uploadLeaseName(uploadId: string): string {
  return `upload:${uploadId}`;
}

export type VideoRow = Selectable<VideosTable>;
export type NewVideo = Insertable<VideosTable>;
export type VideoUpdate = Updateable<VideosTable>;
export type VersionRow = Selectable<VersionsTable>;
export type RenditionRow = Selectable<RenditionsTable>;
export type JobRow = Selectable<JobsTable>;
export type UploadSessionRow = Selectable<UploadSessionsTable>;
export type LiveRow = Selectable<LivesTable>;
export type RunnerRow = Selectable<RunnersTable>;
export type CaptionRow = Selectable<CaptionsTable>;

/** A full-text search over videos (API.md `GET /v1/search`), run by the dialect's own index. */
export interface VideoSearchQuery {
  /** Words as typed: every one must match title, description or tags; a word matches as a prefix. */
  words: string[];
  limit: number;
  owner?: string | undefined;
  status?: VideoStatus | undefined;
  visibilities?: Visibility[] | undefined;
  /**
   * Only videos inserted up to this sequence number: the snapshot a first page returns, so
   * later pages gain no rows. Undefined on a first page (the adapter takes the newest).
   */
  seqAtMost?: number | undefined;
  /** Continue after this hit in (rank, seq desc) order. */
  after?: { rank: number; seq: number } | undefined;
}

/**
 * A search hit: the row, its rank (smaller is more relevant, as SQLite's bm25()) and its
 * insertion sequence number (newest first among equal ranks).
 */
export type VideoSearchHit = VideoRow & { rank: number; seq: number };

/** A page of hits and the snapshot (`seqAtMost`) that later pages must pass on. */
export interface VideoSearchPage {
  hits: VideoSearchHit[];
  snapshot: number;
}

/** Priority ordering and capabilities of one claim (see `MetadataDb.claimJob`). */
export interface ClaimOrder {
  ageingMs?: number | undefined;
  encoders?: readonly string[] | undefined;
}

export interface MetadataDb {
  /** Dialect name, for logs and dialect-specific paths. */
  readonly dialect: 'sqlite' | 'postgres';
  readonly db: Kysely<Database>;

  /**
   * Atomically takes the next runnable job: queued with `run_after <= now`, or running with
   * an expired lease (its process died). Sets status running, `lease_owner`, `lease_expires_at`,
   * increments `attempts`, and returns it; undefined when none is runnable. `started_at` is
   * set by the first claim only (timeouts and queue latency count from it). Due jobs are
   * taken in `run_after`, then `id`, order; `types` limits the job types (empty: none).
   * A job that names a node (`node_id`) is only taken when `node` is that node; jobs
   * without one are taken by any claimer.
   * With `order.ageingMs`, due jobs go by `priority + waited / ageingMs` (highest first)
   * instead; with `order.encoders`, a job that wants an encoder (`wants_encoder`) is only
   * taken when that list has it (without the list: only jobs wanting none).
   * A job with `waits_for` is taken only once every job whose `group_key` is that value has
   * succeeded.
   */
  claimJob(owner: string, leaseMs: number, now: number, types?: readonly string[], node?: string, order?: ClaimOrder): Promise<JobRow | undefined>;

  /**
   * Ranked full-text search (SQLite: FTS5, storage-adapters/metadata/sqlite-search.ts).
   * Optional: without it the catalog falls back to substring matching, newest first. Ties
   * in rank go newest first. A row's rank must depend on the row and the query only (not
   * on corpus statistics that move with inserts), so a cursor taken from one page
   * continues exactly on the next.
   */
  searchVideos?(q: VideoSearchQuery): Promise<VideoSearchPage>;

  /**
   * Change notifications between the nodes sharing this database (live playlists,
   * core/origin/live-updates.ts): what one node `send`s, every process that opened the
   * channel with `listen` hears as `onKey`, on any node. Optional: a SQLite database is one
   * node's, whose processes hear each other over the cluster's IPC.
   */
  openUpdateChannel?(onKey: (key: string) => void, opts: { listen: boolean }): Promise<LiveUpdateTransport>;

  /**
   * Takes the lease `name` for `owner` until `now + ttlMs`, or renews it: true when `owner`
   * holds it now (it was free, expired, or already `owner`'s). One statement, so two
   * processes or nodes never both hold it.
   */
  acquireLease(name: string, owner: string, ttlMs: number, now: number): Promise<boolean>;

  /** Gives the lease back (only `owner`'s: an expired lease taken over by another stays). */
  releaseLease(name: string, owner: string): Promise<void>;

  /**
   * Deletes, in one guarded statement, the upload sessions not completed, idle since before
   * `idleBefore` (`last_activity_at`) and whose lease `uploadLeaseName(id)` is not held at
   * `now` (no request is writing them), and returns them. A session completed or written
   * to concurrently is never deleted.
   */
  expireIdleUploadSessions(idleBefore: number, now: number): Promise<UploadSessionRow[]>;

  /** True when the database answers (used by /readyz). */
  ping(): Promise<boolean>;

  close(): Promise<void>;
}

export type MetadataDbFactory = (url: string, opts: { dataDir: string }) => MetadataDb | Promise<MetadataDb>;
