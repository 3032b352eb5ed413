/**
 * The watch page's captions menu: an entry in the settings panel listing the master's
 * SUBTITLES tracks (hls.js `subtitleTracks`) plus "Off", and a CC button in the control bar
 * that toggles the last chosen track. The choice is remembered in the browser. Standalone:
 * watch.js calls attachCaptionsMenu() with its hls.js instance; nothing else is shared.
 */

const PREFERENCE_KEY = 'framecast:captions';
const OFF = '-1';

let stylesheetAdded = false;

/** The module's own stylesheet, next to it (same asset version). */
export function addStylesheet(file) {
  if (stylesheetAdded) return;
  stylesheetAdded = true;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL(file, import.meta.url).href;
  document.head.append(link);
}

function savedLanguage() {
  try {
    return localStorage.getItem(PREFERENCE_KEY);
  } catch {
    return null;
  }
}

function saveLanguage(language) {
  try {
    if (language) localStorage.setItem(PREFERENCE_KEY, language);
    else localStorage.removeItem(PREFERENCE_KEY);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
}

function trackLabel(track) {
  return track.name || track.lang || `Track ${track.id + 1}`;
}

/**
 * Builds the menu for `hls` inside `settings` (the settings panel) and a CC button before
 * `beforeButton` in the control bar. `preferred` (e.g. from `?captions=fr`) picks a language
 * to show at start. Returns the `{ select, button }` elements (hidden while there is no track).
 */
export function attachCaptionsMenu({ hls, settings, beforeButton, preferred = null }) {
  addStylesheet('captions-chapters.css');
  let label = document.getElementById('captions-label');
  if (!label) {
    label = document.createElement('label');
    label.id = 'captions-label';
    label.append('Captions ');
    const select = document.createElement('select');
    select.id = 'captions';
    label.append(select);
    settings.append(label);
  }
  const select = /** @type {HTMLSelectElement} */ (label.querySelector('select'));
  let button = document.getElementById('captions-button');
  if (!button) {
    button = document.createElement('button');
    button.type = 'button';
    button.id = 'captions-button';
    button.className = 'icon-button captions-button';
    button.setAttribute('aria-label', 'Captions');
    button.setAttribute('aria-pressed', 'false');
    button.title = 'Captions (c)';
    button.textContent = 'CC';
    beforeButton?.before(button);
  }
  label.hidden = true;
  button.hidden = true;
  let lastOn = null;

  const show = (index) => {
    hls.subtitleDisplay = index >= 0;
    hls.subtitleTrack = index;
    select.value = String(index);
    button.setAttribute('aria-pressed', String(index >= 0));
    button.classList.toggle('on', index >= 0);
    if (index >= 0) lastOn = index;
  };

  const build = () => {
    const tracks = hls.subtitleTracks ?? [];
    select.replaceChildren(new Option('Off', OFF), ...tracks.map((track, i) => new Option(trackLabel(track), String(i))));
    label.hidden = tracks.length === 0;
    button.hidden = tracks.length === 0;
    const wanted = preferred ?? savedLanguage();
    const index = wanted ? tracks.findIndex((t) => (t.lang ?? '').toLowerCase() === wanted.toLowerCase()) : -1;
    // hls.js selects its own initial track (none without DEFAULT=YES) right after announcing
    // the tracks, which would undo a choice made inside the event: choose once it is done.
    queueMicrotask(() => show(index));
  };

  select.onchange = () => {
    const index = Number(select.value);
    show(index);
    saveLanguage(index >= 0 ? hls.subtitleTracks[index]?.lang : null);
  };
  button.onclick = () => {
    const index = hls.subtitleTrack >= 0 ? -1 : (lastOn ?? 0);
    show(index);
    saveLanguage(index >= 0 ? hls.subtitleTracks[index]?.lang : null);
  };
  document.addEventListener('keydown', (e) => {
    if (e.key === 'c' && !e.ctrlKey && !e.metaKey && !e.altKey && !(e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement)) {
      if (!button.hidden) button.click();
    }
  });
  const Hls = window.Hls;
  hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, build);
  hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, () => (select.value = String(hls.subtitleTrack)));
  if (hls.subtitleTracks?.length) build();
  return { select, button };
}
