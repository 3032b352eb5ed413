/*
 * The upload page (/upload): a resumable tus upload with tus-js-client (loaded as the global
 * `tus`). Without a video id in the metadata the server creates the video and returns its id
 * in the `Framecast-Video-Id` header of the creation response. tus-js-client remembers
 * unfinished uploads by file fingerprint, so choosing the same file after a reload resumes it;
 * the video id is remembered beside it because a resumed upload never sees that response.
 */
const ENDPOINT = '/v1/uploads';
const CHUNK_BYTES = 64 * 1024 * 1024;
const TOKEN_KEY = 'framecast.token';
const VIDEO_IDS_KEY = 'framecast.upload-video-ids';
const SPEED_WINDOW_MS = 5000;

const byId = (id) => document.getElementById(id);
const ui = {
  form: byId('form'),
  token: /** @type {HTMLInputElement} */ (byId('token')),
  title: /** @type {HTMLInputElement} */ (byId('title')),
  dropzone: byId('dropzone'),
  dropzoneText: byId('dropzone-text'),
  file: /** @type {HTMLInputElement} */ (byId('file')),
  progress: byId('progress'),
  progressFill: byId('progress-fill'),
  progressText: byId('progress-text'),
  start: /** @type {HTMLButtonElement} */ (byId('start')),
  pause: /** @type {HTMLButtonElement} */ (byId('pause')),
  message: byId('message'),
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
};

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

ui.token.value = localStorage.getItem(TOKEN_KEY) ?? '';
ui.token.addEventListener('change', () => localStorage.setItem(TOKEN_KEY, ui.token.value.trim()));

// ---------------------------------------------------------------- formatting

function formatBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '…';
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function say(text, kind = '') {
  ui.message.className = `message ${kind}`;
  ui.message.replaceChildren(text);
}

// ---------------------------------------------------------------- file choice

function chooseFile(file) {
  if (!file || state.running) return;
  state.file = file;
  ui.dropzoneText.textContent = `${file.name} (${formatBytes(file.size)})`;
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

// ---------------------------------------------------------------- progress

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
    (speed > 0 && sent < total ? ` · ${formatBytes(speed)}/s · ${formatDuration((total - sent) / speed)} left` : '');
}

function setRunning(running) {
  state.running = running;
  ui.start.disabled = running || !state.file;
  ui.token.disabled = running;
  ui.title.disabled = running;
  ui.file.disabled = running;
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

function finished() {
  const url = state.upload.url;
  if (url) forgetVideoId(url);
  state.upload = null;
  setRunning(false);
  ui.start.disabled = true;
  if (!state.videoId) return say('Uploaded. The server did not say which video it became.');
  const link = document.createElement('a');
  link.href = `/watch/${encodeURIComponent(state.videoId)}`;
  link.textContent = 'watch it';
  link.id = 'watch-link';
  ui.message.className = 'message';
  ui.message.replaceChildren('Uploaded; processing has started: ', link);
}

// ---------------------------------------------------------------- upload

async function startUpload() {
  const token = ui.token.value.trim();
  localStorage.setItem(TOKEN_KEY, token);
  const file = state.file;
  state.videoId = null;
  state.samples = [];
  const upload = new window.tus.Upload(file, {
    endpoint: ENDPOINT,
    chunkSize: CHUNK_BYTES,
    retryDelays: [0, 1000, 3000, 5000, 10000],
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    metadata: {
      filename: file.name,
      filetype: file.type || 'application/octet-stream',
      title: ui.title.value.trim() || file.name.replace(/\.[^.]+$/, ''),
    },
    removeFingerprintOnSuccess: true,
    onAfterResponse(_request, response) {
      const id = response.getHeader('Framecast-Video-Id');
      if (id) state.videoId = id;
    },
    onUploadUrlAvailable() {
      if (state.videoId) rememberVideoId(upload.url, state.videoId);
    },
    onProgress: showProgress,
    onSuccess: finished,
    onError(error) {
      setRunning(false);
      say(`Upload failed: ${describeError(error)}`, 'error');
    },
  });
  state.upload = upload;

  const previous = await upload.findPreviousUploads();
  const latest = previous.sort((a, b) => Date.parse(b.creationTime) - Date.parse(a.creationTime))[0];
  if (latest) {
    upload.resumeFromPreviousUpload(latest);
    state.videoId = (latest.uploadUrl && rememberedVideoIds()[latest.uploadUrl]) ?? null;
    say('Resuming the earlier upload of this file…');
  } else {
    say('');
  }
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

// Tests read the state from here.
window.framecastUpload = state;
