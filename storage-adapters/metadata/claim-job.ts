/**
 * The job claim both SQL adapters run: one UPDATE whose row is chosen by a subquery (the
 * next due job, or a running one whose lease expired, in `run_after`, `id` order), so the
 * choice and the take are one statement. `lockRow` adds `FOR UPDATE SKIP LOCKED` to the
 * choice, for databases with row locks (PostgreSQL); SQLite needs none because its
 * statement holds the database-wide write lock from the start. A job pinned to a node
 * (`node_id`) is only chosen for that node's claimer.
 */
import type { Kysely } from 'kysely';
import type { Database, JobRow } from '../../core/storage/metadata-db.js';

export function claimNextJob(
  db: Kysely<Database>,
  args: { owner: string; leaseMs: number; now: number; types: readonly string[] | undefined; node: string | undefined; lockRow: boolean },
): Promise<JobRow | undefined> {
  const { owner, leaseMs, now, types, node } = args;
  const next = db
    .selectFrom('jobs')
    .select('id')
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'queued'), eb('run_after', '<=', now)]),
        eb.and([eb('status', '=', 'running'), eb('lease_expires_at', '<=', now)]),
      ]),
    )
    .$if(types !== undefined, (qb) => qb.where('type', 'in', types ?? []))
    .where((eb) => (node === undefined ? eb('node_id', 'is', null) : eb.or([eb('node_id', 'is', null), eb('node_id', '=', node)])))
    .orderBy('run_after')
    .orderBy('id')
    .limit(1)
    .$if(args.lockRow, (qb) => qb.forUpdate().skipLocked());
  return db
    .updateTable('jobs')
    .set((eb) => ({
      status: 'running',
      lease_owner: owner,
      lease_expires_at: now + leaseMs,
      attempts: eb('attempts', '+', 1),
      // The first start stays: timeouts and queue latency count from it.
      started_at: eb.fn.coalesce('started_at', eb.val(now)),
      updated_at: now,
    }))
    .where('id', '=', next)
    .returningAll()
    .executeTakeFirst();
}
