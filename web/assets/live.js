/*
 * The live page (/live/:id). It polls GET /v1/live/:id: while the live is idle (or its
 * publisher is away within the reconnect window) it says "offline"; once there is a master
 * playlist it plays it with hls.js (or the browser's own HLS), following the live edge;
 * when the live has ended it says "ended" and links to the recording's VOD once it is ready.
 *
 * Latency: hls.js runs in lowLatencyMode (LL-HLS parts, blocking playlist reloads) and holds
 * the distance the playlist asks for in seconds (PART-HOLD-BACK), not a number of segments.
 * DVR: the seek bar spans what the playlist lists (live.dvr_window_s on the server); seeking
 * back pauses the live-edge chase, "Back to live" returns to it.
 */
import { apiCall } from './api.js';

const POLL_MS = 2000;
/** Extra hold-back per stall, seconds: the default part duration (live.part_s). */
const STALL_HOLD_BACK_S = 0.5;
/**
 * Playing this long without a stall forgives the earlier ones, seconds: the hold-back they
 * added goes. hls.js adds it for the rest of the session (up to a target duration), so one
 * stall while the page starts on a busy machine kept a viewer 0.5 s further behind for good.
 */
const STALL_FORGIVE_S = 15;

const byId = (id) => document.getElementById(id);
const ui = {
  video: /** @type {HTMLVideoElement} */ (byId('video')),
  status: byId('status'),
  statusText: byId('status-text'),
  vodLink: byId('vod-link'),
  vodHref: /** @type {HTMLAnchorElement} */ (byId('vod-href')),
  title: byId('title'),
  badge: byId('badge'),
  meta: byId('meta'),
  player: byId('player'),
  dvr: byId('dvr'),
  seek: /** @type {HTMLInputElement} */ (byId('seek')),
  behind: byId('behind'),
  backToLive: /** @type {HTMLButtonElement} */ (byId('back-to-live')),
};

/** Further than this behind the live edge, the viewer is "behind" (seconds). */
const BEHIND_S = 4;

const liveId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? '');
/** @type {any} */
let hls = null;
let playing = false;
let ended = false;
/** performance.now() of the last stall not yet forgiven, or null. */
let lastStallAt = null;

// The ended notice (and the recording link inside it) waits until the last segments have played.
ui.video.addEventListener('ended', () => {
  if (ended) show('This live has ended.');
});

/** Where the ended playlist ends (seconds), once hls.js loaded it; null while live. */
let playlistEnd = null;
/** Playback stuck this close to the end of an ended playlist has played it out, seconds. */
const PLAYED_OUT_S = 0.5;

/**
 * hls.js signals end of stream only when nothing is missing before the end of the buffer;
 * a hole of a frame or two in a live (a publisher that dropped frames; before the packager
 * kept every rendition on the publisher's clock, every switch to or from a copied rung made
 * one) is jumped while playing but keeps it from ever ending, so playback stalls a frame
 * before the end. Once the playlist has ended and playback waits within half a second of it
 * with everything buffered, the stream is over: tell the buffer so (BUFFER_EOS ends the
 * MediaSource, the video ends).
 */
function endIfPlayedOut() {
  const v = ui.video;
  const n = v.buffered.length;
  if (!hls || playlistEnd === null || n === 0 || v.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA) return;
  const bufferedEnd = v.buffered.end(n - 1);
  if (bufferedEnd - v.currentTime < PLAYED_OUT_S && bufferedEnd > playlistEnd - PLAYED_OUT_S) {
    hls.trigger(/** @type {any} */ (window).Hls.Events.BUFFER_EOS, {});
  }
}
ui.video.addEventListener('waiting', endIfPlayedOut);

/** The live edge: where hls.js would play now, else the end of what is seekable. */
function liveEdge() {
  const n = ui.video.seekable.length;
  const end = n > 0 ? ui.video.seekable.end(n - 1) : 0;
  return hls?.liveSyncPosition ?? end;
}

function updateSeekBar() {
  // hls.js's own estimate of the distance to the live edge, for operators and tests.
  if (hls && Number.isFinite(hls.latency)) ui.player.dataset.latency = hls.latency.toFixed(3);
  // …and the distance it aims for (the playlist's hold-back, plus what stalls added).
  if (hls && Number.isFinite(hls.targetLatency)) ui.player.dataset.targetLatency = hls.targetLatency.toFixed(3);
  const n = ui.video.seekable.length;
  if (!playing || ended || n === 0) {
    ui.dvr.hidden = true;
    return;
  }
  const start = ui.video.seekable.start(0);
  const end = ui.video.seekable.end(n - 1);
  ui.dvr.hidden = false;
  ui.seek.min = String(start);
  ui.seek.max = String(end);
  if (document.activeElement !== ui.seek) ui.seek.value = String(ui.video.currentTime);
  const behind = Math.max(0, liveEdge() - ui.video.currentTime);
  const isBehind = behind > BEHIND_S;
  ui.behind.textContent = isBehind ? `${Math.round(behind)} s behind live` : 'At the live edge';
  ui.backToLive.hidden = !isBehind;
}

ui.seek.addEventListener('input', () => {
  ui.video.currentTime = Number(ui.seek.value);
});
ui.backToLive.addEventListener('click', () => {
  ui.video.currentTime = liveEdge();
  ui.video.play().catch(() => undefined);
});
ui.video.addEventListener('timeupdate', updateSeekBar);

function show(text) {
  ui.status.hidden = false;
  ui.statusText.textContent = text;
}

function setBadge(state, text) {
  ui.badge.dataset.state = state;
  ui.badge.textContent = text;
}

function startPlayback(url) {
  if (playing) return;
  playing = true;
  ui.status.hidden = true;
  const Hls = /** @type {any} */ (window).Hls;
  if (Hls?.isSupported()) {
    // No liveSync* override: with it hls.js would ignore the playlist's PART-HOLD-BACK.
    // After a stall hls.js holds back further, by a whole second per stall by default; one
    // part (0.5 s, live.part_s) per stall keeps a brief hiccup from doubling the latency.
    hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, liveSyncOnStallIncrease: STALL_HOLD_BACK_S, backBufferLength: 90 });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) lastStallAt = performance.now();
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else stopPlayback('offline');
    });
    hls.on(Hls.Events.LEVEL_LOADED, (_event, data) => {
      playlistEnd = data.details.live ? null : data.details.edge;
      endIfPlayedOut();
      forgiveStalls(data.details);
    });
    hls.loadSource(url);
    hls.attachMedia(ui.video);
  } else if (ui.video.canPlayType('application/vnd.apple.mpegurl')) {
    ui.video.src = url;
  } else {
    show('This browser cannot play HLS.');
    return;
  }
  ui.video.play().catch(() => undefined);
}

/** After STALL_FORGIVE_S of smooth playing, the player holds back what the playlist asks again. */
function forgiveStalls(details) {
  if (lastStallAt === null || !details.live || performance.now() - lastStallAt < STALL_FORGIVE_S * 1000) return;
  const holdBack = details.partHoldBack || details.holdBack;
  if (!holdBack) return;
  // Setting the target resets hls.js's stall count; the value is the playlist's own
  // (PART-HOLD-BACK), so nothing else changes. Later stalls add their hold-back again.
  hls.targetLatency = holdBack;
  lastStallAt = null;
}

function stopPlayback(text) {
  playing = false;
  lastStallAt = null;
  hls?.destroy();
  hls = null;
  ui.video.removeAttribute('src');
  ui.video.load();
  show(text);
}

async function playlistExists(url) {
  try {
    const r = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    return r.ok;
  } catch {
    return false;
  }
}

async function tick() {
  const res = await apiCall(`/v1/live/${encodeURIComponent(liveId)}`);
  if (res.error) {
    show(res.status === 404 ? 'No such live.' : 'Cannot reach the server; retrying…');
    return res.status !== 404;
  }
  const live = res.body;
  ui.title.textContent = live.title;
  document.title = `${live.title} · Framecast`;
  if (live.status === 'ended') {
    endIfPlayedOut();
    ended = true;
    setBadge('ended', 'ended');
    if (playing && !hls) stopPlayback('This live has ended.');
    if (!playing || ui.video.ended) show('This live has ended.');
    if (live.vod_video_id) {
      ui.vodLink.hidden = false;
      ui.vodHref.href = `/watch/${encodeURIComponent(live.vod_video_id)}`;
    }
    ui.meta.textContent = !live.vod_video_id && live.record ? 'The recording is being prepared…' : '';
    // Playback of the last segments continues; the player stops at the end (ENDLIST).
    return !live.vod_video_id && live.record && !live.error;
  }
  if (live.status === 'live' && live.publishing) {
    setBadge('live', 'live');
    ui.meta.textContent = live.degraded ? `Reduced quality (${live.dropped_renditions.join(', ')} dropped)` : '';
    if (!playing && (await playlistExists(live.playback.hls_url))) startPlayback(live.playback.hls_url);
    else if (!playing) show('Starting…');
  } else {
    setBadge('idle', 'offline');
    ui.meta.textContent = live.status === 'live' ? 'The broadcaster is reconnecting…' : '';
    if (!playing) show('Offline: the broadcast has not started.');
  }
  return true;
}

async function loop() {
  const again = await tick();
  if (again) setTimeout(loop, POLL_MS);
}

void loop();
