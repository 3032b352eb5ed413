/**
 * The job claim both SQL adapters run: one UPDATE whose row is chosen by a subquery (the
 * next due job, or a running one whose lease expired, in `run_after`, `id` order), so the
 * choice and the take are one statement. `lockRow` adds `FOR UPDATE SKIP LOCKED` to the
 * choice, for databases with row locks (PostgreSQL); SQLite needs none because its
 * statement holds the database-wide write lock from the start. A job pinned to a node
 * (`node_id`) is only chosen for that node's claimer.
 *
 * Priority: with `order.ageingMs` the next job is the one with the highest
 * `priority + (now - created_at) / ageingMs`. Ordering by `priority * ageingMs - created_at`
 * is the same order (now is one constant for every row) in integer arithmetic both
 * dialects share. A job wanting an encoder is chosen only for a claimer that has it.
 * A job waiting for a group (`waits_for`) is chosen once no job of that group is unfinished.
 */
import { sql, type Kysely } from 'kysely';
import type { ClaimOrder, Database, JobRow } from '../../core/storage/metadata-db.js';

export function claimNextJob(
  db: Kysely<Database>,
  args: { owner: string; leaseMs: number; now: number; types: readonly string[] | undefined; node: string | undefined; lockRow: boolean; order?: ClaimOrder | undefined },
): Promise<JobRow | undefined> {
  const { owner, leaseMs, now, types, node } = args;
  const ageingMs = args.order?.ageingMs;
  const encoders = args.order?.encoders ?? [];
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
    .where((eb) => (encoders.length === 0 ? eb('wants_encoder', 'is', null) : eb.or([eb('wants_encoder', 'is', null), eb('wants_encoder', 'in', encoders)])))
    .where((eb) =>
      eb.or([
        eb('waits_for', 'is', null),
        eb.not(
          eb.exists(
            eb
              .selectFrom('jobs as dep')
              .select('dep.id')
              .whereRef('dep.group_key', '=', 'jobs.waits_for')
              .where('dep.status', '<>', 'succeeded'),
          ),
        ),
      ]),
    )
    .$if(ageingMs !== undefined, (qb) => qb.orderBy(sql`priority * ${Math.max(1, Math.round(ageingMs ?? 1))} - created_at`, 'desc'))
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
