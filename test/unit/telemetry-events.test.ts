/** The event schemas of POST /v1/events: each type with its own fields, batch shape and cap. */
import t from 'tap';
import { AppError } from '../../core/errors.js';
import { EVENT_TYPES, MAX_EVENTS_PER_BATCH, parseEvent, validateBatch } from '../../core/telemetry/events.js';

const common = { video_id: 'AbCdEfGhIjK_', session_id: '4f1c2a9e-7b1d-4c55-9d0e-2f6b8a1c3e77', ts: 1_700_000_000_000 };

/** A valid example of every type (the keys must list every type). */
const examples: Record<(typeof EVENT_TYPES)[number], Record<string, unknown>> = {
  view_start: {},
  view_end: { dwell_ms: 12_000, percent_complete: 87.5 },
  play: { position_s: 0 },
  pause: { position_s: 3.4 },
  seek: { from_s: 1, to_s: 30.5 },
  playback_error: { code: 'networkError/manifestLoadError', message: 'HTTP 404', fatal: true },
  ttff_ms: { ttff_ms: 640 },
  rebuffer: { duration_ms: 1200 },
  bitrate_change: { kbps: 2500, height: 720 },
};

t.test('every event type parses with its own fields', async (t) => {
  t.same(Object.keys(examples).sort(), [...EVENT_TYPES].sort(), 'the examples cover every type');
  for (const [type, fields] of Object.entries(examples)) {
    const r = parseEvent({ type, ...common, ...fields });
    t.ok(r.ok, type);
    if (r.ok) t.same(r.event, { type, ...common, ...fields }, `${type} keeps its fields`);
  }
});

t.test('fields other than the type\'s own are dropped', async (t) => {
  const r = parseEvent({ type: 'view_start', ...common, kbps: 5, nickname: 'x' });
  t.ok(r.ok);
  if (r.ok) t.same(r.event, { type: 'view_start', ...common });
});

const bad: [string, unknown, RegExp][] = [
  ['not an object', 'play', /object/],
  ['null', null, /object/],
  ['unknown type', { type: 'jump', ...common }, /^type: /],
  ['no type', { ...common }, /^type: /],
  ['malformed video id', { type: 'play', ...common, video_id: '../etc/passwd' }, /video_id/],
  ['short session id', { type: 'play', ...common, session_id: 'abc' }, /session_id/],
  ['session id with spaces', { type: 'play', ...common, session_id: 'a b c d e f g h' }, /session_id/],
  ['ts as a string', { type: 'play', ...common, ts: '2024-01-01' }, /ts/],
  ['fractional ts', { type: 'play', ...common, ts: 1.5 }, /ts/],
  ['view_end without dwell', { type: 'view_end', ...common, percent_complete: 10 }, /dwell_ms/],
  ['view_end percent over 100', { type: 'view_end', ...common, dwell_ms: 1, percent_complete: 100.1 }, /percent_complete/],
  ['negative rebuffer', { type: 'rebuffer', ...common, duration_ms: -1 }, /duration_ms/],
  ['ttff of a year', { type: 'ttff_ms', ...common, ttff_ms: 365 * 86_400_000 }, /ttff_ms/],
  ['zero kbps', { type: 'bitrate_change', ...common, kbps: 0 }, /kbps/],
  ['negative seek target', { type: 'seek', ...common, to_s: -3 }, /to_s/],
  ['error code not a string', { type: 'playback_error', ...common, code: 42 }, /code/],
];
for (const [label, raw, message] of bad) {
  t.test(`refused: ${label}`, async (t) => {
    const r = parseEvent(raw);
    t.notOk(r.ok);
    if (!r.ok) t.match(r.message, message);
  });
}

t.test('a batch is split into kept and refused events, by index', async (t) => {
  const batch = validateBatch({
    events: [{ type: 'play', ...common }, { type: 'nope' }, { type: 'pause', ...common }, 7],
  });
  t.same(batch.events.map((e) => [e.index, e.event.type]), [[0, 'play'], [2, 'pause']]);
  t.same(batch.rejected.map((e) => e.index), [1, 3]);
});

t.test('a body that is not a batch, or too big a batch, is refused whole', async (t) => {
  for (const body of [undefined, null, [], {}, { events: 'x' }, { events: {} }, 'events']) {
    t.throws(() => validateBatch(body), { code: 'E_BAD_REQUEST' }, JSON.stringify(body) ?? 'undefined');
  }
  const events = Array.from({ length: MAX_EVENTS_PER_BATCH + 1 }, () => ({}));
  t.throws(() => validateBatch({ events }), new AppError('E_TOO_LARGE', `at most ${MAX_EVENTS_PER_BATCH} events per batch (got ${MAX_EVENTS_PER_BATCH + 1})`));
  t.equal(validateBatch({ events: events.slice(1) }).rejected.length, MAX_EVENTS_PER_BATCH, 'the cap itself is allowed');
});
