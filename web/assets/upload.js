/*
 * The upload page (/upload): a resumable tus upload with tus-js-client (loaded as the global
 * `tus`), then the video's processing progress, then its player.
 *
 * The video is created first (POST /v1/videos, with title, description and visibility) and
 * the upload names it in its `video_id` metadata. tus-js-client remembers unfinished uploads
 * by file fingerprint, so choosing the same file after a reload resumes it; the video id is
 * remembered beside it (by upload URL), because a resumed upload never creates anything.
 * Dropped connections are retried by tus-js-client itself (retryDelays).
 */
import { apiCall, authHeaders, saveToken, savedToken } from './api.js';
import { describeProgress, formatBytes, formatRemaining } from './format.js';

const ENDPOINT = '/v1/uploads';
const CHUNK_BYTES = 64 * 1024 * 1024;
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000, 20000];
const VIDEO_IDS_KEY = 'framecast.upload-video-ids';
const SPEED_WINDOW_MS = 5000;
const POLL_MS = 1000;

const byId = (id) => document.getElementById(id);
const ui = {
  form: byId('form'),
  token: /** @type {HTMLInputElement} */ (byId('token')),
  title: /** @type {HTMLInputElement} */ (byId('title')),
  description: /** @type {HTMLTextAreaElement} */ (byId('description')),
  visibility: /** @type {HTMLSelectElement} */ (byId('visibility')),
  dropzone: byId('dropzone'),
  dropzoneText: byId('dropzone-text'),
  file: /** @type {HTMLInputElement} */ (byId('file')),
  progress: byId('progress'),
  progressFill: byId('progress-fill'),
  progressText: byId('progress-text'),
  processing: byId('processing'),
  processingFill: byId('processing-fill'),
  processingText: byId('processing-text'),
  start: /** @type {HTMLButtonElement} */ (byId('start')),
  pause: /** @type {HTMLButtonElement} */ (byId('pause')),
  another: /** @type {HTMLButtonElement} */ (byId('another')),
  message: byId('message'),
  result: byId('result'),
  playerFrame: /** @type {HTMLIFrameElement} */ (byId('player-frame')),
  watchLink: /** @type {HTMLAnchorElement} */ (byId('watch-link')),
};

const state = {
  /** @type {File | null} */
  file: null,
  /** @type {any} a tus.Upload */
  upload: null,
  videoId: null,
  running: false,
  /** Recent (time, bytes) samples for the speed estimate. */
  samples: [],
  /** What the page has shown, in order: uploading, processing, ready | failed (tests read it). */
  phases: [],
  /** The processing percentages shown (tests read them). */
  processingPercents: [],
  pollTimer: 0,
};

function enterPhase(phase) {
  if (state.phases.at(-1) !== phase) state.phases.push(phase);
}

// ---------------------------------------------------------------- remembered values

function rememberedVideoIds() {
  try {
    return JSON.parse(localStorage.getItem(VIDEO_IDS_KEY) ?? '{}');
  } catch {
    return {};
  }
}

function rememberVideoId(uploadUrl, videoId) {
  localStorage.setItem(VIDEO_IDS_KEY, JSON.stringify({ ...rememberedVideoIds(), [uploadUrl]: videoId }));
}

function forgetVideoId(uploadUrl) {
  const ids = rememberedVideoIds();
  delete ids[uploadUrl];
  localStorage.setItem(VIDEO_IDS_KEY, JSON.stringify(ids));
}

ui.token.value = savedToken();
ui.token.addEventListener('change', () => saveToken(ui.token.value.trim()));

function say(text, kind = '') {
  ui.message.className = `message ${kind}`;
  ui.message.replaceChildren(text);
}

// ---------------------------------------------------------------- file choice

/** The extensions the server accepts (rendered into the input's `accept` by the server). */
const ACCEPTED = new Set(ui.file.accept.split(',').map((entry) => entry.trim().toLowerCase()).filter(Boolean));
const DROPZONE_TEXT = ui.dropzoneText.textContent;

/** Dropped files (or "All files" in the dialog) skip the picker's filter: hold them to the same list. */
function accepted(file) {
  const dot = file.name.lastIndexOf('.');
  return ACCEPTED.size === 0 || (dot > 0 && ACCEPTED.has(file.name.slice(dot).toLowerCase()));
}

function chooseFile(file) {
  if (!file || state.running) return;
  if (!accepted(file)) {
    say(`${file.name} is not a video or audio file this server takes (${[...ACCEPTED].join(' ')}).`, 'error');
    return;
  }
  state.file = file;
  ui.dropzoneText.textContent = `${file.name} (${formatBytes(file.size)})`;
  ui.dropzone.classList.add('chosen');
  if (!ui.title.value.trim()) ui.title.placeholder = file.name.replace(/\.[^.]+$/, '');
  ui.start.disabled = false;
  say('');
}

ui.file.addEventListener('change', () => chooseFile(ui.file.files?.[0]));
for (const type of ['dragenter', 'dragover']) {
  ui.dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    ui.dropzone.classList.add('over');
  });
}
ui.dropzone.addEventListener('dragleave', () => ui.dropzone.classList.remove('over'));
ui.dropzone.addEventListener('drop', (event) => {
  event.preventDefault();
  ui.dropzone.classList.remove('over');
  chooseFile(event.dataTransfer?.files[0]);
});
// A file dropped beside the zone would otherwise replace the page.
for (const type of ['dragover', 'drop']) document.addEventListener(type, (event) => event.preventDefault());

// ---------------------------------------------------------------- upload progress

function showProgress(sent, total) {
  const now = performance.now();
  state.samples.push({ now, sent });
  while (state.samples.length > 2 && now - state.samples[0].now > SPEED_WINDOW_MS) state.samples.shift();
  const first = state.samples[0];
  const elapsed = (now - first.now) / 1000;
  const speed = elapsed > 0 ? (sent - first.sent) / elapsed : 0;
  const percent = total > 0 ? (sent / total) * 100 : 0;
  ui.progress.hidden = false;
  ui.progressFill.style.width = `${percent}%`;
  ui.progressText.textContent =
    `${percent.toFixed(1)}% · ${formatBytes(sent)} of ${formatBytes(total)}` +
    (speed > 0 && sent < total ? ` · ${formatBytes(speed)}/s · ${formatRemaining((total - sent) / speed)} left` : '');
}

function setRunning(running) {
  state.running = running;
  ui.start.disabled = running || !state.file;
  for (const input of [ui.token, ui.title, ui.description, ui.visibility, ui.file]) input.disabled = running;
  ui.dropzone.classList.toggle('disabled', running);
  ui.pause.hidden = !state.upload;
  ui.pause.textContent = running ? 'Pause' : 'Resume';
}

/** The server's `{"error": {code, message}}` out of a tus-js-client DetailedError, when there is one. */
function describeError(error) {
  const response = error.originalResponse;
  if (!response) return error.message;
  try {
    const body = JSON.parse(response.getBody());
    if (body?.error?.code) return `${body.error.code}: ${body.error.message}`;
  } catch {
    // not JSON: fall through to the status
  }
  return `HTTP ${response.getStatus()}: ${response.getBody() || error.message}`;
}

function uploaded() {
  if (state.upload.url) forgetVideoId(state.upload.url);
  state.upload = null;
  setRunning(false);
  ui.start.hidden = true;
  ui.another.hidden = false;
  ui.progressFill.style.width = '100%';
  if (!state.videoId) return say('Uploaded. The server did not say which video it became.');
  say('Uploaded.');
  enterPhase('processing');
  ui.processing.hidden = false;
  ui.processingText.textContent = 'Queued';
  pollVideo();
}

// ---------------------------------------------------------------- processing, then the player

function showPlayer(videoId) {
  if (!ui.result.hidden) return;
  const watchUrl = `/watch/${encodeURIComponent(videoId)}`;
  // It plays at once, as the watch page does (other sites' embeds wait for a click).
  ui.playerFrame.src = `${watchUrl}?embed=1&autoplay=1`;
  ui.watchLink.href = watchUrl;
  ui.result.hidden = false;
  ui.result.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

async function pollVideo() {
  const id = state.videoId;
  const { body: video, error } = await apiCall(`/v1/videos/${encodeURIComponent(id)}`);
  if (id !== state.videoId) return;
  if (error) {
    ui.processingText.textContent = `${error.code}: ${error.message}`;
    state.pollTimer = setTimeout(pollVideo, POLL_MS * 3);
    return;
  }
  // Instant publish: the first segments play while the rest is still being transcoded.
  if (video.playback?.hls_url) showPlayer(id);
  if (video.status === 'failed') {
    enterPhase('failed');
    ui.processing.classList.add('failed');
    ui.processingText.textContent = `${video.error?.code ?? 'Failed'}: ${video.error?.message ?? 'processing failed'}`;
    return;
  }
  if (video.status === 'ready') {
    enterPhase('ready');
    ui.processingFill.style.width = '100%';
    ui.processingText.textContent = 'Ready';
    return;
  }
  const percent = video.progress?.percent;
  if (typeof percent === 'number') {
    state.processingPercents.push(percent);
    ui.processingFill.style.width = `${Math.min(100, Math.max(0, percent))}%`;
  }
  ui.processingText.textContent = describeProgress(video);
  state.pollTimer = setTimeout(pollVideo, POLL_MS);
}

// ---------------------------------------------------------------- upload

/** Creates the video the upload will fill; null (with a message) if the server says no. */
async function createVideo(token) {
  const title = ui.title.value.trim() || state.file.name.replace(/\.[^.]+$/, '') || 'Untitled';
  const { body, error } = await apiCall('/v1/videos', {
    method: 'POST',
    token,
    body: { title, description: ui.description.value, visibility: ui.visibility.value },
  });
  if (!error) return body.id;
  const hint = error.code === 'E_UNAUTHORIZED' ? ' Enter an admin or upload token above.' : '';
  say(`Could not create the video: ${error.code}: ${error.message}.${hint}`, 'error');
  return null;
}

async function startUpload() {
  const token = ui.token.value.trim();
  saveToken(token);
  const file = state.file;
  state.samples = [];
  state.phases = [];
  state.processingPercents = [];
  const upload = new window.tus.Upload(file, {
    endpoint: ENDPOINT,
    chunkSize: CHUNK_BYTES,
    retryDelays: RETRY_DELAYS_MS,
    headers: authHeaders(token),
    metadata: { filename: file.name, filetype: file.type || 'application/octet-stream' },
    removeFingerprintOnSuccess: true,
    onUploadUrlAvailable() {
      if (state.videoId) rememberVideoId(upload.url, state.videoId);
    },
    onProgress: showProgress,
    onSuccess: uploaded,
    onError(error) {
      setRunning(false);
      say(`Upload failed: ${describeError(error)}`, 'error');
    },
  });

  const remembered = rememberedVideoIds();
  const previous = (await upload.findPreviousUploads())
    .filter((p) => p.uploadUrl && remembered[p.uploadUrl])
    .sort((a, b) => Date.parse(b.creationTime) - Date.parse(a.creationTime));
  if (previous[0]) {
    upload.resumeFromPreviousUpload(previous[0]);
    state.videoId = remembered[previous[0].uploadUrl];
    say('Resuming the earlier upload of this file…');
  } else {
    state.videoId = null;
    setRunning(true); // keeps the form still while the video is created
    state.videoId = await createVideo(token);
    if (!state.videoId) return setRunning(false);
    upload.options.metadata.video_id = state.videoId;
    say('');
  }
  state.upload = upload;
  enterPhase('uploading');
  setRunning(true);
  upload.start();
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (state.file && !state.running) {
    startUpload().catch((error) => {
      setRunning(false);
      say(`Upload failed: ${error.message}`, 'error');
    });
  }
});

ui.pause.addEventListener('click', () => {
  if (!state.upload) return;
  if (state.running) {
    state.upload.abort();
    setRunning(false);
    say('Paused.');
  } else {
    state.samples = [];
    setRunning(true);
    say('');
    state.upload.start();
  }
});

ui.another.addEventListener('click', () => {
  clearTimeout(state.pollTimer);
  Object.assign(state, { file: null, upload: null, videoId: null, phases: [], processingPercents: [] });
  ui.form.reset();
  ui.token.value = savedToken();
  ui.dropzone.classList.remove('chosen');
  ui.dropzoneText.textContent = DROPZONE_TEXT;
  for (const section of [ui.progress, ui.processing, ui.result, ui.another]) section.hidden = true;
  ui.start.hidden = false;
  ui.processing.classList.remove('failed');
  ui.progressFill.style.width = ui.processingFill.style.width = '0';
  ui.playerFrame.removeAttribute('src');
  setRunning(false);
  say('');
});

/** Files whose upload tus-js-client keeps for resuming (it stores them as `tus::…` entries). */
function unfinishedUploads() {
  const remembered = rememberedVideoIds();
  const names = new Set();
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (!key?.startsWith('tus::')) continue;
    try {
      const entry = JSON.parse(localStorage.getItem(key) ?? 'null');
      if (entry?.uploadUrl && remembered[entry.uploadUrl] && entry.metadata?.filename) names.add(entry.metadata.filename);
    } catch {
      // not an entry of ours
    }
  }
  return [...names];
}

const unfinished = unfinishedUploads();
if (unfinished.length > 0) say(`Unfinished: ${unfinished.join(', ')}. Choose the same file to resume where it stopped.`);

// Tests read the state from here.
window.framecastUpload = state;
