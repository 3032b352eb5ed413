/**
 * The player's QoE events (API.md "Telemetry") and their validation.
 *
 * A batch is `{"events": [...]}`; each event is checked on its own against a union tagged
 * by `type`, so one malformed event never costs the others. Unknown extra fields are
 * dropped. Figures carry their unit in their name (`_ms`, `_s`, `kbps`, percent 0..100).
 */
import { z } from 'zod';
import { AppError } from '../errors.js';
import { ID_RE } from '../ids.js';

/** Most events one batch may carry; a player flushes far fewer. */
export const MAX_EVENTS_PER_BATCH = 500;

const DAY_MS = 86_400_000;
const position = z.number().finite().min(0).max(DAY_MS / 1000);
const durationMs = z.number().finite().min(0).max(DAY_MS);

const base = {
  video_id: z.string().regex(ID_RE, 'not a video id'),
  /** One per page view (the player uses crypto.randomUUID()). */
  session_id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'expected 8 to 64 letters, digits, "-" or "_"'),
  /** When it happened on the client, epoch milliseconds. */
  ts: z.number().int().min(0).max(8_640_000_000_000_000),
};

const event = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.object({ type: z.literal(type), ...base, ...shape });

/** One schema per event type; the keys are the event types. */
export const eventSchemas = {
  view_start: event('view_start', {}),
  view_end: event('view_end', {
    /** Time spent playing since this session's previous view_end (so sums never double count). */
    dwell_ms: durationMs,
    /** Furthest position reached ÷ duration × 100. */
    percent_complete: z.number().finite().min(0).max(100),
  }),
  play: event('play', { position_s: position.optional() }),
  pause: event('pause', { position_s: position.optional() }),
  seek: event('seek', { from_s: position.optional(), to_s: position.optional() }),
  playback_error: event('playback_error', {
    code: z.string().max(100).optional(),
    message: z.string().max(1000).optional(),
    fatal: z.boolean().optional(),
  }),
  /** Time to first frame, in the field named like the event. */
  ttff_ms: event('ttff_ms', { ttff_ms: durationMs }),
  rebuffer: event('rebuffer', { duration_ms: durationMs }),
  bitrate_change: event('bitrate_change', {
    kbps: z.number().finite().positive().max(1_000_000),
    height: z.number().int().positive().max(10_000).optional(),
  }),
} as const;

export type EventType = keyof typeof eventSchemas;
export const EVENT_TYPES = Object.keys(eventSchemas) as EventType[];

/** Any one event: a union tagged by `type`. */
export const telemetryEvent = z.discriminatedUnion('type', Object.values(eventSchemas) as [
  (typeof eventSchemas)[EventType],
  ...(typeof eventSchemas)[EventType][],
]);

/** A validated event, tagged by `type`. */
export type TelemetryEvent = z.output<typeof telemetryEvent>;
export type EventOf<K extends EventType> = Extract<TelemetryEvent, { type: K }>;

/** Why one event of a batch was refused; `index` is its place in the batch. */
export interface RejectedEvent {
  index: number;
  message: string;
}

/** Checks one event; returns it typed, or why not. */
export function parseEvent(raw: unknown): { ok: true; event: TelemetryEvent } | { ok: false; message: string } {
  const result = telemetryEvent.safeParse(raw);
  if (result.success) return { ok: true, event: result.data };
  return { ok: false, message: result.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ') };
}

/** A batch split into events to keep and the ones refused. */
export interface ValidatedBatch {
  events: { index: number; event: TelemetryEvent }[];
  rejected: RejectedEvent[];
}

/**
 * Checks a request body: 400 E_BAD_REQUEST unless it is `{"events": [...]}`, 413
 * E_TOO_LARGE over MAX_EVENTS_PER_BATCH events; then every event is checked on its own.
 */
export function validateBatch(body: unknown): ValidatedBatch {
  if (typeof body !== 'object' || body === null || !('events' in body) || !Array.isArray(body.events)) {
    throw new AppError('E_BAD_REQUEST', 'expected a JSON object {"events": [...]}');
  }
  if (body.events.length > MAX_EVENTS_PER_BATCH) {
    throw new AppError('E_TOO_LARGE', `at most ${MAX_EVENTS_PER_BATCH} events per batch (got ${body.events.length})`);
  }
  const out: ValidatedBatch = { events: [], rejected: [] };
  body.events.forEach((raw: unknown, index) => {
    const parsed = parseEvent(raw);
    if (parsed.ok) out.events.push({ index, event: parsed.event });
    else out.rejected.push({ index, message: parsed.message });
  });
  return out;
}
