/** The watch page's pure parts: description links and times (web/assets/description.js), URL options (player-options.js). */
import t from 'tap';
// @ts-expect-error: plain browser JavaScript, no types
import { descriptionPieces } from '../../web/assets/description.js';
// @ts-expect-error: plain browser JavaScript, no types
import { parseStartTime, playerOptions, watchLinkAt } from '../../web/assets/player-options.js';

t.test('descriptions: http(s) addresses become links, times seek, everything else is text', async (t) => {
  t.same(descriptionPieces('See https://example.com/a?b=1&c=2). At 1:05 and 1:02:03. javascript:alert(1) <b>x</b> www.example.com'), [
    { text: 'See ' },
    { link: 'https://example.com/a?b=1&c=2', text: 'https://example.com/a?b=1&c=2' },
    { text: '). At ' },
    { time: 65, text: '1:05' },
    { text: ' and ' },
    { time: 3723, text: '1:02:03' },
    { text: '. javascript:alert(1) <b>x</b> www.example.com' },
  ]);
  t.same(descriptionPieces('https://example.com/watch?t=1:05'), [{ link: 'https://example.com/watch?t=1:05', text: 'https://example.com/watch?t=1:05' }], 'a time inside a link stays in it');
  t.same(descriptionPieces('ratio 16:9, 12:345'), [{ text: 'ratio 16:9, 12:345' }], 'not every colon is a time');
});

t.test('start times in every common spelling', async (t) => {
  for (const [text, seconds] of [['90', 90], ['1.5', 1.5], ['90s', 90], ['1m30s', 90], ['1h2m3s', 3723], ['1:30', 90], ['1:02:03', 3723]] as const) {
    t.equal(parseStartTime(text), seconds, text);
  }
  for (const text of ['', 'abc', '-1', '1:2:3:4', null]) t.equal(parseStartTime(text), undefined, `not a time: ${text}`);
});

t.test('player options from the URL', async (t) => {
  t.same(playerOptions('?t=1m&autoplay=1&muted=true&captions=fr-CA&token=1.x'), { startAt: 60, autoplay: true, muted: true, captions: 'fr-CA', token: '1.x' });
  t.same(playerOptions(''), { startAt: undefined, autoplay: false, muted: false, captions: undefined, token: undefined });
});

t.test('a link at the current time is the watch page with whole seconds', async (t) => {
  t.equal(watchLinkAt('http://h:1', 'a b', 42.9), 'http://h:1/watch/a%20b?t=42');
  t.equal(watchLinkAt('http://h:1', 'x', 0.4), 'http://h:1/watch/x', 'at the start: no t');
});
