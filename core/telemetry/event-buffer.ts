/**
 * Write-behind for player telemetry: POST /v1/events only admits events (one read) and
 * hands their rows to this buffer; the buffer writes them every `flushIntervalMs`, or as
 * soon as `flushEvents` wait, one flush at a time. A flood therefore costs the database a
 * few large INSERTs per second instead of one write (and SQLite's write lock) per batch,
 * and uploads and job claims keep getting the lock.
 *
 * Bounded: at most `maxEvents` rows wait; what does not fit is dropped and counted, never
 * queued (telemetry is worth less than the memory and the writers it would cost). Rows a
 * failed flush could not write are dropped and counted too, not retried. A stopping HTTP
 * process writes what waits (closeEventBuffers) before it closes the database.
 */
import type { Logger } from '../logger.js';
import type { EventRow, EventStore } from './event-store.js';
import { telemetryMetrics } from './metrics.js';

export interface EventBufferOptions {
  /** Most rows waiting at once (per process). */
  maxEvents: number;
  /** A flush starts once this many rows wait (default: a quarter of maxEvents, at most 2000). */
  flushEvents?: number;
  /** A flush starts at least this often while rows wait. */
  flushIntervalMs: number;
}

/** Buffers started in this process, so that stopping it writes what they hold (closeEventBuffers). */
const started = new Set<EventBuffer>();

/** Writes what every started buffer of this process holds and stops them (process shutdown). */
export async function closeEventBuffers(): Promise<void> {
  await Promise.all([...started].map((b) => b.close()));
}

/** Why rows were dropped instead of written. */
export type DropReason = 'buffer_full' | 'write_failed';

export class EventBuffer {
  private rows: EventRow[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly flushEvents: number;
  /** Rows dropped by this process, by reason. */
  readonly dropped: Record<DropReason, number> = { buffer_full: 0, write_failed: 0 };

  constructor(
    private readonly store: Pick<EventStore, 'insert'>,
    private readonly opts: EventBufferOptions,
    private readonly logger?: Logger,
  ) {
    this.flushEvents = Math.max(1, opts.flushEvents ?? Math.min(2000, Math.ceil(opts.maxEvents / 4)));
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.rows.length;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.opts.flushIntervalMs);
    this.timer.unref();
    started.add(this);
  }

  /** Takes the first rows that fit; returns how many it took (the rest were dropped). */
  offer(rows: readonly EventRow[]): number {
    const room = Math.max(0, this.opts.maxEvents - this.rows.length);
    const taken = Math.min(room, rows.length);
    for (let i = 0; i < taken; i++) this.rows.push(rows[i]!);
    if (taken < rows.length) this.drop('buffer_full', rows.length - taken);
    if (this.rows.length >= this.flushEvents) void this.flush();
    return taken;
  }

  /** Writes what waits now (joins the flush under way, then runs another if rows wait). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.rows.length === 0) return;
    const rows = this.rows;
    this.rows = [];
    this.flushing = this.store
      .insert(rows)
      .catch((err: unknown) => {
        this.drop('write_failed', rows.length);
        this.logger?.warn({ err, events: rows.length }, 'telemetry events could not be written; dropped');
      })
      .finally(() => {
        this.flushing = undefined;
      });
    await this.flushing;
  }

  /** Stops the timer and writes what waits. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    started.delete(this);
    await this.flush();
  }

  private drop(reason: DropReason, n: number): void {
    this.dropped[reason] += n;
    telemetryMetrics.dropped(reason, n);
  }
}
