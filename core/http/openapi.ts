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
export const SERVED_BESIDE_KOA = ['tus', 'media-fast-path', 'plugins'] as const;

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
    playback: {
      type: 'object',
      properties: Object.fromEntries(['hls_url', 'dash_url', 'poster_url', 'thumbnail_vtt_url', 'manifest_url'].map((k) => [k, { type: ['string', 'null'] }])),
    },
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

const schemas: Record<string, Schema> = {
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
    },
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
      playback: { type: 'object', properties: { hls_url: { type: 'string' } } },
    },
  },
};

const videoId = pathParam('id', 'video id');
const text = (type: string, description: string) => ({ '200': { description, content: { [type]: { schema: { type: 'string' } } } } });

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
    get: op('One video', { parameters: [videoId], responses: { ...ok('the video', ref('Video')), ...errors(404) } }),
    patch: op('Change title, description, tags, visibility', {
      auth: 'required',
      parameters: [videoId],
      requestBody: { required: true, content: json(ref('VideoInput')) },
      responses: { ...ok('the video', ref('Video')), ...errors(400, 401, 403, 404) },
    }),
    delete: op('Delete the video, its source and outputs', { auth: 'required', parameters: [videoId], responses: { '204': { description: 'deleted' }, ...errors(401, 403, 404) } }),
  },
  '/v1/videos/{id}/manifest': { get: op("The ready version's media_manifest.json", { parameters: [videoId], responses: { ...ok('manifest', ref('MediaManifest')), ...errors(404) } }) },
  '/v1/videos/{id}/reprocess': {
    post: op('Run the pipeline again on the stored source (a new version)', { auth: 'required', parameters: [videoId], responses: { ...ok('queued', ref('Video'), '202'), ...errors(401, 403, 404, 409) } }),
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
  '/v1/origin/stats': { get: op("This process's origin cache (admin)", { auth: 'required', responses: { ...ok('stats', { type: 'object' }), ...errors(401, 403) } }) },
  '/v1/live': {
    post: op('Create a live (stream key shown once)', {
      auth: 'required',
      requestBody: { required: true, content: json({ type: 'object', required: ['title'], properties: { title: { type: 'string' }, record: { type: 'boolean' } } }) },
      responses: { ...ok('created', { allOf: [ref('Live'), { properties: { stream_key: { type: 'string' }, rtmp_url: { type: 'string' } } }] }, '201'), ...errors(400, 401, 403) },
    }),
    get: op('List lives, newest first', { parameters: [...pageParams, queryParam('status', 'idle, live or ended')], responses: { ...ok('a page', { type: 'object' }), ...errors(400) } }),
  },
  '/v1/live/{id}': {
    get: op('One live (with the rtmp_url encoders publish to: live.public_rtmp_url when set)', {
      parameters: [pathParam('id', 'live id')],
      responses: { ...ok('the live', { allOf: [ref('Live'), { properties: { rtmp_url: { type: 'string' } } }] }), ...errors(404) },
    }),
    delete: op('Revoke a live (its publisher is dropped)', { auth: 'required', parameters: [pathParam('id', 'live id')], responses: { ...ok('revoked', ref('Live')), ...errors(401, 403, 404) } }),
  },
  '/live/{id}/{path}': {
    get: op('Live media: playlists (max-age=1) and segments', { auth: 'none', parameters: [pathParam('id', 'live id'), pathParam('path', 'file')], responses: { '200': { description: 'media' }, ...errors(404) } }),
    options: op('CORS preflight', { auth: 'none', parameters: [pathParam('id', 'live id'), pathParam('path', 'file')], responses: { '204': { description: 'allowed' }, ...koaRefusals } }),
  },
  '/live/{id}': { get: op('The live page', { auth: 'none', parameters: [pathParam('id', 'live id')], responses: { ...text('text/html', 'page'), ...koaRefusals } }) },
  '/': { get: op('The library page', { auth: 'none', responses: { ...text('text/html', 'page'), ...koaRefusals } }) },
  '/upload': { get: op('The upload page', { auth: 'none', responses: { ...text('text/html', 'page'), ...koaRefusals } }) },
  '/watch/{id}': { get: op('The watch page', { auth: 'none', parameters: [videoId], responses: { ...text('text/html', 'page'), ...koaRefusals } }) },
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
