/*
 * The watch page (/watch/:id). It polls GET /v1/videos/:id until the video has an HLS URL
 * (which can happen while it is still processing: the playlists then grow as the transcode
 * runs), plays it with hls.js (or the browser's own HLS), and draws its own controls:
 * a seek bar with storyboard previews, icon buttons, a volume slider, a settings panel
 * (speed, quality, audio track when the master offers several) and keyboard shortcuts.
 * The player box takes the video's aspect ratio (a portrait video gets a portrait box). It remembers
 * where the viewer was (localStorage, per video) and starts there next time, unless the URL
 * says where (`?t=`, player-options.js). At /embed/:id (and `?embed=1`) the server marks the
 * page as an embed: the player alone, for iframes, playing only when asked (`?autoplay=1`).
 * Below the player: details, sharing and related videos (watch-details.js).
 *
 * Room for other modules: `#control-slot` in the control bar (a captions menu), `#seek-marks`
 * over the seek bar (chapter marks), and `window.framecast` (the video, hls.js, the URL's
 * options such as `captions`, and `seekTo`).
 */
import { apiCall } from './api.js';
import { formatClock } from './format.js';
import { playerOptions } from './player-options.js';
import { cueAt, parseStoryboard } from './storyboard.js';
import { attachCaptionsMenu } from './captions-menu.js';
import { showChapters } from './chapters.js';
import { loadRelated, loadViews, renderDetails, wireCopyLink } from './watch-details.js';

const POLL_MS = 1000;
const SEEK_STEP_S = 5;
const VOLUME_STEP = 0.1;
/** Gap kept between the storyboard preview and the player's edges, px. */
const PREVIEW_MARGIN_PX = 6;
/** How long the controls stay up after the last touch or pointer move while playing. */
const CONTROLS_LINGER_MS = 3000;
const PENDING = new Set(['awaiting_upload', 'uploading', 'processing']);
const RESUME_KEY_PREFIX = 'framecast.resume.';
/** Positions before this are not worth resuming. */
const RESUME_MIN_S = 1;
/** Within this much of the end a video counts as watched and starts over next time. */
const RESUME_END_MARGIN_S = 5;
const RESUME_SAVE_EVERY_S = 1;
const RESUME_NOTICE_MS = 6000;

/** What to say while there is nothing to play yet, by status. */
const WAITING_TEXT = {
  awaiting_upload: () => 'Waiting for the upload…',
  uploading: () => 'Uploading…',
  processing: (progress) => `Processing${progress?.stage ? `: ${progress.stage}` : ''}`,
};

/** MediaError.code → message, for the browser's own HLS player. */
const MEDIA_ERRORS = {
  1: 'Playback was aborted.',
  2: 'A network error stopped the download.',
  3: 'The video could not be decoded.',
  4: 'The video format is not supported.',
};

const byId = (id) => document.getElementById(id);
const ui = {
  player: byId('player'),
  video: /** @type {HTMLVideoElement} */ (byId('video')),
  status: byId('status'),
  statusText: byId('status-text'),
  statusMeter: byId('status-meter'),
  statusFill: byId('status-fill'),
  error: byId('error'),
  errorCode: byId('error-code'),
  errorMessage: byId('error-message'),
  retry: byId('retry'),
  controls: byId('controls'),
  seek: byId('seek'),
  seekBuffered: byId('seek-buffered'),
  seekPlayed: byId('seek-played'),
  preview: byId('preview'),
  previewFrame: byId('preview-frame'),
  previewTile: byId('preview-tile'),
  previewTime: byId('preview-time'),
  play: byId('play'),
  mute: byId('mute'),
  volume: /** @type {HTMLInputElement} */ (byId('volume')),
  settingsButton: byId('settings-button'),
  settings: byId('settings'),
  speed: /** @type {HTMLSelectElement} */ (byId('speed')),
  audioLabel: byId('audio-label'),
  audioTrack: /** @type {HTMLSelectElement} */ (byId('audio-track')),
  timeCurrent: byId('time-current'),
  timeTotal: byId('time-total'),
  qualityLabel: byId('quality-label'),
  quality: /** @type {HTMLSelectElement} */ (byId('quality')),
  fullscreen: byId('fullscreen'),
  pip: byId('pip'),
  embedTitle: /** @type {HTMLAnchorElement} */ (byId('embed-title')),
  resume: byId('resume'),
  resumeText: byId('resume-text'),
  startOver: byId('start-over'),
};
const video = ui.video;
const embedded = document.documentElement.classList.contains('embed');
const options = playerOptions(location.search);

const state = {
  videoId: decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() ?? ''),
  /** The last answer of GET /v1/videos/:id. */
  meta: null,
  /** The hls.js instance; null when the browser plays HLS itself or nothing plays. */
  hls: null,
  /** The URL the player was started with, so a poll does not restart it. */
  hlsUrl: null,
  pollTimer: 0,
  storyboardUrl: null,
  /** @type {import('./storyboard.js').StoryboardCue[]} */
  storyboard: [],
  mediaRecoveryTried: false,
  /** Where the next player starts (Retry keeps the position). */
  resumeAt: 0,
  dragging: false,
  /** The position last written to localStorage. */
  savedAt: 0,
  /** Positions are remembered only once the player plays where it was started. */
  tracking: false,
  resumeNoticeTimer: 0,
  controlsTimer: 0,
  telemetryAttached: false,
  /** The URL's start time, used by the first start only. */
  startAt: options.startAt,
  detailsLoaded: false,
};

// Tests read the player from here.
window.framecast = {
  get hls() {
    return state.hls;
  },
  video,
  options,
  seekTo: (seconds) => seekTo(seconds),
};

function seekableEnd() {
  const ranges = video.seekable;
  return ranges.length > 0 ? ranges.end(ranges.length - 1) : 0;
}

/** While the playlists still grow the element's duration is Infinity: use what the API knows. */
function duration() {
  if (Number.isFinite(video.duration) && video.duration > 0) return video.duration;
  const known = (state.meta?.duration_ms ?? 0) / 1000;
  return known > 0 ? known : seekableEnd();
}

// ---------------------------------------------------------------- status and errors

function showStatus(meta) {
  const waiting = WAITING_TEXT[meta.status];
  ui.status.hidden = !waiting;
  if (!waiting) return;
  const percent = meta.progress?.percent;
  const hasPercent = meta.status === 'processing' && typeof percent === 'number';
  ui.statusText.textContent = waiting(meta.progress) + (hasPercent ? ` ${Math.round(percent)}%` : '');
  ui.statusMeter.hidden = !hasPercent;
  if (hasPercent) ui.statusFill.style.width = `${Math.min(100, Math.max(0, percent))}%`;
  // Once something plays, the status shrinks to a badge instead of covering the picture.
  ui.status.classList.toggle('badge', state.hlsUrl !== null);
}

/** Shows an error over the player; Retry only when trying again can help (`retryable`). */
function showError(code, message, retryable) {
  clearTimeout(state.pollTimer);
  ui.status.hidden = true;
  ui.errorCode.textContent = code;
  ui.errorMessage.textContent = message;
  ui.retry.hidden = !retryable;
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
}

// ---------------------------------------------------------------- polling

async function fetchVideo() {
  // A signed embed URL's token lets it read a private video.
  const query = options.token ? `?token=${encodeURIComponent(options.token)}` : '';
  const { body, error } = await apiCall(`/v1/videos/${encodeURIComponent(state.videoId)}${query}`);
  return error ? { error } : { meta: body };
}

async function refresh() {
  clearTimeout(state.pollTimer);
  const { meta, error } = await fetchVideo();
  if (error) return showError(error.code, error.message, error.retryable);
  render(meta);
  if (PENDING.has(meta.status)) state.pollTimer = setTimeout(refresh, POLL_MS);
}

function render(meta) {
  state.meta = meta;
  document.title = `${meta.title || 'Untitled'} · Framecast`;
  renderDetails(meta, (seconds) => {
    seekTo(seconds);
    video.play().catch(() => {});
    ui.player.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  });
  ui.embedTitle.textContent = meta.title || 'Untitled';
  ui.embedTitle.href = `/watch/${encodeURIComponent(meta.id)}`;
  ui.embedTitle.hidden = !embedded;
  if (!state.detailsLoaded && !embedded) {
    state.detailsLoaded = true;
    loadViews(meta.id).catch(() => {});
    loadRelated(meta.id).catch(() => {});
  }
  setAspect(meta.width, meta.height);
  const playback = meta.playback ?? {};
  if (playback.poster_url && video.getAttribute('poster') !== playback.poster_url) {
    video.poster = playback.poster_url;
  }

  if (meta.status === 'failed') {
    stopPlayer();
    showError(meta.error?.code ?? 'E_UNKNOWN', meta.error?.message ?? 'Processing failed.', meta.error?.retryable === true);
    return;
  }
  if (playback.hls_url && playback.hls_url !== state.hlsUrl) {
    if (state.hlsUrl === null && state.startAt !== undefined) {
      // The URL says where: it wins over where this viewer left off.
      state.resumeAt = state.startAt;
      state.startAt = undefined;
    } else if (state.hlsUrl === null && state.resumeAt === 0) offerResume(meta);
    startPlayer(playback.hls_url);
  }
  showStatus(meta);
  // Sprites are written at the end of processing: only a ready video has them all.
  if (meta.status === 'ready' && playback.thumbnail_vtt_url) loadStoryboard(playback.thumbnail_vtt_url);
  showChapters({ video, seek: ui.seek, titleHost: byId('time'), chapters: meta.chapters, duration: (meta.duration_ms ?? 0) / 1000 });
  updateTime();
}

// ---------------------------------------------------------------- player

/**
 * Shapes the player box like the video (CSS --ratio). Audio-only videos (no size) keep the
 * default 16:9 box for their poster.
 */
function setAspect(width, height) {
  if (!(width > 0 && height > 0)) return;
  ui.player.style.setProperty('--ratio', (width / height).toFixed(4));
}

// The picture's real size wins over the API's (e.g. a new version with another shape).
video.addEventListener('loadedmetadata', () => setAspect(video.videoWidth, video.videoHeight));

function startPlayer(url) {
  const startAt = state.resumeAt;
  state.resumeAt = 0;
  stopPlayer();
  hideError();
  state.hlsUrl = url;
  state.mediaRecoveryTried = false;
  const Hls = window.Hls;
  if (Hls?.isSupported()) {
    // startPosition: a still-growing (EVENT) playlist would otherwise start near its end.
    const hls = new Hls({ startPosition: startAt });
    state.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, () => buildQualityMenu(hls));
    hls.on(Hls.Events.LEVEL_SWITCHED, () => updateAutoLabel(hls));
    hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, () => buildAudioMenu(hls));
    hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, () => (ui.audioTrack.value = String(hls.audioTrack)));
    hls.on(Hls.Events.ERROR, (_event, data) => onHlsError(hls, data));
    hls.loadSource(url);
    hls.attachMedia(video);
    attachCaptionsMenu({ hls, settings: ui.settings, beforeButton: ui.settingsButton, preferred: new URLSearchParams(location.search).get('captions') });
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
    if (startAt > 0) video.addEventListener('loadedmetadata', () => (video.currentTime = startAt), { once: true });
  } else {
    showError('E_PLAYBACK_UNSUPPORTED', 'This browser cannot play HLS video.', false);
    return;
  }
  ui.controls.hidden = false;
  attachTelemetry();
  // An embed waits for a click unless asked to play. Autoplay may be refused without a user
  // gesture (browsers allow it muted); the play button is there for that.
  if (!embedded || options.autoplay) video.play().catch(() => {});
}

/** Player telemetry (web/assets/telemetry.js), once; the page plays on without it. */
function attachTelemetry() {
  if (state.telemetryAttached) return;
  state.telemetryAttached = true;
  import('./telemetry.js')
    .then((telemetry) => telemetry.attachTelemetry({ video, getHls: () => state.hls, videoId: state.videoId }))
    .catch(() => {});
}

function stopPlayer() {
  state.tracking = false;
  state.hls?.destroy();
  state.hls = null;
  state.hlsUrl = null;
  ui.qualityLabel.hidden = true;
  ui.audioLabel.hidden = true;
  if (video.hasAttribute('src')) {
    video.removeAttribute('src');
    video.load();
  }
}

function onHlsError(hls, data) {
  if (!data.fatal) return;
  if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR && !state.mediaRecoveryTried) {
    state.mediaRecoveryTried = true;
    hls.recoverMediaError();
    return;
  }
  const status = data.response?.code ? ` (HTTP ${data.response.code})` : '';
  showError('E_PLAYBACK', `The player stopped: ${data.type} / ${data.details}${status}.`, true);
}

video.addEventListener('error', () => {
  if (state.hls || !state.hlsUrl || !video.error) return;
  showError(`E_PLAYBACK (media error ${video.error.code})`, MEDIA_ERRORS[video.error.code] ?? video.error.message, true);
});

ui.retry.addEventListener('click', () => {
  state.resumeAt = video.currentTime;
  hideError();
  stopPlayer();
  refresh();
});

// ---------------------------------------------------------------- quality menu

function levelLabel(level) {
  // Rungs are named by their short side, so a portrait 1080×1920 rendition is "1080p".
  const side = level.width && level.height ? Math.min(level.width, level.height) : level.height;
  return side ? `${side}p` : `${Math.round(level.bitrate / 1000)} kbps`;
}

function buildQualityMenu(hls) {
  const levels = hls.levels
    .map((level, index) => ({ level, index }))
    .sort((a, b) => b.level.height - a.level.height || b.level.bitrate - a.level.bitrate);
  ui.quality.replaceChildren(
    new Option('Auto', '-1'),
    ...levels.map(({ level, index }) => new Option(levelLabel(level), String(index))),
  );
  ui.quality.value = '-1';
  ui.qualityLabel.hidden = levels.length === 0;
}

function updateAutoLabel(hls) {
  const auto = ui.quality.options[0];
  const level = hls.levels[hls.currentLevel];
  if (auto) auto.textContent = hls.autoLevelEnabled && level ? `Auto (${levelLabel(level)})` : 'Auto';
}

ui.quality.addEventListener('change', () => {
  if (!state.hls) return;
  state.hls.currentLevel = Number(ui.quality.value);
  updateAutoLabel(state.hls);
});

// ---------------------------------------------------------------- audio tracks

const languageNames = (() => {
  try {
    return new Intl.DisplayNames([navigator.language, 'en'], { type: 'language' });
  } catch {
    return null;
  }
})();

function languageName(code) {
  if (!code || code === 'und') return '';
  try {
    return languageNames?.of(code) ?? code;
  } catch {
    return code; // not a valid BCP 47 tag: show it as it is
  }
}

/** The master's NAME (the server writes a human label), else the language, else a number. */
function audioTrackLabel(track, index) {
  return track.name || languageName(track.lang) || `Track ${index + 1}`;
}

/** The audio menu lists the master's audio renditions; with one (or none) there is no choice. */
function buildAudioMenu(hls) {
  const tracks = hls.audioTracks ?? [];
  ui.audioTrack.replaceChildren(...tracks.map((track, index) => new Option(audioTrackLabel(track, index), String(index))));
  ui.audioTrack.value = String(hls.audioTrack);
  ui.audioLabel.hidden = tracks.length < 2;
}

ui.audioTrack.addEventListener('change', () => {
  if (state.hls) state.hls.audioTrack = Number(ui.audioTrack.value);
});

// ---------------------------------------------------------------- resume

function resumeKey() {
  return RESUME_KEY_PREFIX + state.videoId;
}

function savedPosition() {
  try {
    const saved = JSON.parse(localStorage.getItem(resumeKey()) ?? 'null');
    return typeof saved?.t === 'number' ? saved.t : 0;
  } catch {
    return 0;
  }
}

function writePosition(seconds) {
  state.savedAt = seconds;
  try {
    if (seconds > 0) localStorage.setItem(resumeKey(), JSON.stringify({ t: seconds, at: Date.now() }));
    else localStorage.removeItem(resumeKey());
  } catch {
    // storage may be full or disabled: resuming is a nicety
  }
}

function nearTheEnd(seconds, total) {
  return total > 0 && seconds >= total - Math.min(RESUME_END_MARGIN_S, total * 0.1);
}

/** Remembers the position as it moves; a finished video (or one at its start) forgets it. */
function rememberPosition(force = false) {
  if (!state.tracking) return;
  const t = video.currentTime;
  if (video.ended || nearTheEnd(t, duration()) || t < RESUME_MIN_S) {
    if (state.savedAt !== 0 || force) writePosition(0);
    return;
  }
  if (force || Math.abs(t - state.savedAt) >= RESUME_SAVE_EVERY_S) writePosition(t);
}

/** Before the first start: start where the viewer left off, and say so with a way back. */
function offerResume(meta) {
  const at = savedPosition();
  const total = (meta.duration_ms ?? 0) / 1000;
  if (at < RESUME_MIN_S || nearTheEnd(at, total)) return;
  state.resumeAt = at;
  state.savedAt = at;
  ui.resumeText.textContent = `Resumed at ${formatClock(at)}`;
  ui.resume.hidden = false;
  clearTimeout(state.resumeNoticeTimer);
  state.resumeNoticeTimer = setTimeout(() => (ui.resume.hidden = true), RESUME_NOTICE_MS);
}

ui.startOver.addEventListener('click', () => {
  ui.resume.hidden = true;
  writePosition(0);
  seekTo(0);
  video.play().catch(() => {});
});

video.addEventListener('playing', () => (state.tracking = state.hlsUrl !== null));
video.addEventListener('timeupdate', () => rememberPosition());
for (const type of ['pause', 'seeked', 'ended']) video.addEventListener(type, () => rememberPosition(true));
addEventListener('pagehide', () => rememberPosition(true));

// ---------------------------------------------------------------- storyboard

async function loadStoryboard(url) {
  const absolute = new URL(url, location.href).href;
  if (state.storyboardUrl === absolute) return;
  state.storyboardUrl = absolute;
  try {
    const response = await fetch(absolute);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    state.storyboard = parseStoryboard(await response.text(), absolute);
  } catch {
    // Previews are a nicety: without them the seek bar still shows the time.
    state.storyboard = [];
  }
}

/**
 * Shows the time (and storyboard tile) under the pointer above the seek bar. The tile is
 * scaled down when the player is too small for it, and the whole preview is kept inside
 * the player, so on a phone it neither runs off the top nor off a side.
 */
function showPreview(fraction) {
  const t = fraction * duration();
  ui.previewTime.textContent = formatClock(t);
  const cue = cueAt(state.storyboard, t);
  ui.previewFrame.hidden = !cue;
  ui.preview.hidden = false;
  const player = ui.player.getBoundingClientRect();
  const seek = ui.seek.getBoundingClientRect();
  if (cue) {
    const border = ui.previewFrame.offsetWidth - ui.previewFrame.clientWidth;
    const gap = 4;
    // The preview's bottom sits 22 px above the seek bar's bottom (style.css).
    const roomHeight = seek.bottom - 22 - player.top - PREVIEW_MARGIN_PX - ui.previewTime.offsetHeight - gap - border;
    const roomWidth = player.width - 2 * PREVIEW_MARGIN_PX - border;
    const scale = Math.max(0.1, Math.min(1, roomWidth / cue.w, roomHeight / cue.h));
    Object.assign(ui.previewFrame.style, { width: `${cue.w * scale}px`, height: `${cue.h * scale}px` });
    Object.assign(ui.previewTile.style, {
      width: `${cue.w}px`,
      height: `${cue.h}px`,
      transform: `scale(${scale})`,
      backgroundImage: `url("${cue.url}")`,
      backgroundPosition: `-${cue.x}px -${cue.y}px`,
    });
  }
  // Centre on the pointer, clamped to the player (positions are relative to the seek bar).
  const half = ui.preview.offsetWidth / 2;
  const x = seek.left - player.left + fraction * seek.width;
  const low = half + PREVIEW_MARGIN_PX;
  const high = Math.max(low, player.width - half - PREVIEW_MARGIN_PX);
  ui.preview.style.left = `${Math.min(Math.max(x, low), high) - (seek.left - player.left)}px`;
}

// ---------------------------------------------------------------- controls

function seekTo(seconds) {
  // While processing, only what is already transcoded can be reached.
  const limit = Number.isFinite(video.duration) ? video.duration : seekableEnd();
  video.currentTime = Math.min(Math.max(0, seconds), limit);
}

function togglePlay() {
  if (video.paused || video.ended) video.play().catch(() => {});
  else video.pause();
}

/**
 * The mute button and slider as the video's volume is now. Called right after our own
 * changes too: 'volumechange' is a queued task that a busy page may run only later.
 */
function showVolume() {
  labelButton(ui.mute, video.muted ? 'Unmute' : 'Mute', 'm');
  ui.player.classList.toggle('muted', video.muted);
  ui.volume.value = String(video.muted ? 0 : video.volume);
}

function toggleMute() {
  video.muted = !video.muted;
  // Unmuting at volume 0 would still be silent.
  if (!video.muted && video.volume === 0) video.volume = VOLUME_STEP;
  showVolume();
}

function changeVolume(delta) {
  const volume = Math.min(1, Math.max(0, Math.round((video.volume + delta) * 100) / 100));
  video.volume = volume;
  video.muted = volume === 0;
  showVolume();
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else if (ui.player.requestFullscreen) ui.player.requestFullscreen().catch(() => {});
  // iPhone Safari has no element fullscreen, only the video's own.
  else video.webkitEnterFullscreen?.();
}

/** Picture-in-picture, where the browser offers it (the button is hidden otherwise). */
function togglePictureInPicture() {
  if (document.pictureInPictureElement) document.exitPictureInPicture().catch(() => {});
  else if (document.pictureInPictureEnabled && !video.disablePictureInPicture) video.requestPictureInPicture().catch(() => {});
}

function showPictureInPicture() {
  const on = document.pictureInPictureElement === video;
  labelButton(ui.pip, on ? 'Exit picture in picture' : 'Picture in picture', 'i');
  ui.player.classList.toggle('is-pip', on);
}

function toggleSettings(open = ui.settings.hidden) {
  ui.settings.hidden = !open;
  ui.settingsButton.setAttribute('aria-expanded', String(open));
}

/** A toggle button's name says what it does next (aria-label and tooltip with its key). */
function labelButton(button, label, key) {
  button.setAttribute('aria-label', label);
  button.title = `${label} (${key})`;
}

function seekFraction(event) {
  const rect = ui.seek.getBoundingClientRect();
  return rect.width > 0 ? Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1) : 0;
}

function setPlayedBar(fraction) {
  ui.seekPlayed.style.width = `${fraction * 100}%`;
}

function updateTime() {
  const total = duration();
  if (!state.dragging) setPlayedBar(total > 0 ? Math.min(video.currentTime / total, 1) : 0);
  ui.seekBuffered.style.width = `${total > 0 ? Math.min(bufferedEnd() / total, 1) * 100 : 0}%`;
  ui.timeCurrent.textContent = formatClock(video.currentTime);
  ui.timeTotal.textContent = ` / ${formatClock(total)}`;
  ui.seek.setAttribute('aria-valuemax', String(Math.round(total)));
  ui.seek.setAttribute('aria-valuenow', String(Math.round(video.currentTime)));
  ui.seek.setAttribute('aria-valuetext', `${formatClock(video.currentTime)} of ${formatClock(total)}`);
}

function bufferedEnd() {
  const ranges = video.buffered;
  for (let i = 0; i < ranges.length; i++) {
    if (ranges.start(i) <= video.currentTime + 0.5 && video.currentTime <= ranges.end(i)) return ranges.end(i);
  }
  return 0;
}

ui.seek.addEventListener('pointerdown', (event) => {
  state.dragging = true;
  ui.seek.setPointerCapture(event.pointerId);
  const fraction = seekFraction(event);
  setPlayedBar(fraction);
  showPreview(fraction);
});
ui.seek.addEventListener('pointermove', (event) => {
  const fraction = seekFraction(event);
  if (state.dragging) setPlayedBar(fraction);
  showPreview(fraction);
});
ui.seek.addEventListener('pointerup', (event) => {
  if (!state.dragging) return;
  state.dragging = false;
  seekTo(seekFraction(event) * duration());
  const rect = ui.seek.getBoundingClientRect();
  const inside = event.clientX >= rect.left && event.clientX <= rect.right &&
    event.clientY >= rect.top && event.clientY <= rect.bottom;
  if (!inside) ui.preview.hidden = true;
});
ui.seek.addEventListener('pointerleave', () => {
  if (!state.dragging) ui.preview.hidden = true;
});

/** Shows the controls for a while (touch screens have no hover). */
function revealControls() {
  ui.player.classList.add('active');
  clearTimeout(state.controlsTimer);
  state.controlsTimer = setTimeout(() => ui.player.classList.remove('active'), CONTROLS_LINGER_MS);
}

/**
 * A tap on a playing video whose controls are hidden brings them up and does nothing else:
 * neither pausing nor pressing the invisible button under the finger.
 */
let tapRevealsOnly = false;
ui.player.addEventListener('pointerdown', (event) => {
  tapRevealsOnly = event.pointerType === 'touch' && !video.paused &&
    !ui.player.classList.contains('active') && !ui.player.matches(':focus-within');
  revealControls();
}, { capture: true });
ui.player.addEventListener('click', (event) => {
  if (!tapRevealsOnly) return;
  tapRevealsOnly = false;
  event.stopPropagation();
  event.preventDefault();
}, { capture: true });
ui.player.addEventListener('pointermove', (event) => {
  if (event.pointerType !== 'touch') revealControls();
});
video.addEventListener('click', togglePlay);
ui.play.addEventListener('click', togglePlay);
ui.mute.addEventListener('click', toggleMute);
ui.fullscreen.addEventListener('click', toggleFullscreen);
ui.pip.hidden = !(document.pictureInPictureEnabled && !video.disablePictureInPicture);
ui.pip.addEventListener('click', togglePictureInPicture);
video.addEventListener('enterpictureinpicture', showPictureInPicture);
video.addEventListener('leavepictureinpicture', showPictureInPicture);
ui.settingsButton.addEventListener('click', () => toggleSettings());
ui.volume.addEventListener('input', () => {
  video.volume = Number(ui.volume.value);
  video.muted = video.volume === 0;
});
ui.speed.addEventListener('change', () => {
  // The default rate too, so a new source (Retry, a new version) keeps the chosen speed.
  video.defaultPlaybackRate = video.playbackRate = Number(ui.speed.value);
});
video.addEventListener('ratechange', () => (ui.speed.value = String(video.playbackRate)));
document.addEventListener('pointerdown', (event) => {
  if (!ui.settings.hidden && !event.target.closest?.('#settings, #settings-button')) toggleSettings(false);
});
// Controls stay in sight while paused; playing, they show on hover or focus.
for (const type of ['play', 'pause']) {
  video.addEventListener(type, () => {
    labelButton(ui.play, video.paused ? 'Play' : 'Pause', 'k');
    ui.player.classList.toggle('paused', video.paused);
  });
}
video.addEventListener('volumechange', showVolume);
document.addEventListener('fullscreenchange', () => {
  const on = document.fullscreenElement === ui.player;
  labelButton(ui.fullscreen, on ? 'Exit fullscreen' : 'Fullscreen', 'f');
  ui.player.classList.toggle('is-fullscreen', on);
});
for (const type of ['timeupdate', 'durationchange', 'progress', 'seeked']) video.addEventListener(type, updateTime);

/** Keyboard shortcuts, by KeyboardEvent.key (letters lower-cased). */
const SHORTCUTS = {
  ' ': togglePlay,
  k: togglePlay,
  ArrowLeft: () => seekTo(video.currentTime - SEEK_STEP_S),
  ArrowRight: () => seekTo(video.currentTime + SEEK_STEP_S),
  ArrowUp: () => changeVolume(VOLUME_STEP),
  ArrowDown: () => changeVolume(-VOLUME_STEP),
  f: toggleFullscreen,
  i: togglePictureInPicture,
  m: toggleMute,
  Escape: () => toggleSettings(false),
};

/**
 * Keys the focused element handles itself: everything while typing (search box, menus), the
 * arrows on the volume slider, space and Enter on a button (it presses that button).
 */
function handledByTarget(target, key) {
  if (!(target instanceof Element)) return false;
  if (target.closest('textarea, select, [contenteditable]:not([contenteditable="false"])')) return true;
  if (target instanceof HTMLInputElement) return target.type !== 'range' || key.startsWith('Arrow');
  if (target.closest('button, a[href]')) return key === ' ' || key === 'Enter';
  return false;
}

document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (handledByTarget(event.target, event.key)) return;
  const action = SHORTCUTS[event.key.length === 1 ? event.key.toLowerCase() : event.key];
  if (!action || !state.hlsUrl) return;
  // Also keeps space from scrolling the page or pressing a focused button twice.
  event.preventDefault();
  action();
});

if (options.muted) {
  video.muted = true;
  showVolume();
}
wireCopyLink(state.videoId, () => video.currentTime);

if (state.videoId) refresh();
else showError('E_NOT_FOUND', 'No video id in the address.', false);
