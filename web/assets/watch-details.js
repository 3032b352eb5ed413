/*
 * The watch page below and beside the player: title, view count, publish date, tags,
 * description (description.js), the "copy link at the current time" action and the related
 * videos (GET /v1/videos/:id/related). Everything the user wrote goes in as text
 * (textContent, createElement), never as HTML.
 */
import { apiCall } from './api.js';
import { renderDescription } from './description.js';
import { formatAgo, formatClock } from './format.js';
import { watchLinkAt } from './player-options.js';

const RELATED_COUNT = 8;

const byId = (id) => document.getElementById(id);
const ui = {
  title: byId('title'),
  views: byId('views'),
  published: /** @type {HTMLTimeElement} */ (byId('published')),
  tags: byId('tags'),
  description: byId('description'),
  copyLink: byId('copy-link'),
  copyStatus: byId('copy-status'),
  related: byId('related'),
  relatedList: byId('related-list'),
  relatedTemplate: /** @type {HTMLTemplateElement} */ (byId('related-template')),
};

const numberFormat = new Intl.NumberFormat();
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/** What was last drawn, so a poll that changes nothing redraws nothing. */
const drawn = { description: null, tags: null };

/**
 * Draws a video's details (each poll of the page calls it; unchanged parts are left alone).
 * @param {any} meta GET /v1/videos/:id
 * @param {(seconds: number) => void} seek
 */
export function renderDetails(meta, seek) {
  ui.title.textContent = meta.title || 'Untitled';
  const published = meta.ready_at ?? meta.created_at;
  if (published && ui.published.dateTime !== published) {
    ui.published.dateTime = published;
    ui.published.textContent = dateFormat.format(new Date(published));
    ui.published.title = formatAgo(published);
  }
  const description = meta.description ?? '';
  if (drawn.description !== description) {
    drawn.description = description;
    renderDescription(ui.description, description, seek);
    ui.description.hidden = description === '';
  }
  const tags = JSON.stringify(meta.tags ?? []);
  if (drawn.tags !== tags) {
    drawn.tags = tags;
    ui.tags.replaceChildren(
      ...(meta.tags ?? []).map((tag) => {
        const a = document.createElement('a');
        a.href = `/?q=${encodeURIComponent(tag)}`;
        a.textContent = `#${tag}`;
        const li = document.createElement('li');
        li.append(a);
        return li;
      }),
    );
    ui.tags.hidden = (meta.tags ?? []).length === 0;
  }
}

/** "1,234 views" from the video's stats (public and unlisted videos; hidden when unknown). */
export async function loadViews(videoId) {
  const { body } = await apiCall(`/v1/videos/${encodeURIComponent(videoId)}/stats`);
  const views = body?.views;
  ui.views.hidden = typeof views !== 'number';
  if (typeof views === 'number') ui.views.textContent = `${numberFormat.format(views)} ${views === 1 ? 'view' : 'views'}`;
}

/** The related videos, as cards linking to their watch pages. */
export async function loadRelated(videoId) {
  const { body } = await apiCall(`/v1/videos/${encodeURIComponent(videoId)}/related?limit=${RELATED_COUNT}`);
  const items = body?.items ?? [];
  ui.relatedList.replaceChildren(...items.map(relatedCard));
  ui.related.hidden = items.length === 0;
}

function relatedCard(video) {
  const card = /** @type {HTMLElement} */ (ui.relatedTemplate.content.firstElementChild.cloneNode(true));
  const link = card.querySelector('a');
  link.href = `/watch/${encodeURIComponent(video.id)}`;
  link.dataset.videoId = video.id;
  const img = card.querySelector('img');
  if (video.playback?.poster_url) img.src = video.playback.poster_url;
  else img.remove();
  const duration = card.querySelector('.duration');
  if (video.duration_ms) duration.textContent = formatClock(video.duration_ms / 1000);
  else duration.remove();
  card.querySelector('.related-title').textContent = video.title || 'Untitled';
  card.querySelector('.related-meta').textContent = formatAgo(video.ready_at ?? video.created_at);
  return card;
}

/**
 * "Copy link at current time": the watch page's address with ?t= of the player's position, to
 * the clipboard; the link is also shown, selectable, where the clipboard is refused.
 * @param {string} videoId
 * @param {() => number} currentTime
 */
export function wireCopyLink(videoId, currentTime) {
  ui.copyLink.addEventListener('click', async () => {
    const t = currentTime();
    const link = watchLinkAt(location.origin, videoId, t);
    let copied = false;
    try {
      await navigator.clipboard.writeText(link);
      copied = true;
    } catch {
      // No clipboard (an insecure origin, a refused permission): the link is shown instead.
    }
    ui.copyStatus.replaceChildren(`${copied ? 'Link copied' : 'Copy this link'} (at ${formatClock(t)}): `, linkField(link));
    ui.copyStatus.hidden = false;
  });
}

function linkField(link) {
  const field = document.createElement('input');
  field.type = 'text';
  field.readOnly = true;
  field.id = 'share-url';
  field.value = link;
  field.setAttribute('aria-label', 'Link to this video at the current time');
  field.addEventListener('focus', () => field.select());
  return field;
}
