/**
 * "This live object just changed": the cheap notification that lets a blocking playlist
 * reload (LL-HLS `_HLS_msn`/`_HLS_part`, core/origin/blocking-reload.ts) answer the moment
 * the part it waits for is published, without any process polling the store.
 *
 * The packager runs in the media process and writes playlists to the object store; the
 * HTTP processes of this node and of every other api node read them from there. A change is
 * only a hint carried by the transports below; readers always read the playlist itself from
 * the store (so a lost hint costs latency, never correctness):
 *  - within a node, node:cluster IPC: media process → supervisor → every HTTP process
 *    (`relayLiveUpdates` in the supervisor);
 *  - across nodes, PostgreSQL LISTEN/NOTIFY on the shared database
 *    (storage-adapters/metadata/postgres-live-updates.ts), installed by core/app.ts.
 */
import type { Cluster } from 'node:cluster';

export type UpdateListener = (key: string) => void;

/** Carries a change to the other processes (and nodes); `deliver` is called on arrival. */
export interface LiveUpdateTransport {
  send(key: string): void;
  close?(): Promise<void>;
}

const IPC_TYPE = 'framecast:live-updated';

interface IpcMessage {
  type: typeof IPC_TYPE;
  key: string;
}

function isUpdate(msg: unknown): msg is IpcMessage {
  return typeof msg === 'object' && msg !== null && (msg as IpcMessage).type === IPC_TYPE && typeof (msg as IpcMessage).key === 'string';
}

export class LiveUpdates {
  private readonly byKey = new Map<string, Set<UpdateListener>>();
  private readonly every = new Set<UpdateListener>();
  private transports: LiveUpdateTransport[] = [];
  private inCluster = false;

  /** The writer stored `key` anew: tell this process, then the others. */
  changed(key: string): void {
    this.deliver(key);
    for (const t of this.transports) t.send(key);
  }

  /** A change arrived (from this process or a transport). */
  deliver(key: string): void {
    for (const fn of this.every) fn(key);
    const listeners = this.byKey.get(key);
    if (listeners) for (const fn of [...listeners]) fn(key);
  }

  /** Listens to changes of every key (e.g. the origin dropping its cached copy). */
  onEvery(fn: UpdateListener): () => void {
    this.every.add(fn);
    return () => this.every.delete(fn);
  }

  /** Calls `fn` at every change of `key` until the returned function is called. */
  on(key: string, fn: UpdateListener): () => void {
    const listeners = this.byKey.get(key) ?? new Set<UpdateListener>();
    this.byKey.set(key, listeners);
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
      if (listeners.size === 0 && this.byKey.get(key) === listeners) this.byKey.delete(key);
    };
  }

  /**
   * Resolves true at the next change of `key`, false after `timeoutMs`. Subscribe before
   * reading what you wait on, so that a change in between is not missed.
   */
  next(key: string, timeoutMs: number): { changed: Promise<boolean>; cancel(): void } {
    let cancel: () => void = () => undefined;
    const changed = new Promise<boolean>((resolve) => {
      const listeners = this.byKey.get(key) ?? new Set<UpdateListener>();
      this.byKey.set(key, listeners);
      const done = (value: boolean) => {
        clearTimeout(timer);
        listeners.delete(fn);
        if (listeners.size === 0 && this.byKey.get(key) === listeners) this.byKey.delete(key);
        resolve(value);
      };
      const fn: UpdateListener = () => done(true);
      const timer = setTimeout(() => done(false), Math.max(0, timeoutMs));
      listeners.add(fn);
      cancel = () => done(false);
    });
    return { changed, cancel };
  }

  /** Keys waited on now (for tests and metrics). */
  waiting(): number {
    let n = 0;
    for (const s of this.byKey.values()) n += s.size;
    return n;
  }

  use(transport: LiveUpdateTransport): void {
    this.transports.push(transport);
  }

  async close(): Promise<void> {
    const ts = this.transports;
    this.transports = [];
    await Promise.all(ts.map((t) => t.close?.()));
  }

  /**
   * Joins this process to its node's IPC: a cluster child sends its changes to the
   * supervisor and hears everyone else's. No-op outside a cluster.
   */
  joinCluster(): void {
    if (!process.send || this.inCluster) return;
    this.inCluster = true;
    this.use({ send: (key) => process.send?.({ type: IPC_TYPE, key } satisfies IpcMessage) });
    process.on('message', (msg: unknown) => {
      if (isUpdate(msg)) this.deliver(msg.key);
    });
  }
}

/** The process's notifier (like the metrics registry, one per process). */
export const liveUpdates = new LiveUpdates();

/** In the supervisor: passes every child's change on to the other children. */
export function relayLiveUpdates(c: Cluster): void {
  c.on('message', (from, msg: unknown) => {
    if (!isUpdate(msg)) return;
    for (const w of Object.values(c.workers ?? {})) if (w && w !== from && w.isConnected()) w.send(msg);
  });
}
