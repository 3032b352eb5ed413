/* How the pages write times, sizes and dates. */

/** Seconds as a clock: m:ss, or h:mm:ss from an hour. */
export function formatClock(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const whole = Math.floor(seconds);
  const s = (whole % 60).toString().padStart(2, '0');
  const m = Math.floor(whole / 60) % 60;
  const h = Math.floor(whole / 3600);
  return h > 0 ? `${h}:${m.toString().padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Bytes in decimal units: "1.2 MB". */
export function formatBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** A remaining time in words: "42 s", "3 min 5 s", "1 h 20 min". */
export function formatRemaining(seconds) {
  if (!Number.isFinite(seconds)) return '…';
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const RELATIVE_UNITS = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** An ISO date relative to now: "3 days ago", "just now". */
export function formatAgo(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  if (!Number.isFinite(seconds)) return '';
  for (const [unit, size] of RELATIVE_UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return 'just now';
}

/** What each processing stage is called on the pages. */
export const STAGE_LABELS = {
  queued: 'Queued',
  probe: 'Inspecting',
  transcode: 'Transcoding',
  publish: 'Publishing',
};

/** "Transcoding 42%" for a video's progress (or its status when it has none). */
export function describeProgress(video) {
  if (video.status === 'uploading') return 'Uploading';
  if (video.status === 'awaiting_upload') return 'Waiting for the upload';
  const stage = STAGE_LABELS[video.progress?.stage] ?? 'Processing';
  return typeof video.progress?.percent === 'number' ? `${stage} ${Math.round(video.progress.percent)}%` : stage;
}
