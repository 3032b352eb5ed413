/**
 * The node:cluster supervisor: `workers` HTTP processes sharing the port and one media
 * process (job runner + ffmpeg pool). A child that dies is restarted with exponential
 * backoff; one that refuses to start (exit code EXIT_REFUSED: bad config, no ffmpeg) stops
 * the node. SIGTERM/SIGINT drain: children finish requests and release job leases.
 */
import cluster, { type Worker } from 'node:cluster';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from './logger.js';
import { relayLiveUpdates } from './origin/live-updates.js';

export const PROCESS_ROLES = ['http', 'media'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

/** A child exits with this code when it cannot run at all (restarting would not help). */
export const EXIT_REFUSED = 78;

const ROLE_ENV = 'FRAMECAST_PROCESS_ROLE';
const DRAIN_TIMEOUT_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;

export function currentRole(): ProcessRole | undefined {
  const r = process.env[ROLE_ENV];
  return (PROCESS_ROLES as readonly string[]).includes(r ?? '') ? (r as ProcessRole) : undefined;
}

interface Slot {
  role: ProcessRole;
  index: number;
  worker?: Worker;
  failures: number;
  startedAt: number;
}

export function runSupervisor(cfg: Readonly<Config>, logger: Logger): void {
  const httpCount = cfg.roles.includes('api') ? cfg.workers || availableParallelism() : 0;
  const slots: Slot[] = [];
  for (let i = 0; i < httpCount; i++) slots.push({ role: 'http', index: i, failures: 0, startedAt: 0 });
  if (cfg.roles.includes('worker') || cfg.roles.includes('live')) slots.push({ role: 'media', index: 0, failures: 0, startedAt: 0 });
  const runDir = join(cfg.data_dir, 'run');
  mkdirSync(runDir, { recursive: true });
  relayLiveUpdates(cluster);
  let stopping = false;

  const fork = (slot: Slot) => {
    slot.startedAt = Date.now();
    const worker = cluster.fork({ [ROLE_ENV]: slot.role });
    slot.worker = worker;
    if (slot.role === 'media') worker.once('online', () => writeFileSync(join(runDir, 'media.pid'), `${worker.process.pid}\n`));
    worker.once('exit', (code, signal) => {
      slot.worker = undefined;
      if (stopping) return;
      if (code === EXIT_REFUSED) {
        logger.fatal({ role: slot.role, code }, 'a process refused to start; stopping');
        void shutdown(1);
        return;
      }
      if (Date.now() - slot.startedAt > HEALTHY_AFTER_MS) slot.failures = 0;
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** slot.failures);
      slot.failures++;
      logger.error({ role: slot.role, pid: worker.process.pid, code, signal, restart_in_ms: delay }, 'process died; restarting');
      setTimeout(() => !stopping && fork(slot), delay);
    });
  };

  const shutdown = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    logger.info('draining: finishing requests and releasing job leases');
    const alive = slots.flatMap((s) => (s.worker && !s.worker.isDead() ? [s.worker] : []));
    const exited = Promise.all(alive.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve())))));
    for (const w of alive) w.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      logger.warn('drain timed out; killing children');
      for (const w of alive) if (!w.isDead()) w.process.kill('SIGKILL');
    }, DRAIN_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    rmSync(join(runDir, 'media.pid'), { force: true });
    logger.info('stopped');
    process.exit(exitCode);
  };

  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGINT', () => void shutdown(0));
  for (const slot of slots) fork(slot);
  logger.info({ http_processes: httpCount, media_process: slots.some((s) => s.role === 'media') }, 'supervisor started');
}
