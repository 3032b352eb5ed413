import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs (pino) on stdout; children carry video_id / job_id. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } });
}
