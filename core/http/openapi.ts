/**
 * The OpenAPI 3.1 description of every HTTP route (served at GET /openapi.json).
 * test/integration/openapi.test.ts walks the Koa router and the paths served beside it and
 * fails when a route is missing here or documented but gone, so this cannot drift.
 *
 * Paths served outside the Koa router carry `x-served-by`: tus uploads, the /media/ fast
 * path and plugin routes (core/http/server.ts).
 */

import { ERRORS } from '../errors.js';

type Schema = Record<string, unknown>;
type Operation = Record<string, unknown>;

/** Where a path is answered, when not by a Koa router layer. */
export const SERVED_BESIDE_KOA = ['tus', 'media-fast-path', 'plugins', 'multipart-parts', 'signed-objects'] as const;

/** Every error code (core/errors.ts), in error bodies and on failed videos. */
const errorCode: Schema = {
  enum: Object.keys(ERRORS),
  description: 'API.md "Errors". E_NO_VIDEO_STREAM: the file has neither audio nor video (an audio-only file becomes an audio-only video)',
};
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });
const ok = (description: string, schema?: Schema, status = '200') => ({ [status]: schema ? { description, content: json(schema) } : { description } });
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: 'error', content: json(ref('Error')) }]));
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const queryParam = (name: string, description: string, schema: Schema = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });
const pageParams = [queryParam('cursor', 'next_cursor of the previous page'), queryParam('limit', 'items per page (1–100, default 20)', { type: 'integer' })];
const bearer = [{ bearer: [] }];
/** Every route behind Koa reads the Authorization header first: a malformed or unknown token is refused there. */
const koaRefusals = { '401': { description: 'a malformed or unknown bearer token', content: json(ref('Error')) } };
/** Any request whose headers do not arrive within `http.headers_timeout_ms` (Node answers it, without a body). */
const slowRequest = { '408': { description: 'the request headers did not arrive in time' } };
const anyone = [{}, { bearer: [] }];

function op(summary: string, rest: Operation & { auth?: 'none' | 'optional' | 'required' }): Operation {
  const { auth = 'optional', ...fields } = rest;
  return { summary, ...(auth === 'required' ? { security: bearer } : auth === 'optional' ? { security: anyone } : { security: [] }), ...fields };
}

const videoView: Schema = {
  type: 'object',
  required: ['id', 'title', 'description', 'tags', 'visibility', 'status', 'version', 'created_at', 'renditions', 'playback'],
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    description: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    visibility: { enum: ['public', 'unlisted', 'private'] },
    status: { enum: ['awaiting_upload', 'uploading', 'processing', 'ready', 'failed'] },
    version: { type: 'integer' },
    error: { type: 'object', properties: { code: errorCode, message: { type: 'string' }, retryable: { type: 'boolean' } } },
    progress: {
      type: 'object',
      properties: {
        stage: { type: 'string' },
        percent: { type: 'number' },
        retry: {
          type: 'object',
          description: 'present when an earlier attempt failed: why, and when the next one starts',
          properties: { attempts: { type: 'integer' }, code: errorCode, message: { type: 'string' }, next_attempt_at: { type: 'string', format: 'date-time' } },
        },
      },
    },
    duration_ms: { type: ['integer', 'null'] },
    width: { type: ['integer', 'null'], description: 'null or 0 for an audio-only video (an m4a, mp3, flac, wav or ogg source)' },
    height: { type: ['integer', 'null'], description: 'null or 0 for an audio-only video' },
    created_at: { type: 'string', format: 'date-time' },
    ready_at: { type: ['string', 'null'], format: 'date-time' },
    renditions: {
      type: 'array',
      description: 'the video renditions; an audio-only video lists its audio renditions ("audio-0", width and height 0, codecs "mp4a.40.2")',
      items: { type: 'object', properties: { name: { type: 'string' }, width: { type: 'integer' }, height: { type: 'integer' }, bitrate_kbps: { type: 'integer' }, codecs: { type: 'string' } } },
    },
    source_dynamic_range: {
      enum: ['SDR', 'HLG', 'PQ', null],
      description: "the source's dynamic range once probed (Dolby Vision 8.4 counts as HLG); the renditions are always tone-mapped to BT.709 SDR",
    },
    captions: { type: 'array', items: ref('Caption'), description: 'caption tracks, oldest first' },
    chapters: { type: 'array', items: ref('Chapter'), description: "from PATCH, else the source's own chapter marks" },
    watermark: { oneOf: [{ const: false }, { type: 'null' }, ref('WatermarkPlacement')], description: "this video's watermark override: false = none, null = transcode.watermark as configured" },
    playback: {
      type: 'object',
      description:
        'hls_url, dash_url and manifest_url name the newest master revision (master-REV.m3u8, master-REV.mpd, manifest-REV.json) once the video has captions or chapters: each change gets new URLs, earlier ones keep serving',
      properties: Object.fromEntries(
        ['hls_url', 'dash_url', 'poster_url', 'thumbnail_vtt_url', 'manifest_url', 'chapters_vtt_url'].map((k) => [k, { type: ['string', 'null'] }]),
      ),
    },
  },
};

const caption: Schema = {
  type: 'object',
  required: ['id', 'language', 'label', 'kind', 'auto', 'url'],
  properties: {
    id: { type: 'string' },
    language: { type: 'string', description: 'BCP 47, canonical ("en", "pt-BR")' },
    label: { type: 'string', description: 'menu name (HLS NAME, DASH Label); defaults to the language name' },
    kind: { enum: ['subtitles', 'captions'] },
    auto: { type: 'boolean', description: 'made by automatic transcription (POST …/captions/generate or transcription.auto)' },
    url: { type: ['string', 'null'], description: 'the whole WebVTT file, immutable (new text, new URL); null until a version is ready' },
  },
};

const captionInput: Schema = {
  type: 'object',
  properties: {
    language: { type: 'string', description: 'BCP 47 language tag' },
    label: { type: 'string', maxLength: 100 },
    kind: { enum: ['subtitles', 'captions'], default: 'subtitles' },
    text: { type: 'string', description: 'WebVTT or SRT (SRT is converted to WebVTT), at most 2 MiB; malformed: 400 E_BAD_REQUEST naming the line' },
  },
};

/** One audio rendition of a version (core/media/types.ts AudioRenditionInfo). */
const audioRendition: Schema = {
  type: 'object',
  required: ['name', 'track', 'language', 'label', 'channels', 'default', 'codecs', 'bitrate_kbps'],
  properties: {
    name: { type: 'string', description: 'directory and HLS/DASH id: "audio-N" (stereo) or "audio-N-surround"' },
    track: { type: 'integer', description: 'index among the source audio tracks' },
    language: { type: 'string', description: "the source track's language tag; \"und\" when untagged" },
    label: { type: 'string', description: 'HLS NAME / DASH Label: the track title, else the language name, else "Audio N"' },
    channels: { type: 'integer', description: '2, or 6/8 for the surround rendition of a 5.1/7.1 track' },
    default: { type: 'boolean', description: "the source's default track (the first when none is flagged)" },
    codecs: { type: 'string' },
    bitrate_kbps: { type: 'integer' },
  },
};

const partUrl: Schema = { type: 'object', required: ['number', 'url'], properties: { number: { type: 'integer' }, url: { type: 'string' } } };

const schemas: Record<string, Schema> = {
  DirectUpload: {
    type: 'object',
    required: ['upload_id', 'video_id', 'version', 'part_size', 'parts', 'urls_expire_at'],
    properties: {
      upload_id: { type: 'string' },
      video_id: { type: 'string' },
      version: { type: 'integer' },
      part_size: { type: 'integer' },
      parts: { type: 'array', items: partUrl },
      urls_expire_at: { type: 'integer', description: 'unix ms' },
    },
  },
  DirectUploadState: {
    type: 'object',
    required: ['upload_id', 'video_id', 'size', 'part_size', 'parts', 'pending', 'urls_expire_at'],
    properties: {
      upload_id: { type: 'string' },
      video_id: { type: 'string' },
      size: { type: 'integer' },
      part_size: { type: 'integer' },
      parts: { type: 'array', items: { type: 'object', properties: { number: { type: 'integer' }, etag: { type: 'string' }, size: { type: 'integer' } } } },
      pending: { type: 'array', items: partUrl },
      urls_expire_at: { type: 'integer' },
    },
  },
  Error: {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: errorCode, message: { type: 'string' } } } },
  },
  Video: videoView,
  AudioRendition: audioRendition,
  MediaManifest: {
    type: 'object',
    description: 'media_manifest.json of a ready version (API.md); VOD versions also name their source_dynamic_range, and each ladder entry its frame_rate and video_range',
    required: ['version', 'hls_url', 'poster_url', 'thumbnail_vtt_url', 'duration_ms', 'ladder', 'loudness'],
    properties: {
      version: { type: 'integer' },
      hls_url: { type: 'string' },
      dash_url: { type: ['string', 'null'] },
      poster_url: { type: 'string', description: 'a frame of the video; for audio-only sources the cover art, else a waveform picture' },
      thumbnail_vtt_url: { type: 'string', description: 'storyboard cues (none for audio-only sources)' },
      duration_ms: { type: 'integer' },
      captions: { type: 'array', items: ref('Caption'), description: 'master revisions (manifest-REV.json): the caption tracks' },
      chapters: { type: 'array', items: ref('Chapter') },
      chapters_vtt_url: { type: ['string', 'null'], description: 'the WebVTT chapters track' },
      ladder: {
        type: 'array',
        description: 'the renditions, as in the video',
        items: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            width: { type: 'integer' },
            height: { type: 'integer' },
            bitrate_kbps: { type: 'integer' },
            codecs: { type: 'string' },
            frame_rate: { type: 'string', description: 'exact output frame rate: "30", "30000/1001"; variable-rate sources at the highest rate they use, capped by transcode.max_fps' },
            video_range: { enum: ['SDR'], description: 'HDR sources are tone-mapped to BT.709 SDR' },
          },
        },
      },
      audio: {
        type: 'array',
        items: ref('AudioRendition'),
        description: 'every audio rendition (each source track up to transcode.max_audio_tracks, stereo plus surround for 5.1/7.1), in master order',
      },
      loudness: { type: ['number', 'null'], description: 'integrated LUFS of the default audio track; null without audio' },
      encoder: { type: 'string' },
      source_dynamic_range: { enum: ['SDR', 'HLG', 'PQ'], description: "the source's dynamic range (VOD versions); the ladder is BT.709 SDR whatever it is" },
    },
  },
  VideoPage: { type: 'object', required: ['items', 'next_cursor'], properties: { items: { type: 'array', items: ref('Video') }, next_cursor: { type: ['string', 'null'] } } },
  VideoInput: {
    type: 'object',
    properties: {
      title: { type: 'string', maxLength: 500 },
      description: { type: 'string', maxLength: 10000 },
      tags: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 50 },
      visibility: { enum: ['public', 'unlisted', 'private'] },
      priority: { enum: ['low', 'normal', 'high'], description: "on creation only: the class of the video's processing jobs (default normal; high needs an admin token, else 403)" },
      chapters: { type: 'array', items: ref('Chapter'), maxItems: 500, description: 'PATCH only: replaces the chapters ([] for none); distinct start times' },
      watermark: {
        oneOf: [{ const: false }, { type: 'null' }, ref('WatermarkPlacement')],
        description:
          'false: no watermark on this video; null: the configured one; a placement: fields that override transcode.watermark (400 when no watermark is configured). The image is always the configured file. Applies from the next encode (upload or reprocess); a clip refuses it (409)',
      },
    },
  },
  WatermarkPlacement: {
    type: 'object',
    additionalProperties: false,
    properties: {
      corner: { enum: ['top-left', 'top-right', 'bottom-left', 'bottom-right'] },
      margin: { type: 'number', minimum: 0, maximum: 0.25, description: "distance from the two nearest edges, fraction of the rung's height" },
      opacity: { type: 'number', minimum: 0, maximum: 1 },
      scale: { type: 'number', minimum: 0.01, maximum: 1, description: "the mark's width, fraction of the rung's width" },
    },
  },
  Runner: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      state: { enum: ['active', 'draining', 'revoked'] },
      encoders: { type: 'array', items: { type: 'string' }, description: 'encoders whose trial encode worked on the runner' },
      created_at: { type: 'string', format: 'date-time' },
      last_seen_at: { type: 'string', format: 'date-time' },
      revoked_at: { type: ['string', 'null'], format: 'date-time' },
    },
  },
  Caption: caption,
  CaptionInput: captionInput,
  Chapter: {
    type: 'object',
    required: ['start_s', 'title'],
    properties: { start_s: { type: 'number', minimum: 0 }, title: { type: 'string', maxLength: 200 } },
  },
  Token: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'array', items: { enum: ['upload', 'read', 'admin'] } },
      created_at: { type: 'string', format: 'date-time' },
      revoked_at: { type: ['string', 'null'], format: 'date-time' },
    },
  },
  Job: {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      type: { type: 'string' },
      status: { enum: ['queued', 'running', 'succeeded', 'failed', 'dead'] },
      video_id: { type: ['string', 'null'] },
      version: { type: ['integer', 'null'] },
      attempts: { type: 'integer' },
      max_attempts: { type: 'integer' },
      last_error: { type: ['string', 'null'] },
      stage: { type: ['string', 'null'] },
      percent: { type: ['number', 'null'] },
      created_at: { type: 'string', format: 'date-time' },
      run_after: { type: 'string', format: 'date-time' },
      node: { type: ['string', 'null'], description: 'the only node that may run the job (its input is on that disk); null: any node' },
      priority: { type: 'integer', description: 'higher is claimed first; a waiting job gains a point per jobs.priority.ageing_s' },
      wants_encoder: { type: ['string', 'null'], description: 'only a worker or runner that proved this encoder takes it (transcode.require_encoder)' },
      runner: { type: ['string', 'null'], description: 'the remote runner holding the job' },
      waiting_for: { type: ['string', 'null'], description: 'why a queued job that wants an encoder is not running' },
    },
  },
  Live: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      title: { type: 'string' },
      status: { enum: ['idle', 'live', 'ended'] },
      started_at: { type: 'string', format: 'date-time' },
      vod_video_id: { type: 'string' },
      playback: { type: 'object', properties: { hls_url: { type: 'string' }, page_url: { type: 'string' }, poster_url: { type: 'string', description: 'refreshed every live.poster_interval_s while on air' } } },
      rtmp_url: { type: 'string' },
      srt_url: { type: ['string', 'null'], description: 'srt://HOST:PORT; publish with ?streamid=STREAM_KEY (null when SRT is off)' },
      restream: { type: 'array', items: ref('RestreamTarget') },
    },
  },
  RestreamTarget: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      url: { type: 'string', description: 'the target URL with its key masked' },
      from_config: { type: 'boolean', description: 'a live.restream target (every live carries it)' },
      state: { enum: ['idle', 'connecting', 'live', 'failed'] },
      reason: { type: 'string', description: 'why the last attempt failed' },
      attempts: { type: 'integer' },
      since: { type: 'string', format: 'date-time' },
    },
  },
  RestreamInput: {
    type: 'array',
    maxItems: 10,
    items: { type: 'object', required: ['url'], properties: { url: { type: 'string', description: 'rtmp(s)://HOST[:PORT]/APP/KEY' } } },
  },
};

const videoId = pathParam('id', 'video id');
const sdp = (description: string) => ({ 'application/sdp': { schema: { type: 'string', description } } });
const whipUrlProperty: Schema = { type: 'string', description: 'WHIP endpoint (POST an SDP offer with the stream key as bearer token)' };
const startTime = queryParam('t', 'start time: 90, 1m30s or 1:30');
const text = (type: string, description: string) => ({ '200': { description, content: { [type]: { schema: { type: 'string' } } } } });

/** A remote runner's own call (core/runners/protocol.ts): Bearer runner token, job calls add Framecast-Job-Token. */
function runnerCall(summary: string, status = '200', job = false): Record<string, Operation> {
  return {
    post: op(summary, {
      auth: 'required',
      ...(job ? { parameters: [pathParam('id', 'job id'), { name: 'Framecast-Job-Token', in: 'header', required: true, description: "the job's own token", schema: { type: 'string' } }] } : {}),
      requestBody: { required: true, content: json({ type: 'object' }) },
      responses: { ...(status === '204' ? { '204': { description: 'done' } } : ok('answer', { type: 'object' }, status)), ...errors(400, 401, ...(job ? [409] : [])) },
    }),
  };
}
const signedObjectParams = [pathParam('key', 'object key'), queryParam('expires', 'expiry (unix s)'), queryParam('sig', 'signature (for this key and method)')];

const paths: Record<string, Record<string, Operation | string>> = {
  '/healthz': { get: op('The node serves', { auth: 'none', responses: { ...ok('{"status":"ok"}', { type: 'object' }), ...koaRefusals } }) },
  '/readyz': { get: op('DB, storage and (workers) ffmpeg are usable', { auth: 'none', responses: { ...ok('ready', { type: 'object' }), ...koaRefusals, ...errors(503) } }) },
  '/metrics': { get: op('Prometheus metrics of the whole node', { auth: 'none', responses: { ...text('text/plain', 'Prometheus text exposition'), ...koaRefusals } }) },
  '/openapi.json': { get: op('This document', { auth: 'none', responses: { ...ok('OpenAPI 3.1', { type: 'object' }), ...koaRefusals } }) },
  '/v1/videos': {
    post: op('Create a video (then upload its file with tus)', {
      auth: 'required',
      requestBody: { required: true, content: json({ allOf: [ref('VideoInput'), { required: ['title'] }] }) },
      responses: { ...ok('created, awaiting upload', ref('Video'), '201'), ...errors(400, 401, 403) },
    }),
    get: op('List videos, newest first', {
      parameters: [...pageParams, queryParam('owner', 'token id of the owner'), queryParam('status', 'video status')],
      responses: { ...ok('a page', ref('VideoPage')), ...errors(400) },
    }),
  },
  '/v1/videos/{id}': {
    get: op('One video (a private one also with `?token=`, a playback token signed for it: what its signed embed URL reads)', {
      parameters: [videoId, queryParam('token', 'signed playback token of this video (private videos)')],
      responses: { ...ok('the video', ref('Video')), ...errors(404) },
    }),
    patch: op('Change title, description, tags, visibility, chapters, watermark', {
      auth: 'required',
      parameters: [videoId],
      requestBody: { required: true, content: json(ref('VideoInput')) },
      responses: { ...ok('the video', ref('Video')), ...errors(400, 401, 403, 404, 409) },
    }),
    delete: op('Delete the video, its source and outputs', { auth: 'required', parameters: [videoId], responses: { '204': { description: 'deleted' }, ...errors(401, 403, 404) } }),
  },
  '/v1/videos/{id}/captions': {
    get: op('The caption tracks of a video', { parameters: [videoId], responses: { ...ok('the tracks', { type: 'object', properties: { items: { type: 'array', items: ref('Caption') } } }), ...errors(404) } }),
    post: op('Add a caption track (JSON with text, or multipart/form-data with a file part); published without a re-encode', {
      auth: 'required',
      parameters: [videoId],
      requestBody: {
        required: true,
        content: {
          ...json({ allOf: [captionInput, { required: ['language', 'text'] }] }),
          'multipart/form-data': { schema: { type: 'object', required: ['language', 'file'], properties: { language: { type: 'string' }, label: { type: 'string' }, kind: { enum: ['subtitles', 'captions'] }, file: { type: 'string', format: 'binary' } } } },
        },
      },
      responses: { ...ok('added', ref('Caption'), '201'), ...errors(400, 401, 403, 404, 409, 413) },
    }),
  },
  '/v1/videos/{id}/captions/{caption_id}': {
    get: op('One caption track', { parameters: [videoId, pathParam('caption_id', 'caption id')], responses: { ...ok('the track', ref('Caption')), ...errors(404) } }),
    put: op('Replace a caption track: a new file and/or language, label, kind (fields left out stay)', {
      auth: 'required',
      parameters: [videoId, pathParam('caption_id', 'caption id')],
      requestBody: { required: true, content: { ...json(ref('CaptionInput')), 'multipart/form-data': { schema: { type: 'object' } } } },
      responses: { ...ok('replaced', ref('Caption')), ...errors(400, 401, 403, 404, 413) },
    }),
    delete: op('Delete a caption track', { auth: 'required', parameters: [videoId, pathParam('caption_id', 'caption id')], responses: { '204': { description: 'deleted' }, ...errors(401, 403, 404) } }),
  },
  '/v1/videos/{id}/captions/generate': {
    post: op('Queue automatic captions (transcription.engine, or a filter:captions.transcribe plugin); the result is a track with auto: true', {
      auth: 'required',
      parameters: [videoId],
      requestBody: { required: false, content: json({ type: 'object', properties: { language: { type: 'string', description: 'one of transcription.languages (default the first)' } } }) },
      responses: { ...ok('queued', { type: 'object', properties: { job_id: { type: 'integer' }, language: { type: 'string' }, status: { const: 'queued' } } }, '202'), ...errors(400, 401, 403, 404, 409) },
    }),
  },
  '/v1/videos/{id}/manifest': { get: op("The ready version's media_manifest.json", { parameters: [videoId], responses: { ...ok('manifest', ref('MediaManifest')), ...errors(404) } }) },
  '/v1/videos/{id}/reprocess': {
    post: op('Run the pipeline again on the stored source (a new version)', { auth: 'required', parameters: [videoId], responses: { ...ok('queued', ref('Video'), '202'), ...errors(401, 403, 404, 409) } }),
  },
  '/v1/videos/{id}/multipart': {
    post: op('Start a direct-to-storage (multipart) upload of a new version: part URLs to PUT the parts to (presigned S3 UploadPart URLs, or signed node URLs on the fs backend); the parts are part_size bytes but the last', {
      auth: 'required',
      parameters: [videoId],
      requestBody: { required: true, content: json({ type: 'object', required: ['filename', 'size'], properties: { filename: { type: 'string' }, size: { type: 'integer', minimum: 1 }, content_type: { type: 'string' } } }) },
      responses: { ...ok('started', ref('DirectUpload'), '201'), ...errors(400, 401, 403, 404, 413, 429, 507) },
    }),
  },
  '/v1/videos/{id}/multipart/{upload_id}': {
    get: op('The parts stored so far, and fresh URLs for the missing ones (resume)', {
      auth: 'required',
      parameters: [videoId, pathParam('upload_id', 'upload id')],
      responses: { ...ok('state', ref('DirectUploadState')), ...errors(401, 403, 404, 409) },
    }),
    delete: op('Abort: the parts and the new version go', { auth: 'required', parameters: [videoId, pathParam('upload_id', 'upload id')], responses: { '204': { description: 'aborted' }, ...errors(401, 403, 404, 409) } }),
  },
  '/v1/videos/{id}/multipart/{upload_id}/complete': {
    post: op('Assemble the parts (ascending numbers, the ETags the part PUTs answered) and queue processing; optional whole-file sha256 (hex)', {
      auth: 'required',
      parameters: [videoId, pathParam('upload_id', 'upload id')],
      requestBody: {
        required: true,
        content: json({
          type: 'object',
          required: ['parts'],
          properties: { parts: { type: 'array', items: { type: 'object', required: ['number', 'etag'], properties: { number: { type: 'integer' }, etag: { type: 'string' } } } }, sha256: { type: 'string' } },
        }),
      },
      responses: { ...ok('processing', ref('Video')), ...errors(400, 401, 403, 404) },
    }),
  },
  '/v1/multipart-parts/{upload_id}/{number}': {
    'x-served-by': 'multipart-parts',
    put: op('A part of a direct upload, PUT to the signed URL the node handed out (stores clients cannot reach); answers its ETag', {
      auth: 'none',
      parameters: [pathParam('upload_id', 'upload id'), pathParam('number', 'part number'), { ...queryParam('expires', 'from the signed URL'), required: true }, { ...queryParam('sig', 'from the signed URL'), required: true }],
      responses: { '200': { description: 'stored; ETag header' }, ...errors(400, 403, 404, 413) },
    }),
    options: op('CORS preflight', { auth: 'none', parameters: [pathParam('upload_id', 'upload id'), pathParam('number', 'part number')], responses: { '204': { description: 'allowed' }, ...slowRequest } }),
  },
  '/v1/videos/{id}/poster': {
    post: op('Choose the poster: {"time_s"} takes the frame at that time from the top rendition; a JPEG or PNG body (Content-Type image/jpeg or image/png, at most limits.max_poster_bytes) is validated and re-encoded to fit the top rung. The new poster gets a new URL (playback.poster_url)', {
      auth: 'required',
      parameters: [videoId],
      requestBody: {
        required: true,
        content: {
          ...json({ type: 'object', required: ['time_s'], properties: { time_s: { type: 'number', minimum: 0 } } }),
          'image/jpeg': { schema: { type: 'string', format: 'binary' } },
          'image/png': { schema: { type: 'string', format: 'binary' } },
        },
      },
      responses: { ...ok('the video with its new poster_url', ref('Video')), ...errors(400, 401, 403, 404, 409, 413, 422) },
    }),
  },
  '/v1/videos/{id}/clips': {
    post: op('Make a new video from a range of a ready one, in seconds: segments inside the range are reused as they are, only the partial first and last ones are re-encoded (none with snap: true, which grows the range to segment boundaries). 201 with the new video (processing, then ready); 409 when the video is not ready', {
      auth: 'required',
      parameters: [videoId],
      requestBody: {
        required: true,
        content: json({
          type: 'object',
          required: ['start_s', 'end_s'],
          properties: { start_s: { type: 'number', minimum: 0 }, end_s: { type: 'number' }, title: { type: 'string' }, snap: { type: 'boolean' } },
        }),
      },
      responses: { ...ok('the clip (a new video)', ref('Video'), '201'), ...errors(400, 401, 403, 404, 409) },
    }),
  },
  '/v1/videos/{id}/related': {
    get: op('Videos to watch next: ready public videos sharing its tags (first), then its title words (search index), then trending; one page (next_cursor is null)', {
      parameters: [videoId, queryParam('limit', 'at most this many (1–50, default 10)', { type: 'integer' })],
      responses: { ...ok('a page', ref('VideoPage')), ...errors(400, 404) },
    }),
  },
  '/v1/videos/{id}/stats': { get: op('Playback statistics', { parameters: [videoId], responses: { ...ok('stats', { type: 'object' }), ...errors(404) } }) },
  '/v1/search': {
    get: op('Full-text search over title, description and tags (ranked; words match as prefixes)', {
      parameters: [{ ...queryParam('q', 'the words'), required: true }, ...pageParams],
      responses: { ...ok('a page', ref('VideoPage')), ...errors(400) },
    }),
  },
  '/v1/feed': { get: op('Trending: ready videos ranked by recent engagement, then newest (next_cursor is signed by the server: a forged or changed cursor is 400 E_BAD_REQUEST)', { parameters: pageParams, responses: { ...ok('a page', ref('VideoPage')), ...errors(400) } }) },
  '/v1/events': {
    post: op('Player telemetry batch: events count only for public, ready videos (the others are refused by index); 429 E_RATE_LIMITED with Retry-After past the per-address or the total limit; events are written behind the request', {
      auth: 'none',
      requestBody: { required: true, content: json({ type: 'object', required: ['events'], properties: { events: { type: 'array', items: { type: 'object' } } } }) },
      responses: { ...ok('accepted (bad events counted)', { type: 'object' }, '202'), ...errors(400, 429) },
    }),
  },
  '/v1/tokens': {
    post: op('Create an API token (shown once)', {
      auth: 'required',
      requestBody: { required: true, content: json({ type: 'object', required: ['name', 'scopes'], properties: { name: { type: 'string' }, scopes: { type: 'array', items: { enum: ['upload', 'read', 'admin'] } } } }) },
      responses: { ...ok('created', { allOf: [ref('Token'), { properties: { token: { type: 'string' } } }] }, '201'), ...errors(400, 401, 403) },
    }),
    get: op('List API tokens (admin)', { auth: 'required', responses: { ...ok('tokens', { type: 'object', properties: { items: { type: 'array', items: ref('Token') } } }), ...errors(401, 403) } }),
  },
  '/v1/tokens/{id}': { delete: op('Revoke a token (admin)', { auth: 'required', parameters: [pathParam('id', 'token id')], responses: { ...ok('revoked', ref('Token')), ...errors(401, 403, 404) } }) },
  '/v1/jobs': {
    get: op('Processing jobs (admin)', {
      auth: 'required',
      parameters: [queryParam('status', 'job status'), queryParam('limit', 'at most this many (default 100)', { type: 'integer' })],
      responses: { ...ok('jobs', { type: 'object', properties: { items: { type: 'array', items: ref('Job') } } }), ...errors(401, 403) },
    }),
  },
  '/v1/jobs/{id}/retry': {
    post: op('Queue a dead or failed job again (admin)', { auth: 'required', parameters: [pathParam('id', 'job id')], responses: { ...ok('queued', ref('Job'), '202'), ...errors(401, 403, 404, 409) } }),
  },
  '/v1/runners/tokens': {
    post: op('Create a runner registration token (admin; shown once, reusable until revoked)', {
      auth: 'required',
      responses: { ...ok('created', { type: 'object', properties: { id: { type: 'string' }, token: { type: 'string' } } }, '201'), ...errors(401, 403) },
    }),
  },
  '/v1/runners': { get: op('Registered remote runners (admin)', { auth: 'required', responses: { ...ok('runners', { type: 'object', properties: { items: { type: 'array', items: ref('Runner') } } }), ...errors(401, 403) } }) },
  '/v1/runners/{id}': { delete: op('Revoke a runner (admin): its token is refused and its jobs go to others at once', { auth: 'required', parameters: [pathParam('id', 'runner id')], responses: { ...ok('revoked', ref('Runner')), ...errors(401, 403, 404) } }) },
  '/v1/runners/{id}/drain': { post: op('Drain a runner (admin): it finishes its job and claims no more', { auth: 'required', parameters: [pathParam('id', 'runner id')], responses: { ...ok('draining', ref('Runner')), ...errors(401, 403, 404) } }) },
  '/v1/runner/register': runnerCall('A runner registers (Bearer registration token) → {id, token}', '201'),
  '/v1/runner/jobs/claim': runnerCall('Long-poll for a job ({wait_s, encoders}) → the job with its own token and a signed source URL, or 204'),
  '/v1/runner/jobs/{id}/probe': runnerCall("The source's probe → the ladder to encode (plugins may refuse: 422)", '200', true),
  '/v1/runner/jobs/{id}/progress': runnerCall('Progress ({stage, percent}); renews the lease', '204', true),
  '/v1/runner/jobs/{id}/uploads': runnerCall('Signed PUT URLs for the named outputs ({files: [{path, size}]})', '200', true),
  '/v1/runner/jobs/{id}/complete': runnerCall('All outputs uploaded ({result, files}): the node checks and publishes them', '204', true),
  '/v1/runner/jobs/{id}/fail': runnerCall('The job failed ({code, message}): recorded, retried while attempts and the code allow', '204', true),
  '/v1/objects/{key}': {
    'x-served-by': 'signed-objects',
    get: op('Read one object through a signed node URL (core/storage/object-urls.ts; storage without presigning)', { auth: 'none', parameters: signedObjectParams, responses: { '200': { description: 'the bytes' }, ...errors(403, 404) } }),
    put: op('Write one object through a signed node URL', { auth: 'none', parameters: signedObjectParams, responses: { '200': { description: 'stored; ETag' }, ...errors(403) } }),
  },
  '/v1/origin/stats': { get: op("This process's origin cache (admin)", { auth: 'required', responses: { ...ok('stats', { type: 'object' }), ...errors(401, 403) } }) },
  '/v1/live': {
    post: op('Create a live (stream key shown once)', {
      auth: 'required',
      requestBody: { required: true, content: json({ type: 'object', required: ['title'], properties: { title: { type: 'string' }, record: { type: 'boolean' }, restream: ref('RestreamInput') } }) },
      responses: {
        ...ok('created', { allOf: [ref('Live'), { properties: { stream_key: { type: 'string' }, rtmp_url: { type: 'string' }, whip_url: whipUrlProperty, srt_publish_url: { type: 'string', description: 'srt_url?streamid=STREAM_KEY, shown once' } } }] }, '201'),
        ...errors(400, 401, 403),
      },
    }),
    get: op('List lives, newest first', { parameters: [...pageParams, queryParam('status', 'idle, live or ended')], responses: { ...ok('a page', { type: 'object' }), ...errors(400) } }),
  },
  '/v1/live/{id}': {
    get: op('One live (with the rtmp_url and srt_url encoders publish to, and each restream target\'s state)', {
      parameters: [pathParam('id', 'live id')],
      responses: { ...ok('the live', { allOf: [ref('Live'), { properties: { rtmp_url: { type: 'string' }, whip_url: whipUrlProperty } }] }), ...errors(404) },
    }),
    patch: op('Change a live\'s title or restream targets (followed within a second while on air)', {
      auth: 'required',
      parameters: [pathParam('id', 'live id')],
      requestBody: { required: true, content: json({ type: 'object', properties: { title: { type: 'string' }, restream: ref('RestreamInput') } }) },
      responses: { ...ok('the live', ref('Live')), ...errors(400, 401, 403, 404) },
    }),
    delete: op('Revoke a live (its publisher is dropped)', { auth: 'required', parameters: [pathParam('id', 'live id')], responses: { ...ok('revoked', ref('Live')), ...errors(401, 403, 404) } }),
  },
  '/v1/live/{id}/whip': {
    post: op('WHIP (RFC 9725): publish to a live over WebRTC. The bearer token is the stream key; the body an SDP offer (H.264 or VP8 video, Opus audio; no trickle ICE)', {
      auth: 'required',
      parameters: [pathParam('id', 'live id')],
      requestBody: { required: true, content: sdp('the SDP offer') },
      responses: {
        '201': { description: 'the SDP answer (every ICE candidate in it); Location is the session resource', headers: { Location: { description: '/v1/live/{id}/whip/{session}', schema: { type: 'string' } } }, content: sdp('the SDP answer') },
        ...errors(400, 401, 409, 413, 415, 429, 503),
      },
    }),
    options: op('CORS preflight (browser publishers on other origins); Accept-Post: application/sdp', { auth: 'none', parameters: [pathParam('id', 'live id')], responses: { '204': { description: 'allowed' }, ...slowRequest } }),
  },
  '/v1/live/{id}/whip/{session}': {
    delete: op('Ends a WHIP session: the publisher is done and the live ends at once (a recording becomes its VOD)', {
      auth: 'none',
      parameters: [pathParam('id', 'live id'), pathParam('session', 'the session id of the Location header')],
      responses: { '200': { description: 'ended' }, ...errors(404, 503) },
    }),
    options: op('CORS preflight', { auth: 'none', parameters: [pathParam('id', 'live id'), pathParam('session', 'session id')], responses: { '204': { description: 'allowed' }, ...slowRequest } }),
  },
  '/live/{id}/{path}': {
    get: op('Live media: LL-HLS playlists and poster.jpg (max-age=1), parts and segments', {
      auth: 'none',
      parameters: [
        pathParam('id', 'live id'),
        pathParam('path', 'file'),
        queryParam('_HLS_msn', 'blocking playlist reload: hold the request until Media Segment M (or part _HLS_part of it) is listed, at most three target durations', { type: 'integer', minimum: 0 }),
        queryParam('_HLS_part', 'with _HLS_msn: the part to wait for', { type: 'integer', minimum: 0 }),
      ],
      responses: { '200': { description: 'media' }, ...errors(400, 404) },
    }),
    options: op('CORS preflight', { auth: 'none', parameters: [pathParam('id', 'live id'), pathParam('path', 'file')], responses: { '204': { description: 'allowed' }, ...koaRefusals } }),
  },
  '/live/{id}': { get: op('The live page', { auth: 'none', parameters: [pathParam('id', 'live id')], responses: { ...text('text/html', 'page'), ...koaRefusals } }) },
  '/': { get: op('The library page', { auth: 'none', responses: { ...text('text/html', 'page'), ...koaRefusals } }) },
  '/upload': { get: op('The upload page', { auth: 'none', responses: { ...text('text/html', 'page'), ...koaRefusals } }) },
  '/watch/{id}': {
    get: op('The watch page (with OpenGraph/Twitter tags and the oEmbed discovery link for public and unlisted videos; ?t= starts there)', {
      auth: 'none',
      parameters: [videoId, startTime],
      responses: { ...text('text/html', 'page'), ...koaRefusals },
    }),
  },
  '/embed/{id}': {
    get: op("The embed player, for iframes on other sites: frame-ancestors from embed.allowed_origins; a private video's only with ?token=", {
      auth: 'none',
      parameters: [
        videoId,
        startTime,
        queryParam('autoplay', '1: play at once (browsers need muted=1 too)'),
        queryParam('muted', '1: start muted'),
        queryParam('captions', 'language (BCP 47) of the captions to show'),
        queryParam('token', 'signed playback token (private videos)'),
      ],
      responses: { ...text('text/html', 'page'), ...koaRefusals },
    }),
  },
  '/oembed': {
    get: op('oEmbed 1.0 (type video) for a watch or embed URL of this site', {
      auth: 'none',
      parameters: [
        { ...queryParam('url', 'a /watch/{id} or /embed/{id} URL of this site (a private video with its ?token=)'), required: true },
        queryParam('format', 'json (the only one)'),
        queryParam('maxwidth', 'largest width of the embed', { type: 'integer' }),
        queryParam('maxheight', 'largest height of the embed', { type: 'integer' }),
      ],
      responses: {
        ...ok('the oEmbed answer', {
          type: 'object',
          required: ['version', 'type', 'html', 'width', 'height'],
          properties: {
            version: { const: '1.0' },
            type: { const: 'video' },
            title: { type: 'string' },
            provider_name: { type: 'string' },
            provider_url: { type: 'string' },
            html: { type: 'string', description: 'an iframe of /embed/{id}' },
            width: { type: 'integer' },
            height: { type: 'integer' },
            thumbnail_url: { type: 'string' },
            thumbnail_width: { type: 'integer' },
            thumbnail_height: { type: 'integer' },
            duration: { type: 'integer', description: 'seconds' },
          },
        }),
        ...errors(400, 401, 404, 501),
      },
    }),
  },
  '/assets/{path}': { get: op('Page assets (scripts, styles, hls.js)', { auth: 'none', parameters: [pathParam('path', 'file')], responses: { '200': { description: 'file' }, ...errors(404) } }) },
  '/v1/uploads': {
    'x-served-by': 'tus',
    post: op('Create a tus upload (creation, creation-with-upload); Upload-Metadata video_id or filename/title', {
      auth: 'required',
      responses: { '201': { description: 'created; Location and Framecast-Video-Id headers' }, ...errors(400, 401, 403, 404, 412, 413, 422, 429, 503, 507) },
    }),
    options: op('tus capabilities', { auth: 'none', responses: { '204': { description: 'Tus-Version, Tus-Extension, Tus-Max-Size' }, ...slowRequest } }),
  },
  '/v1/uploads/{upload_id}': {
    'x-served-by': 'tus',
    head: op('tus: the upload offset', { auth: 'required', parameters: [pathParam('upload_id', 'tus upload id')], responses: { '200': { description: 'Upload-Offset, Upload-Length' }, ...errors(404) } }),
    patch: op('tus: append bytes (Upload-Checksum sha1 optional); one request writes an upload at a time across processes and nodes: another one waits, then gets 409 (offset moved, or still being written)', {
      auth: 'required',
      parameters: [pathParam('upload_id', 'tus upload id')],
      responses: { '204': { description: 'accepted; Upload-Offset' }, ...errors(400, 404, 409, 412, 460, 503, 507) },
    }),
    delete: op('tus termination', { auth: 'required', parameters: [pathParam('upload_id', 'tus upload id')], responses: { '204': { description: 'terminated' }, ...errors(401, 403, 404) } }),
  },
  '/media/{id}/{version}/{file}': {
    'x-served-by': 'media-fast-path',
    get: op('Versioned media through the caching origin (Range, If-None-Match; private media needs ?token=)', {
      auth: 'none',
      parameters: [videoId, pathParam('version', 'v1, v2, …'), pathParam('file', 'master.m3u8, 720p/seg-00001.m4s, …'), queryParam('token', 'signed playback token (private videos)')],
      responses: { '200': { description: 'the object' }, '206': { description: 'a range' }, '304': { description: 'not modified' }, ...errors(403, 404) },
    }),
    head: op('Media headers', { auth: 'none', parameters: [videoId, pathParam('version', 'v1, …'), pathParam('file', 'file')], responses: { '200': { description: 'headers' }, ...errors(403, 404) } }),
    options: op('CORS preflight', { auth: 'none', parameters: [videoId, pathParam('version', 'v1, …'), pathParam('file', 'file')], responses: { '204': { description: 'allowed' }, ...slowRequest } }),
  },
  '/plugins/{plugin}/{path}': {
    'x-served-by': 'plugins',
    get: op('A route a plugin registered (api.registerRoute); likewise post, put, patch, delete', {
      parameters: [pathParam('plugin', 'plugin name'), pathParam('path', 'the route')],
      responses: { '200': { description: "the plugin's answer" }, ...errors(404) },
    }),
  },
};

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;

/**
 * `get /v1/videos/{id}/manifest` → `getV1VideosByIdManifest`: derived, so every operation has
 * a unique id (client generators and Redocly want one) without a second list to keep in step.
 */
export function operationId(method: string, path: string): string {
  const words = path
    .split('/')
    .filter((part) => part !== '')
    .flatMap((part) => {
      const param = /^\{(.+)\}$/.exec(part);
      return param ? ['by', ...param[1]!.split(/[^A-Za-z0-9]+/)] : part.split(/[^A-Za-z0-9]+/);
    })
    .filter((w) => w !== '');
  const title = (w: string) => w[0]!.toUpperCase() + w.slice(1);
  return method + (words.length ? words.map(title).join('') : 'Root');
}

function withOperationIds(all: typeof paths): typeof paths {
  return Object.fromEntries(
    Object.entries(all).map(([path, item]) => [
      path,
      Object.fromEntries(
        Object.entries(item).map(([key, value]) =>
          (METHODS as readonly string[]).includes(key) && typeof value === 'object' ? [key, { operationId: operationId(key, path), ...value }] : [key, value],
        ),
      ),
    ]),
  );
}

/** The OpenAPI 3.1 document. */
export function openApiDocument(version = '0.1.0'): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'Framecast', version, description: 'Self-hosted video platform: uploads (tus), VOD, live, search, feed, plugins.' },
    // Relative: the node answering this document (behind a proxy, wherever it is reached).
    servers: [{ url: '/', description: 'this Framecast node' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas },
    paths: withOperationIds(paths),
  };
}
