/** HTTP preconditions over entity tags (RFC 9110 §13): If-None-Match and If-Range. */

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** True when `If-None-Match` names the current representation (weak comparison), or is `*`. */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const want = opaque(etag);
  return header.split(',').some((t) => opaque(t.trim()) === want);
}

/**
 * True when a Range request may be honoured: no `If-Range`, or one naming the current
 * representation by a strong tag. A date or an old tag means "send the whole thing".
 */
export function ifRangeAllows(header: string | undefined, etag: string): boolean {
  if (!header) return true;
  const tag = header.trim();
  return !tag.startsWith('W/') && tag === etag;
}

/** `"abc"` → `"abc-br"`: every representation (coding, rewrite) needs its own strong validator. */
export function derivedEtag(etag: string, suffix: string): string {
  return etag.endsWith('"') ? `${etag.slice(0, -1)}-${suffix}"` : `"${etag}-${suffix}"`;
}
