/**
 * LL-HLS without a node: the live media playlist with parts, preload hint and rendition
 * reports passes hls-parser's strict mode; a blocking reload (`_HLS_msn`/`_HLS_part`)
 * resolves when the playlist it reads gains the part, not before, wakes on the change
 * notification alone (no polling), and refuses one more than two segments ahead; the
 * target duration follows the segments listed, so one odd segment does not raise it for
 * the rest of the live.
 */
import * as HLS from 'hls-parser';
import t from 'tap';
import { playlistPosition, reloadWant, waitForPlaylist } from '../../core/origin/blocking-reload.js';
import { LiveUpdates } from '../../core/origin/live-updates.js';
import { liveMediaPlaylist, runPartName, type LivePart, type TimelineSegment } from '../../live/live-playlists.js';

HLS.setOptions({ strictMode: true });

const seg = (n: number, duration = 1.999): TimelineSegment => ({ run: 1, dir: '360p', file: `r1-seg-${String(n).padStart(5, '0')}.m4s`, init: 'r1-init.mp4', duration });
const part = (n: number, independent = false): LivePart => ({ run: 1, dir: '360p', file: runPartName(1, n), init: 'r1-init.mp4', duration: 0.5, independent });

/** Segments 0…count-1, the last two with their 4 parts listed, and `open` parts of the next. */
function playlist(count: number, open: number, durations: number[] = []): string {
  const timeline = Array.from({ length: count }, (_, i) => seg(i, durations[i]));
  const partsOf = (i: number) => (i >= count - 2 ? [0, 1, 2, 3].map((k) => part(i * 4 + k, k === 0)) : []);
  return liveMediaPlaylist('360p', timeline, {
    window: 6,
    segmentSeconds: 2,
    ended: false,
    parts: {
      partTarget: 0.5,
      partsOf,
      open: Array.from({ length: open }, (_, k) => part(count * 4 + k, k === 0)),
      nextPart: runPartName(1, count * 4 + open),
      reports: [{ uri: '../240p/index.m3u8', lastMsn: count, lastPart: Math.max(0, open - 1) }],
    },
  });
}

t.test('the LL-HLS live playlist passes hls-parser strict mode', async (t) => {
  const text = playlist(8, 2);
  const parsed = HLS.parse(text) as HLS.types.MediaPlaylist;
  t.equal(parsed.targetDuration, 2);
  t.equal(parsed.mediaSequenceBase, 2, 'a window of 6 segments');
  t.equal(parsed.partTargetDuration, 0.5);
  t.match(parsed.lowLatencyCompatibility, { canBlockReload: true, partHoldBack: 1.5 }, 'CAN-BLOCK-RELOAD and PART-HOLD-BACK');
  t.equal(parsed.segments.filter((s) => s.parts.length === 4).length, 2, 'the last two segments list their parts');
  t.equal(parsed.renditionReports.length, 1);
  t.match(text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="r1-part-000034\.m4s"/);
  t.same(playlistPosition(text), { openMsn: 8, openParts: 2, ended: false });
});

t.test('one odd segment raises the target only while it is listed', async (t) => {
  const odd = [2, 2, 3.9, 2, 2, 2, 2, 2, 2, 2];
  t.match(playlist(6, 1, odd), /#EXT-X-TARGETDURATION:4\n/, 'while the 3.9 s segment is in the window');
  t.match(playlist(10, 1, odd), /#EXT-X-TARGETDURATION:2\n/, 'after it left the window');
});

t.test('a blocking reload answers when its part appears, not before', async (t) => {
  const updates = new LiveUpdates();
  let current = playlist(8, 1);
  let reads = 0;
  const read = async () => {
    reads++;
    return current;
  };
  let answered = false;
  const held = waitForPlaylist(updates, 'k', read, { msn: 8, part: 2 }, 10_000).then(() => (answered = true));
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(answered, 'held while part 2 of segment 8 is not listed');
  current = playlist(8, 2);
  updates.changed('k');
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(answered, 'part 1 appearing does not answer it');
  const readsBefore = reads;
  await new Promise((r) => setTimeout(r, 200));
  t.equal(reads, readsBefore, 'no reads while nothing changes (no polling)');
  current = playlist(8, 3);
  updates.changed('k');
  await held;
  t.ok(answered, 'answered once part 2 is listed');
  t.equal(updates.waiting(), 0, 'no listener left behind');

  // A later segment also satisfies it; a request without a part waits for the whole segment.
  await waitForPlaylist(updates, 'k', async () => playlist(10, 0), { msn: 8, part: 3 }, 10_000);
  let whole = false;
  const segment = waitForPlaylist(updates, 'k', async () => current, { msn: 8 }, 10_000).then(() => (whole = true));
  await new Promise((r) => setTimeout(r, 30));
  t.notOk(whole, 'without _HLS_part: held until segment 8 is complete');
  current = playlist(9, 1);
  updates.changed('k');
  await segment;
  t.pass('answered when segment 8 completed');
});

t.test('far ahead is 400, a hold is bounded, directives are validated', async (t) => {
  const updates = new LiveUpdates();
  const read = async () => playlist(8, 1);
  await t.rejects(waitForPlaylist(updates, 'k', read, { msn: 10, part: 0 }, 10_000), { code: 'E_BAD_REQUEST' }, 'two segments past the next one: 400');
  await waitForPlaylist(updates, 'k', read, { msn: 9, part: 0 }, 50);
  t.pass('a request that is not satisfied answers at its bound');
  t.equal(updates.waiting(), 0);
  t.same(reloadWant(new URLSearchParams('_HLS_msn=3&_HLS_part=1')), { msn: 3, part: 1 });
  t.equal(reloadWant(new URLSearchParams('')), undefined);
  t.throws(() => reloadWant(new URLSearchParams('_HLS_msn=-1')), /non-negative integers/);
  t.throws(() => reloadWant(new URLSearchParams('_HLS_part=1')), /needs _HLS_msn/);
});
