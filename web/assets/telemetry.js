/*
 * Player telemetry (API.md "Telemetry"). One call wires a page:
 *
 *   attachTelemetry({ video, getHls: () => hls, videoId })
 *
 * It listens to the <video> element and to whichever hls.js instance getHls() returns at the
 * time (a Retry may replace it), turns what it sees into QoE events and posts them to
 * /v1/events in batches (collected for ~200 ms), and on page hide sends the end of the view
 * with navigator.sendBeacon so it survives the navigation.
 *
 * Definitions, matching what the server sums up:
 *  - session_id: one random id per page view; view_start on the first play.
 *  - ttff_ms: play request → first `playing`. A request made before telemetry was attached
 *    (the page autoplays while this module still loads) counts from navigation start,
 *    which is what a viewer of an autoplaying page waits through anyway.
 *  - rebuffer: a stall (`waiting` → `playing`) after the first `playing`; waiting caused by
 *    a seek is seek latency, not a rebuffer.
 *  - view_end, sent on each page hide: dwell_ms = time spent playing since the previous
 *    view_end (so the server can sum them), percent_complete = furthest position reached
 *    while playing ÷ duration × 100.
 * Telemetry never throws into the page; failed sends are retried with backoff (honouring
 * Retry-After), then dropped after MAX_FAILURES in a row.
 */

const FLUSH_DELAY_MS = 200;
/** The server's cap per batch. */
const MAX_BATCH = 500;
/** Events kept while the server cannot be reached; the oldest go first. */
const MAX_QUEUE = 1000;
/** sendBeacon and keepalive fetches refuse bodies over 64 KiB. */
const KEEPALIVE_MAX_BYTES = 60_000;
const RETRY_MAX_MS = 30_000;
/** Failed sends in a row after which events are dropped instead of kept for later. */
const MAX_FAILURES = 5;

/** hls.js event names, should the Hls class not be reachable. */
const HLS_EVENTS = { LEVEL_SWITCHED: 'hlsLevelSwitched', ERROR: 'hlsError' };

/** @type {WeakMap<HTMLVideoElement, TelemetryHandle>} */
const attached = new WeakMap();

/**
 * @typedef {object} TelemetryHandle
 * @property {() => Promise<void>} flush  sends what is queued now
 * @property {() => void} detach  ends the view (view_end), sends it, and stops listening
 * @property {string} sessionId
 */

function randomId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // randomUUID needs a secure context; a self-hosted server on a LAN address may not be one.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

const round1 = (n) => Math.round(n * 10) / 10;

/**
 * Starts telemetry for one video element. Calling it again for the same element returns
 * the same handle, so a page (or a test) cannot count a view twice.
 * @param {{ video: HTMLVideoElement, getHls?: () => any, videoId: string, endpoint?: string }} options
 * @returns {TelemetryHandle}
 */
export function attachTelemetry({ video, getHls = () => null, videoId, endpoint = '/v1/events' }) {
  const existing = attached.get(video);
  if (existing) return existing;

  const sessionId = randomId();
  /** @type {object[]} */
  let queue = [];
  let flushTimer = 0;
  let retryTimer = 0;
  let retryDelay = 0;
  let failures = 0;

  let viewStarted = false;
  let firstPlayingSeen = false;
  /** performance.now() of the play request ttff counts from; null before any. */
  let playRequestedAt = null;
  /** performance.now() since when the video plays (null: not playing). */
  let playingSince = null;
  /** Time played not yet reported in a view_end. */
  let dwellMs = 0;
  let furthestS = 0;
  let lastPercentSent = -1;
  /** performance.now() since when the video stalls (null: no stall). */
  let stallSince = null;
  /** The position at the last timeupdate, and when that was: a seek starts from there. */
  let lastPositionS = 0;
  let lastPositionAt = 0;
  let seekFromS = null;
  let lastKbps = 0;
  let boundHls = null;
  let unbindHls = () => {};

  // ------------------------------------------------------------------ sending

  function emit(type, fields = {}) {
    queue.push({ type, video_id: videoId, session_id: sessionId, ts: Date.now(), ...fields });
    if (queue.length > MAX_QUEUE) queue = queue.slice(-MAX_QUEUE);
    if (queue.length >= MAX_BATCH) void flush();
    else if (!flushTimer && !retryTimer) flushTimer = setTimeout(() => void flush(), FLUSH_DELAY_MS);
  }

  function requeue(events, retryAfterS) {
    if (++failures > MAX_FAILURES) return;
    queue = [...events, ...queue].slice(-MAX_QUEUE);
    retryDelay = retryAfterS > 0 ? retryAfterS * 1000 : Math.min(RETRY_MAX_MS, Math.max(1000, retryDelay * 2));
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      retryTimer = 0;
      void flush();
    }, retryDelay);
  }

  async function post(events, body, small) {
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        keepalive: small,
        credentials: 'same-origin',
      });
      // 400/413 will not get better by sending again; overload and outages may.
      if (response.status === 429 || response.status >= 500) {
        requeue(events, Number(response.headers.get('retry-after')) || 0);
      } else {
        retryDelay = 0;
        failures = 0;
      }
    } catch {
      requeue(events, 0);
    }
  }

  /** Sends everything queued; `beacon` when the page is going away. */
  function flush({ beacon = false } = {}) {
    clearTimeout(flushTimer);
    flushTimer = 0;
    const sending = [];
    while (queue.length > 0) {
      const events = queue.splice(0, MAX_BATCH);
      const json = JSON.stringify({ events });
      // A Blob for its type (sendBeacon) and its size in bytes; fetch sends the text itself.
      const blob = new Blob([json], { type: 'application/json' });
      const small = blob.size <= KEEPALIVE_MAX_BYTES;
      const beaconed = beacon && small && typeof navigator.sendBeacon === 'function' && navigator.sendBeacon(endpoint, blob);
      if (!beaconed) sending.push(post(events, json, small));
    }
    return Promise.all(sending).then(() => undefined);
  }

  // ------------------------------------------------------------------ measuring

  function position() {
    const t = video.currentTime;
    return Number.isFinite(t) && t >= 0 ? round1(t) : 0;
  }

  function duration() {
    if (Number.isFinite(video.duration) && video.duration > 0) return video.duration;
    // A still-growing playlist: the element says Infinity; the seekable range knows more.
    const ranges = video.seekable;
    return ranges.length > 0 ? ranges.end(ranges.length - 1) : 0;
  }

  function startPlaying(now = performance.now()) {
    if (playingSince === null) playingSince = now;
  }

  /** Stops the play clock; says whether it was running. */
  function stopPlaying(now = performance.now()) {
    if (playingSince === null) return false;
    dwellMs += Math.max(0, now - playingSince);
    playingSince = null;
    return true;
  }

  function endStall(now = performance.now()) {
    if (stallSince === null) return;
    emit('rebuffer', { duration_ms: Math.round(Math.max(0, now - stallSince)) });
    stallSince = null;
  }

  /** view_end with what accrued since the last one; the clocks keep running after it. */
  function endView() {
    if (!viewStarted) return;
    const now = performance.now();
    const wasPlaying = stopPlaying(now);
    const wasStalled = stallSince !== null;
    endStall(now);
    const total = duration();
    const percent = total > 0 ? round1(Math.min(100, (furthestS / total) * 100)) : 0;
    if (dwellMs > 0 || percent !== lastPercentSent) {
      emit('view_end', { dwell_ms: Math.round(dwellMs), percent_complete: percent });
      dwellMs = 0;
      lastPercentSent = percent;
    }
    // The tab may only be hidden: what follows belongs to the next view_end.
    if (wasPlaying) startPlaying(now);
    if (wasStalled) stallSince = now;
  }

  // ------------------------------------------------------------------ hls.js

  function bindHls() {
    let hls = null;
    try {
      hls = getHls();
    } catch {
      hls = null;
    }
    if (hls === boundHls) return;
    unbindHls();
    boundHls = hls;
    unbindHls = () => {};
    if (!hls || typeof hls.on !== 'function') return;
    const names = hls.constructor?.Events ?? globalThis.Hls?.Events ?? HLS_EVENTS;
    const onLevelSwitched = (_event, data) => {
      const level = hls.levels?.[data?.level];
      const kbps = level?.bitrate ? Math.round(level.bitrate / 1000) : 0;
      if (kbps <= 0 || kbps === lastKbps) return;
      lastKbps = kbps;
      emit('bitrate_change', { kbps, ...(level.height > 0 ? { height: level.height } : {}) });
    };
    const onError = (_event, data) => {
      if (!data?.fatal) return; // hls.js recovers from the others by itself
      const message = data.error?.message ?? data.reason;
      emit('playback_error', {
        code: `${data.type}/${data.details}`.slice(0, 100),
        ...(message ? { message: String(message).slice(0, 1000) } : {}),
        fatal: true,
      });
    };
    hls.on(names.LEVEL_SWITCHED, onLevelSwitched);
    hls.on(names.ERROR, onError);
    unbindHls = () => {
      hls.off?.(names.LEVEL_SWITCHED, onLevelSwitched);
      hls.off?.(names.ERROR, onError);
    };
  }

  // ------------------------------------------------------------------ the element

  const onVideo = {
    loadstart: bindHls,
    emptied: bindHls,
    play() {
      bindHls();
      if (!firstPlayingSeen && playRequestedAt === null) {
        playRequestedAt = performance.now();
      }
      if (!viewStarted) {
        viewStarted = true;
        emit('view_start');
      }
      emit('play', { position_s: position() });
    },
    playing() {
      const now = performance.now();
      if (!firstPlayingSeen) {
        firstPlayingSeen = true;
        if (playRequestedAt !== null) emit('ttff_ms', { ttff_ms: Math.round(Math.max(0, now - playRequestedAt)) });
      }
      endStall(now);
      startPlaying(now);
    },
    waiting() {
      stopPlaying();
      if (firstPlayingSeen && !video.seeking && stallSince === null) stallSince = performance.now();
    },
    pause() {
      const now = performance.now();
      stopPlaying(now);
      endStall(now);
      emit('pause', { position_s: position() });
    },
    ended() {
      stopPlaying();
      furthestS = Math.max(furthestS, duration());
    },
    seeking() {
      const now = performance.now();
      // timeupdate comes every ~250 ms: carry the last position forward by the time played since.
      const since = playingSince === null ? now : Math.max(playingSince, lastPositionAt);
      stopPlaying(now);
      if (seekFromS === null) seekFromS = lastPositionS + (Math.max(0, now - since) / 1000) * video.playbackRate;
    },
    seeked() {
      if (firstPlayingSeen && seekFromS !== null) emit('seek', { from_s: round1(seekFromS), to_s: position() });
      seekFromS = null;
      lastPositionS = video.currentTime;
      lastPositionAt = performance.now();
      if (!video.paused && stallSince === null) startPlaying();
    },
    timeupdate() {
      if (video.seeking) return;
      lastPositionS = video.currentTime;
      lastPositionAt = performance.now();
      if (!video.paused) furthestS = Math.max(furthestS, video.currentTime);
    },
    error() {
      const err = video.error;
      if (!err) return;
      emit('playback_error', {
        code: `MEDIA_ERR_${err.code}`,
        ...(err.message ? { message: err.message.slice(0, 1000) } : {}),
        fatal: true,
      });
    },
  };

  function onPageHide() {
    endView();
    void flush({ beacon: true });
  }
  function onVisibility() {
    if (document.visibilityState === 'hidden') onPageHide();
  }

  for (const [name, handler] of Object.entries(onVideo)) video.addEventListener(name, handler);
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('pagehide', onPageHide);
  bindHls();

  // Attached after the page asked to play (e.g. telemetry loaded by a dynamic import): the
  // view counts from here and TTFF from navigation start, unless the first frame is out
  // already (then it is unknown).
  if (!video.paused) {
    firstPlayingSeen = video.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA;
    playRequestedAt = firstPlayingSeen ? null : 0;
    viewStarted = true;
    emit('view_start');
    emit('play', { position_s: position() });
    if (firstPlayingSeen) startPlaying();
  } else if (video.played.length > 0) {
    firstPlayingSeen = true;
  }

  /** @type {TelemetryHandle} */
  const handle = {
    sessionId,
    flush: () => flush(),
    detach() {
      endView();
      void flush();
      for (const [name, handler] of Object.entries(onVideo)) video.removeEventListener(name, handler);
      document.removeEventListener('visibilitychange', onVisibility);
      window.removeEventListener('pagehide', onPageHide);
      unbindHls();
      boundHls = null;
      clearTimeout(retryTimer);
      attached.delete(video);
    },
  };
  attached.set(video, handle);
  video.dataset.telemetrySession = sessionId;
  return handle;
}
