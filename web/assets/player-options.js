/*
 * What a watch or embed URL asks of the player (README "Embedding"):
 *   ?t=90 | ?t=1m30s | ?t=1:30   start there (instead of where the viewer left off)
 *   ?autoplay=1                  start playing at once (embeds wait for a click otherwise);
 *                                browsers allow it muted, so ask with &muted=1
 *   ?muted=1                     start muted
 *   ?captions=LANG               show the captions in that language (BCP 47) when there are
 *                                some (read by the captions menu, captions.js)
 *   ?token=…                     a signed playback token: how a private video's embed reads it
 */

/** "90", "90s", "1m30s", "1h2m3s", "1:30", "1:02:03" → seconds; undefined when not a time. */
export function parseStartTime(value) {
  if (value === null || value === undefined || value === '') return undefined;
  const text = String(value).trim().toLowerCase();
  let seconds;
  if (/^\d+(\.\d+)?$/.test(text)) seconds = Number(text);
  else if (/^(\d+:){1,2}\d{1,2}$/.test(text)) seconds = text.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);
  else {
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(text);
    if (!m || text === '') return undefined;
    seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  }
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

const yes = (value) => value === '1' || value === 'true';

/**
 * @param {string} search location.search
 * @returns {{ startAt: number | undefined, autoplay: boolean, muted: boolean, captions: string | undefined, token: string | undefined }}
 */
export function playerOptions(search) {
  const params = new URLSearchParams(search);
  return {
    startAt: parseStartTime(params.get('t')),
    autoplay: yes(params.get('autoplay')),
    muted: yes(params.get('muted')),
    captions: params.get('captions') || undefined,
    token: params.get('token') || undefined,
  };
}

/** The watch page of a video at `seconds` (whole; none at the start), for sharing. */
export function watchLinkAt(origin, videoId, seconds) {
  const url = new URL(`/watch/${encodeURIComponent(videoId)}`, origin);
  const whole = Math.floor(seconds);
  if (whole > 0) url.searchParams.set('t', String(whole));
  return url.href;
}
