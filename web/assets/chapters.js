/**
 * Chapters on the watch page: a mark on the seek bar at each chapter start (titled, so the
 * pointer shows it) and the current chapter's title beside the time. Standalone: watch.js
 * calls showChapters() with the video's `chapters` ([{start_s, title}]) whenever it renders.
 */
import { addStylesheet } from './captions-menu.js';

/** The chapter playing at `seconds`, or undefined before the first. */
export function chapterAt(chapters, seconds) {
  let found;
  for (const c of chapters) if (c.start_s <= seconds + 0.001) found = c;
  return found;
}

let current = { key: '', listener: null };

/**
 * Draws `chapters` on `seek` for a video of `duration` seconds and keeps `titleHost`'s
 * chapter label current while `video` plays. Calling it again with the same chapters does
 * nothing; with none, it removes what it drew.
 */
export function showChapters({ video, seek, titleHost, chapters, duration }) {
  const list = Array.isArray(chapters) ? chapters.filter((c) => c.start_s < duration) : [];
  const key = JSON.stringify([list, duration]);
  if (key === current.key) return;
  current.key = key;
  addStylesheet('captions-chapters.css');
  seek.querySelectorAll('.chapter-mark').forEach((m) => m.remove());
  if (current.listener) video.removeEventListener('timeupdate', current.listener);
  let label = document.getElementById('chapter-title');
  if (list.length === 0 || !(duration > 0)) {
    label?.remove();
    current.listener = null;
    return;
  }
  for (const c of list) {
    if (c.start_s <= 0) continue;
    const mark = document.createElement('div');
    mark.className = 'chapter-mark';
    mark.style.left = `${(c.start_s / duration) * 100}%`;
    mark.title = c.title;
    mark.dataset.start = String(c.start_s);
    seek.append(mark);
  }
  if (!label) {
    label = document.createElement('span');
    label.id = 'chapter-title';
    label.className = 'chapter-title';
    titleHost.after(label);
  }
  const update = () => {
    const chapter = chapterAt(list, video.currentTime);
    const text = chapter ? chapter.title : '';
    if (label.textContent !== text) label.textContent = text;
    label.title = text;
  };
  current.listener = update;
  video.addEventListener('timeupdate', update);
  update();
}
