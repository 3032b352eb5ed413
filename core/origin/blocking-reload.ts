/**
 * LL-HLS blocking playlist reload (RFC 8216bis 6.2.5.2): a request for a live media playlist
 * with `_HLS_msn=M[&_HLS_part=P]` is held until the playlist holds Media Segment M (or part
 * P of it) or anything later, then answered; one more than two segments ahead of the
 * playlist gets 400; a hold lasts at most three target durations, then the playlist as it
 * is goes out.
 *
 * The same holds for the part an `EXT-X-PRELOAD-HINT` names (RFC 8216bis 6.2.6): a player
 * asks for it before it exists, and the request is held until it is published (the
 * playlist then hints the part after it), at most the same bound, instead of a 404.
 *
 * A held request costs a timer and a listener, no CPU: it wakes on live-updates.ts's
 * notification that the playlist changed and reads it again (through the origin, which
 * coalesces the reads of every request waiting on the same playlist).
 */
import { AppError } from '../errors.js';
import type { LiveUpdates } from './live-updates.js';

/** What a client asks to wait for. */
export interface ReloadWant {
  msn: number;
  part?: number | undefined;
}

/** Where a live media playlist is. */
export interface PlaylistPosition {
  /** Media Sequence Number of the segment in progress (the one after the last complete one). */
  openMsn: number;
  /** Parts of the segment in progress listed. */
  openParts: number;
  ended: boolean;
}

const DIRECTIVE_RE = /^\d{1,10}$/;

/** The blocking directives of a query; undefined without `_HLS_msn`; 400 when malformed. */
export function reloadWant(query: URLSearchParams): ReloadWant | undefined {
  const msn = query.get('_HLS_msn');
  const part = query.get('_HLS_part');
  if (msn === null) {
    if (part !== null) throw new AppError('E_BAD_REQUEST', '_HLS_part needs _HLS_msn');
    return undefined;
  }
  if (!DIRECTIVE_RE.test(msn) || (part !== null && !DIRECTIVE_RE.test(part))) {
    throw new AppError('E_BAD_REQUEST', '_HLS_msn and _HLS_part must be non-negative integers');
  }
  return { msn: Number(msn), ...(part !== null ? { part: Number(part) } : {}) };
}

/** Reads the position of a media playlist from its text (tags only; cheap). */
export function playlistPosition(text: string): PlaylistPosition {
  let sequence = 0;
  let segments = 0;
  let parts = 0;
  let ended = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXTINF:')) {
      segments++;
      parts = 0;
    } else if (line.startsWith('#EXT-X-PART:')) parts++;
    else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) sequence = Number(line.slice(22)) || 0;
    else if (line.startsWith('#EXT-X-ENDLIST')) ended = true;
  }
  // Parts counted since the last EXTINF belong to the segment in progress.
  return { openMsn: sequence + segments, openParts: parts, ended };
}

/** True once the playlist at `pos` holds what `want` asks for, or something later. */
export function satisfies(pos: PlaylistPosition, want: ReloadWant): boolean {
  if (pos.ended || want.msn < pos.openMsn) return true;
  return want.part !== undefined && want.msn === pos.openMsn && want.part < pos.openParts;
}

/** More than two segments past the last one the playlist holds. */
export function tooFarAhead(pos: PlaylistPosition, want: ReloadWant): boolean {
  return !pos.ended && want.msn > pos.openMsn - 1 + 2;
}

/**
 * Waits until the playlist read by `read` satisfies `want`, at most `maxWaitMs` (three
 * target durations, as the RFC suggests). Throws E_BAD_REQUEST when `want` is too far ahead;
 * resolves in any other case (the caller then serves the playlist as it is).
 */
export async function waitForPlaylist(
  updates: LiveUpdates,
  key: string,
  read: () => Promise<string | undefined>,
  want: ReloadWant,
  maxWaitMs: number,
): Promise<void> {
  await waitOnPlaylist(
    updates,
    key,
    read,
    (text) => {
      const pos = playlistPosition(text);
      if (tooFarAhead(pos, want)) {
        throw new AppError('E_BAD_REQUEST', `_HLS_msn=${want.msn} is more than two segments ahead of the playlist (next segment ${pos.openMsn})`);
      }
      return satisfies(pos, want);
    },
    maxWaitMs,
  );
}

/**
 * Reads the playlist at `key` until `settled` says so (or it is gone), waking on each of its
 * changes, for at most `maxWaitMs`. `settled` may throw to refuse the request.
 */
async function waitOnPlaylist(
  updates: LiveUpdates,
  key: string,
  read: () => Promise<string | undefined>,
  settled: (text: string) => boolean,
  maxWaitMs: number,
): Promise<void> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    // Listening before reading: a change between the two is not missed.
    const next = updates.next(key, deadline - Date.now());
    let done: boolean;
    try {
      const text = await read();
      done = text === undefined || settled(text);
    } catch (err) {
      next.cancel();
      throw err;
    }
    if (done) {
      next.cancel();
      return;
    }
    if (!(await next.changed)) return;
  }
}

/** The URI of the playlist's `EXT-X-PRELOAD-HINT`, as written (relative to the playlist). */
export function preloadHint(text: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith('#EXT-X-PRELOAD-HINT:'));
  return line ? /URI="([^"]*)"/.exec(line)?.[1] : undefined;
}

/**
 * A request for `uri` (relative to the playlist at `key`) that the store does not hold yet:
 * when the playlist's preload hint names it, waits until the hint moves on (the packager
 * publishes a part before the playlist that hints the next one) or `maxWaitMs` passed.
 * Resolves at once when the playlist does not hint it: the caller then answers 404.
 */
export async function waitForHintedPart(
  updates: LiveUpdates,
  key: string,
  read: () => Promise<string | undefined>,
  uri: string,
  maxWaitMs: number,
): Promise<void> {
  await waitOnPlaylist(updates, key, read, (text) => preloadHint(text) !== uri, maxWaitMs);
}
