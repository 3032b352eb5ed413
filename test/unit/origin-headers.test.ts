import { hotRequestHeaders } from '../../core/origin/hot-answers.js';
import t from 'tap';
import { chooseCoding } from '../../core/origin/compression.js';
import { ifNoneMatchHits, ifRangeAllows } from '../../core/origin/conditional.js';
import { parseRange } from '../../core/origin/range.js';

const both = { br: Buffer.alloc(1), gzip: Buffer.alloc(1) };

t.test('Accept-Encoding: br preferred, q-values respected, identity otherwise', async (t) => {
  t.equal(chooseCoding('gzip, deflate, br', both), 'br');
  t.equal(chooseCoding('gzip', both), 'gzip');
  t.equal(chooseCoding('br;q=0.5, gzip;q=0.8', both), 'gzip');
  t.equal(chooseCoding('br;q=0, gzip', both), 'gzip');
  t.equal(chooseCoding('*', both), 'br');
  t.equal(chooseCoding('*;q=0', both), undefined);
  t.equal(chooseCoding('identity', both), undefined);
  t.equal(chooseCoding(undefined, both), undefined);
  t.equal(chooseCoding('br', { gzip: Buffer.alloc(1) }), undefined, 'only codings that exist');
  t.equal(chooseCoding('BR', both), 'br', 'case-insensitive');
});

t.test('Range at the start, middle, end and beyond', async (t) => {
  t.same(parseRange('bytes=0-99', 1000), { start: 0, end: 99 });
  t.same(parseRange('bytes=400-499', 1000), { start: 400, end: 499 });
  t.same(parseRange('bytes=900-', 1000), { start: 900, end: 999 });
  t.same(parseRange('bytes=-100', 1000), { start: 900, end: 999 });
  t.same(parseRange('bytes=990-5000', 1000), { start: 990, end: 999 }, 'an end past the size is clamped');
  t.same(parseRange('bytes=-5000', 1000), { start: 0, end: 999 });
  t.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable');
  t.equal(parseRange('bytes=500-400', 1000), 'unsatisfiable');
  t.equal(parseRange('bytes=-0', 1000), 'unsatisfiable');
  t.equal(parseRange('bytes=0-1,5-6', 1000), undefined, 'multiple ranges: the whole object');
  t.equal(parseRange('items=0-1', 1000), undefined);
});

t.test('If-None-Match and If-Range', async (t) => {
  t.ok(ifNoneMatchHits('"a"', '"a"'));
  t.ok(ifNoneMatchHits('"x", "a"', '"a"'));
  t.ok(ifNoneMatchHits('W/"a"', '"a"'));
  t.ok(ifNoneMatchHits('*', '"a"'));
  t.notOk(ifNoneMatchHits('"b"', '"a"'));
  t.notOk(ifNoneMatchHits(undefined, '"a"'));
  t.ok(ifRangeAllows(undefined, '"a"'));
  t.ok(ifRangeAllows('"a"', '"a"'));
  t.notOk(ifRangeAllows('W/"a"', '"a"'), 'If-Range needs a strong validator');
  t.notOk(ifRangeAllows('Sat, 21 Nov 2026 10:00:00 GMT', '"a"'));
});

t.test('the fast path reads its request headers from rawHeaders as Node would join them', async (t) => {
  t.same(hotRequestHeaders(['Host', 'x']), { acceptEncoding: undefined, ifNoneMatch: undefined, ranged: false });
  t.same(hotRequestHeaders(['ACCEPT-ENCODING', 'gzip', 'If-None-Match', '"a"', 'accept-encoding', 'br', 'if-none-match', '"b"']), {
    acceptEncoding: 'gzip, br',
    ifNoneMatch: '"a", "b"',
    ranged: false,
  });
  t.ok(hotRequestHeaders(['Range', 'bytes=0-1']).ranged, 'Range: the full path');
  t.ok(hotRequestHeaders(['if-range', '"a"']).ranged, 'If-Range: the full path');
  t.notOk(hotRequestHeaders(['X-Range', 'bytes=0-1', 'Rangex', '1']).ranged, 'only the names themselves');
});
