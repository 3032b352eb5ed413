/*
 * The library page (/): a grid of the videos the visitor may see, newest first, from
 * GET /v1/videos (or GET /v1/search while the header's search box has words), with
 * "Load more" following next_cursor. With a saved API token the list also holds the
 * holder's unlisted, private and unfinished videos: those still processing show their stage
 * and percent, polled until they are ready.
 */
import { apiCall } from './api.js';
import { describeProgress, formatAgo, formatClock } from './format.js';

const DEFAULT_PAGE_SIZE = 24;
const POLL_MS = 2000;
const SEARCH_DEBOUNCE_MS = 250;
/** Pages fetched in a row when everything on a page is hidden (e.g. videos awaiting upload). */
const MAX_EMPTY_PAGES = 5;

/** How a video appears in the grid, by status; statuses not listed are left out. */
const CARD_KIND = {
  ready: 'ready',
  uploading: 'pending',
  processing: 'pending',
  failed: 'failed',
};

const VISIBILITY_LABEL = { unlisted: 'Unlisted', private: 'Private' };

const byId = (id) => document.getElementById(id);
const ui = {
  heading: byId('heading'),
  notice: byId('notice'),
  grid: byId('grid'),
  empty: byId('empty'),
  emptyTitle: byId('empty-title'),
  emptyText: byId('empty-text'),
  error: byId('error'),
  errorCode: byId('error-code'),
  errorMessage: byId('error-message'),
  retry: byId('retry'),
  more: /** @type {HTMLButtonElement} */ (byId('more')),
  searchForm: /** @type {HTMLFormElement} */ (byId('search-form')),
  search: /** @type {HTMLInputElement} */ (byId('search')),
  template: /** @type {HTMLTemplateElement} */ (byId('card-template')),
};

/** `?limit=N` picks the page size (1–100). */
function pageSize() {
  const asked = Number(new URLSearchParams(location.search).get('limit'));
  return Number.isInteger(asked) && asked >= 1 && asked <= 100 ? asked : DEFAULT_PAGE_SIZE;
}

const state = {
  pageSize: pageSize(),
  query: new URLSearchParams(location.search).get('q')?.trim() ?? '',
  cursor: null,
  /** Bumped by every new listing, so answers to an older one are dropped. */
  generation: 0,
  /** Cards of videos still uploading or processing, by id. */
  pending: new Map(),
  pollTimer: 0,
  searchTimer: 0,
};

// ---------------------------------------------------------------- cards

function newCard() {
  return /** @type {HTMLAnchorElement} */ (ui.template.content.firstElementChild.cloneNode(true));
}

function fillCard(card, video) {
  const kind = CARD_KIND[video.status];
  card.href = `/watch/${encodeURIComponent(video.id)}`;
  card.dataset.id = video.id;
  card.dataset.status = video.status;
  card.className = `card ${kind}`;
  card.querySelector('.card-title').textContent = video.title || 'Untitled';
  card.querySelector('.card-title').title = video.title || 'Untitled';
  card.querySelector('.card-meta').textContent = formatAgo(video.created_at);

  const badge = card.querySelector('.visibility');
  badge.hidden = !VISIBILITY_LABEL[video.visibility];
  badge.textContent = VISIBILITY_LABEL[video.visibility] ?? '';

  const img = card.querySelector('img');
  const poster = video.playback?.poster_url;
  img.hidden = !poster;
  if (poster && img.getAttribute('src') !== poster) img.src = poster;

  const duration = card.querySelector('.duration');
  duration.hidden = !(kind === 'ready' && video.duration_ms > 0);
  duration.textContent = formatClock((video.duration_ms ?? 0) / 1000);

  const pending = card.querySelector('.pending');
  pending.hidden = kind === 'ready';
  const percent = video.progress?.percent;
  card.querySelector('.pending-stage').textContent =
    kind === 'failed' ? `Failed: ${video.error?.code ?? 'unknown error'}` : describeProgress(video);
  card.querySelector('.meter').hidden = kind !== 'pending' || typeof percent !== 'number';
  card.querySelector('.meter-fill').style.width = `${Math.min(100, Math.max(0, percent ?? 0))}%`;

  if (kind === 'pending') state.pending.set(video.id, card);
  else state.pending.delete(video.id);
}

/** Adds the cards for a page of videos; returns how many were shown. */
function addCards(videos) {
  let shown = 0;
  for (const video of videos) {
    if (!CARD_KIND[video.status] || ui.grid.querySelector(`[data-id="${CSS.escape(video.id)}"]`)) continue;
    const card = newCard();
    fillCard(card, video);
    ui.grid.append(card);
    shown++;
  }
  return shown;
}

// ---------------------------------------------------------------- listing

function listPath() {
  const params = new URLSearchParams({ limit: String(state.pageSize) });
  if (state.query) params.set('q', state.query);
  if (state.cursor) params.set('cursor', state.cursor);
  return `${state.query ? '/v1/search' : '/v1/videos'}?${params}`;
}

function showEmpty() {
  const empty = ui.grid.childElementCount === 0;
  ui.empty.hidden = !empty;
  if (!empty) return;
  if (state.query) {
    ui.emptyTitle.textContent = `No videos match “${state.query}”`;
    ui.emptyText.replaceChildren('Try fewer or other words.');
  } else {
    const link = Object.assign(document.createElement('a'), { href: '/upload', textContent: 'Upload the first one' });
    ui.emptyTitle.textContent = 'No videos yet';
    ui.emptyText.replaceChildren(link, '.');
  }
}

function showError(error) {
  ui.errorCode.textContent = error.code;
  ui.errorMessage.textContent = error.message;
  ui.error.hidden = false;
}

/** Fetches the next page (or the first, after `reset`) and appends its cards. */
async function load({ reset = false } = {}) {
  if (reset) {
    state.generation++;
    state.cursor = null;
    state.pending.clear();
    ui.grid.replaceChildren();
    ui.empty.hidden = true;
  }
  const generation = state.generation;
  ui.error.hidden = true;
  ui.more.disabled = true;
  ui.grid.setAttribute('aria-busy', 'true');
  for (let page = 0; page < MAX_EMPTY_PAGES; page++) {
    const result = await apiCall(listPath());
    if (generation !== state.generation) return;
    if (result.error) {
      showError(result.error);
      break;
    }
    ui.notice.textContent = result.tokenRejected ? 'Your saved API token was refused: showing public videos only.' : '';
    state.cursor = result.body.next_cursor;
    if (addCards(result.body.items) > 0 || !state.cursor) break;
  }
  ui.grid.removeAttribute('aria-busy');
  ui.more.hidden = !state.cursor;
  ui.more.disabled = false;
  showEmpty();
  schedulePoll();
}

// ---------------------------------------------------------------- processing progress

function schedulePoll() {
  clearTimeout(state.pollTimer);
  if (state.pending.size > 0) state.pollTimer = setTimeout(poll, POLL_MS);
}

async function poll() {
  const generation = state.generation;
  await Promise.all(
    [...state.pending].map(async ([id, card]) => {
      const result = await apiCall(`/v1/videos/${encodeURIComponent(id)}`);
      if (generation !== state.generation) return;
      if (result.status === 404) {
        state.pending.delete(id);
        card.remove();
      } else if (result.body) {
        fillCard(card, result.body);
      }
    }),
  );
  if (generation === state.generation) {
    showEmpty();
    schedulePoll();
  }
}

// ---------------------------------------------------------------- search

function setQuery(query) {
  if (query === state.query) return;
  state.query = query;
  const url = new URL(location.href);
  if (query) url.searchParams.set('q', query);
  else url.searchParams.delete('q');
  history.replaceState(null, '', url);
  showHeading();
  load({ reset: true });
}

function showHeading() {
  ui.heading.textContent = state.query ? `Results for “${state.query}”` : 'Videos';
  document.title = state.query ? `${state.query} · Framecast` : 'Framecast';
}

ui.search.value = state.query;
ui.searchForm.addEventListener('submit', (event) => {
  event.preventDefault();
  clearTimeout(state.searchTimer);
  setQuery(ui.search.value.trim());
});
ui.search.addEventListener('input', () => {
  clearTimeout(state.searchTimer);
  state.searchTimer = setTimeout(() => setQuery(ui.search.value.trim()), SEARCH_DEBOUNCE_MS);
});

ui.more.addEventListener('click', () => load());
ui.retry.addEventListener('click', () => load({ reset: ui.grid.childElementCount === 0 }));

showHeading();
load({ reset: true });
