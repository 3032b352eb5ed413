/**
 * Storyboard thumbnails: a WebVTT file whose cue texts point at tiles of sprite sheets,
 * `sprite-K.jpg#xywh=x,y,w,h`, relative to the VTT's own URL.
 *
 * @typedef {{ start: number, end: number, url: string, x: number, y: number, w: number, h: number }} StoryboardCue
 */

/** "[hh:]mm:ss.ttt" → seconds. */
function parseTimestamp(text) {
  return text.split(':').reduce((seconds, part) => seconds * 60 + Number(part), 0);
}

/**
 * Parses the VTT text into cues sorted by start time. Cues without a `#xywh=` fragment are
 * skipped: without a tile rectangle there is nothing sensible to draw.
 * @param {string} text
 * @param {string} vttUrl absolute URL of the VTT (sprite URLs resolve against it)
 * @returns {StoryboardCue[]}
 */
export function parseStoryboard(text, vttUrl) {
  const cues = [];
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
    const lines = block.split('\n');
    const timingLine = lines.findIndex((line) => line.includes('-->'));
    const ref = lines[timingLine + 1]?.trim();
    if (timingLine < 0 || !ref) continue;
    const [start, end] = lines[timingLine]
      .split('-->')
      .map((side) => parseTimestamp(side.trim().split(/\s+/)[0] ?? ''));
    const fragment = ref.indexOf('#xywh=');
    if (fragment < 0) continue;
    const [x, y, w, h] = ref.slice(fragment + '#xywh='.length).split(',').map(Number);
    if (![start, end, x, y, w, h].every(Number.isFinite)) continue;
    cues.push({ start, end, url: new URL(ref.slice(0, fragment), vttUrl).href, x, y, w, h });
  }
  return cues.sort((a, b) => a.start - b.start);
}

/**
 * The cue showing time `t` (seconds); past the last cue, the last one.
 * @param {StoryboardCue[]} cues
 * @param {number} t
 * @returns {StoryboardCue | undefined}
 */
export function cueAt(cues, t) {
  let low = 0;
  let high = cues.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (cues[mid].start <= t) low = mid;
    else high = mid - 1;
  }
  return cues[low];
}
