/*
 * A video's description as the watch page shows it: plain text whose web addresses become
 * links and whose times ("1:23", "1:02:03") seek the player. The text is split into pieces
 * here and each piece becomes a text node or an element built with createElement: the
 * user's text is never parsed as HTML. Only http(s) addresses become links (no javascript:
 * or data:), and they open in a new tab as untrusted, user-given links (nofollow ugc).
 */

/** http(s) addresses; a trailing ")" or punctuation that ends a sentence is not part of it. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]}'’]/giu;
/** Times at a word boundary: m:ss or h:mm:ss. */
const TIME_PATTERN = /(?<![\w:])(?:(\d{1,2}):)?([0-5]?\d):([0-5]\d)(?![\w:])/g;

/**
 * The description as pieces: `{ text }`, `{ link: href, text }` and `{ time: seconds, text }`,
 * in order. Pure (no DOM): the unit tests read it.
 * @param {string} text
 */
export function descriptionPieces(text) {
  const marks = [];
  for (const m of text.matchAll(URL_PATTERN)) {
    let href;
    try {
      href = new URL(m[0]).href;
    } catch {
      continue;
    }
    marks.push({ start: m.index, end: m.index + m[0].length, piece: { link: href, text: m[0] } });
  }
  const inLink = (i) => marks.some((mark) => i >= mark.start && i < mark.end);
  for (const m of text.matchAll(TIME_PATTERN)) {
    if (inLink(m.index)) continue;
    const seconds = Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]);
    marks.push({ start: m.index, end: m.index + m[0].length, piece: { time: seconds, text: m[0] } });
  }
  marks.sort((a, b) => a.start - b.start);
  const pieces = [];
  let at = 0;
  for (const mark of marks) {
    if (mark.start < at) continue;
    if (mark.start > at) pieces.push({ text: text.slice(at, mark.start) });
    pieces.push(mark.piece);
    at = mark.end;
  }
  if (at < text.length) pieces.push({ text: text.slice(at) });
  return pieces;
}

/**
 * Fills `container` with the description: text nodes, links, and time buttons that call
 * `seek(seconds)`.
 * @param {HTMLElement} container
 * @param {string} text
 * @param {(seconds: number) => void} seek
 */
export function renderDescription(container, text, seek) {
  container.replaceChildren(
    ...descriptionPieces(text).map((piece) => {
      if ('link' in piece) {
        const a = document.createElement('a');
        a.href = piece.link;
        a.textContent = piece.text;
        a.target = '_blank';
        a.rel = 'nofollow ugc noopener noreferrer';
        return a;
      }
      if ('time' in piece) {
        const a = document.createElement('a');
        a.href = `?t=${piece.time}`;
        a.className = 'timestamp';
        a.textContent = piece.text;
        a.addEventListener('click', (event) => {
          event.preventDefault();
          seek(piece.time);
        });
        return a;
      }
      return document.createTextNode(piece.text);
    }),
  );
}
