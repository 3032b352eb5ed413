/**
 * The tus locker over the metadata database: a lease row per upload (MetadataDb
 * `acquireLease` on `upload:ID`), so PATCHes of one upload through different HTTP processes or nodes
 * are serialised wherever they land. @tus/server's MemoryLocker only sees its own process.
 *
 * A request waits for the lease (polling) up to `acquireTimeoutMs`, then gets 409
 * E_CONFLICT; the holder renews it while it writes and, each time, marks the upload active
 * (bytes are arriving), so the expiry sweep never removes an upload being written and a
 * holder that died frees it after `ttlMs`, or at once when it was a process of this host that
 * is gone (kill -9 of a node mid-PATCH: the restarted node must answer the client's HEAD
 * and resume without waiting out the lease). On release the upload is marked active too: idle
 * time counts from the last byte received.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lock, Locker, RequestRelease } from '@tus/utils';
import { AppError } from '../errors.js';
import { ownerIsGone, processOwnerName } from '../jobs/predecessor.js';
import { uploadLeaseName, type MetadataDb } from '../storage/metadata-db.js';
import { UploadSessions } from './upload-sessions.js';

export interface DbLockerOptions {
  /** A lease not renewed for this long is free again (its holder died). Default 30 s. */
  ttlMs?: number;
  /** How long a request waits for the lease before 409. Default 10 s. */
  acquireTimeoutMs?: number;
  /** Polling interval while waiting. Default 100 ms. */
  pollMs?: number;
  /** `uploads.expire_after_s` in ms: an active upload's `expires_at` moves to now + this. */
  idleExpiryMs: number;
  now?: () => number;
}

export class DbLocker implements Locker {
  readonly ttlMs: number;
  readonly acquireTimeoutMs: number;
  readonly pollMs: number;
  readonly now: () => number;
  readonly idleExpiryMs: number;

  constructor(
    readonly db: MetadataDb,
    opts: DbLockerOptions,
  ) {
    this.idleExpiryMs = opts.idleExpiryMs;
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.acquireTimeoutMs = opts.acquireTimeoutMs ?? 10_000;
    this.pollMs = opts.pollMs ?? 100;
    this.now = opts.now ?? Date.now;
  }

  newLock(id: string): Lock {
    return new DbLock(this, id);
  }

  /** Marks an upload active now (bytes arrived): it expires `idleExpiryMs` from now if nothing else arrives. */
  async touch(uploadId: string): Promise<void> {
    await new UploadSessions(this.db.db).touch(uploadId, this.idleExpiryMs / 1000, this.now());
  }

}

class DbLock implements Lock {
  private readonly owner = processOwnerName(randomUUID());
  private renewal: NodeJS.Timeout | undefined;
  private readonly lease: string;

  constructor(
    private readonly locker: DbLocker,
    private readonly id: string,
  ) {
    this.lease = uploadLeaseName(id);
  }

  async lock(signal: AbortSignal, _cancelReq: RequestRelease): Promise<void> {
    // Another process's holder cannot be asked to let go: the newcomer waits its turn.
    const { db, ttlMs, acquireTimeoutMs, pollMs, now } = this.locker;
    const deadline = now() + acquireTimeoutMs;
    while (!(await db.acquireLease(this.lease, this.owner, ttlMs, now()))) {
      if (signal.aborted) throw new AppError('E_CONFLICT', 'the request was cancelled while waiting for the upload');
      if (await this.freeFromDeadHolder()) continue;
      if (now() >= deadline) {
        throw new AppError('E_CONFLICT', 'another request is writing this upload; ask HEAD for the offset and resume');
      }
      await sleep(pollMs);
    }
    await this.locker.touch(this.id);
    this.renewal = setInterval(() => {
      void db
        .acquireLease(this.lease, this.owner, ttlMs, now())
        .then(() => this.locker.touch(this.id))
        .catch(() => undefined);
    }, Math.max(50, Math.floor(ttlMs / 3)));
    this.renewal.unref();
  }

  /** Releases the lease when its holder was a process of this host that died; true if it did. */
  private async freeFromDeadHolder(): Promise<boolean> {
    const row = await this.locker.db.db.selectFrom('leases').select('owner').where('name', '=', this.lease).executeTakeFirst();
    if (!row || !ownerIsGone(row.owner)) return false;
    await this.locker.db.releaseLease(this.lease, row.owner);
    return true;
  }

  async unlock(): Promise<void> {
    clearInterval(this.renewal);
    this.renewal = undefined;
    await this.locker.touch(this.id).catch(() => undefined);
    await this.locker.db.releaseLease(this.lease, this.owner);
  }
}
