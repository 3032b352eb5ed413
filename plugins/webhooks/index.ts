/**
 * Built-in plugin `webhooks`: signed JSON POSTs to configured URLs when a video is ready or
 * failed, when its media URLs change (`video.media_changed`: new version, visibility,
 * delete; `data.purge_prefixes` is what to purge from a CDN) and when a live starts or ends.
 *
 *   plugins:
 *     - name: webhooks
 *       config:
 *         secret: "…"                      # HMAC-SHA256 key (an endpoint may have its own)
 *         endpoints:
 *           - url: https://example.com/hooks/framecast
 *             events: [video.ready, video.failed]   # default: all of WEBHOOK_EVENTS
 *         max_age_s: 86400                 # retries stop this long after the event
 *         backoff_base_s: 10               # retry n waits base × 2^(n-1), capped by max_backoff_s
 *         max_backoff_s: 3600
 *         timeout_ms: 10000
 *
 * Each request carries `Framecast-Event`, `Framecast-Delivery` (the delivery id, stable
 * across retries: receivers dedupe on it) and
 * `Framecast-Signature: t=UNIX_SECONDS,v1=HEX(HMAC-SHA256(secret, "t.BODY"))`.
 *
 * Deliveries are rows of `webhook_deliveries` (pending → delivered | failed), written when
 * the event happens, so a restart loses none; the rows are also the delivery log, served to
 * admins at GET /plugins/webhooks/deliveries. Sending runs in the media process (where the
 * events fire); a delivery is leased while it is sent, so processes never send one twice.
 */
import { createHmac } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { PluginApi } from '../../core/plugins/plugin-api.js';
import type { Database, WebhookDeliveriesTable } from '../../core/storage/metadata-db.js';

export const WEBHOOK_EVENTS = ['video.ready', 'video.failed', 'video.media_changed', 'live.started', 'live.ended'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

interface Endpoint {
  url: string;
  secret: string;
  events: ReadonlySet<WebhookEvent>;
}

interface Settings {
  endpoints: Endpoint[];
  maxAgeMs: number;
  backoffBaseMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
  pollMs: number;
}

export const SIGNATURE_HEADER = 'Framecast-Signature';

/** The signature header value for a body sent at `timestamp` (unix seconds). */
export function signPayload(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

function settings(config: Readonly<Record<string, unknown>>): Settings {
  const secret = typeof config.secret === 'string' ? config.secret : '';
  const raw = Array.isArray(config.endpoints) ? (config.endpoints as unknown[]) : [];
  const endpoints = raw.map((e, i): Endpoint => {
    const entry = (typeof e === 'string' ? { url: e } : e) as { url?: unknown; secret?: unknown; events?: unknown };
    if (typeof entry.url !== 'string' || !/^https?:\/\//.test(entry.url)) throw new Error(`webhooks: endpoints[${i}].url must be an http(s) URL`);
    const key = typeof entry.secret === 'string' && entry.secret ? entry.secret : secret;
    if (!key) throw new Error(`webhooks: endpoints[${i}] has no secret (set config.secret or the endpoint's own)`);
    const events = entry.events === undefined ? [...WEBHOOK_EVENTS] : (entry.events as unknown[]);
    for (const ev of events) if (!(WEBHOOK_EVENTS as readonly unknown[]).includes(ev)) throw new Error(`webhooks: unknown event "${String(ev)}" (known: ${WEBHOOK_EVENTS.join(', ')})`);
    return { url: entry.url, secret: key, events: new Set(events as WebhookEvent[]) };
  });
  const seconds = (v: unknown, fallback: number) => (typeof v === 'number' && v >= 0 ? v * 1000 : fallback);
  return {
    endpoints,
    maxAgeMs: seconds(config.max_age_s, 24 * 3_600_000),
    backoffBaseMs: seconds(config.backoff_base_s, 10_000),
    maxBackoffMs: seconds(config.max_backoff_s, 3_600_000),
    timeoutMs: typeof config.timeout_ms === 'number' ? config.timeout_ms : 10_000,
    pollMs: typeof config.poll_interval_ms === 'number' ? config.poll_interval_ms : 1000,
  };
}

/** Sends due deliveries, one process at a time per delivery. */
class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly s: Settings,
    private readonly logger: PluginApi['logger'],
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.s.pollMs);
    this.kick();
  }

  /** Runs a pass now (or right after the one in progress). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err: unknown) => this.logger.error({ err }, 'webhook delivery pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async pass(): Promise<void> {
    const now = Date.now();
    const due = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
      .orderBy('next_attempt_at')
      .limit(20)
      .execute();
    await Promise.all(due.map((d) => this.deliver(d)));
  }

  private async deliver(d: Selectable<WebhookDeliveriesTable>): Promise<void> {
    const now = Date.now();
    const lease = await this.db
      .updateTable('webhook_deliveries')
      .set({ lease_expires_at: now + this.s.timeoutMs + 5000 })
      .where('id', '=', d.id)
      .where('status', '=', 'pending')
      .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
      .executeTakeFirst();
    if (lease.numUpdatedRows === 0n) return;
    const endpoint = this.s.endpoints.find((e) => e.url === d.url);
    let status: number | null = null;
    let error: string | null = null;
    if (!endpoint) error = 'the endpoint is no longer configured';
    else {
      const timestamp = Math.floor(Date.now() / 1000);
      try {
        const res = await fetch(d.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Framecast-Webhooks/1',
            'framecast-event': d.event,
            'framecast-delivery': String(d.id),
            [SIGNATURE_HEADER.toLowerCase()]: signPayload(endpoint.secret, timestamp, d.payload),
          },
          body: d.payload,
          signal: AbortSignal.timeout(this.s.timeoutMs),
        });
        status = res.status;
        await res.body?.cancel();
        if (!res.ok) error = `HTTP ${res.status}`;
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
    }
    const attempts = d.attempts + 1;
    const t = Date.now();
    if (error === null) {
      await this.db.updateTable('webhook_deliveries').set({ status: 'delivered', attempts, last_status: status, last_error: null, delivered_at: t, lease_expires_at: null }).where('id', '=', d.id).execute();
      this.logger.info({ delivery_id: d.id, event: d.event, url: d.url, attempts }, 'webhook delivered');
      return;
    }
    const delay = Math.min(this.s.maxBackoffMs, this.s.backoffBaseMs * 2 ** (attempts - 1));
    const giveUp = !endpoint || t + delay > Number(d.created_at) + this.s.maxAgeMs;
    await this.db
      .updateTable('webhook_deliveries')
      .set({ status: giveUp ? 'failed' : 'pending', attempts, last_status: status, last_error: error, next_attempt_at: t + delay, lease_expires_at: null })
      .where('id', '=', d.id)
      .execute();
    this.logger.warn({ delivery_id: d.id, event: d.event, url: d.url, attempts, error, retry_in_ms: giveUp ? null : delay }, giveUp ? 'webhook given up' : 'webhook failed; will retry');
  }
}

let worker: DeliveryWorker | undefined;

export function register(api: PluginApi): void {
  const s = settings(api.config);
  const db = api.db;

  const enqueue = async (event: WebhookEvent, data: unknown) => {
    const targets = s.endpoints.filter((e) => e.events.has(event));
    if (targets.length === 0) return;
    const t = Date.now();
    const payload = JSON.stringify({ event, created_at: new Date(t).toISOString(), data });
    await db
      .insertInto('webhook_deliveries')
      .values(targets.map((e) => ({ event, url: e.url, payload, status: 'pending' as const, attempts: 0, next_attempt_at: t, lease_expires_at: null, last_status: null, last_error: null, created_at: t, delivered_at: null })))
      .execute();
    worker?.kick();
  };

  api.registerHook({ target: 'action:video.ready', handler: (video) => enqueue('video.ready', video) });
  api.registerHook({ target: 'action:video.failed', handler: (video) => enqueue('video.failed', video) });
  api.registerHook({ target: 'action:video.media_changed', handler: (change) => enqueue('video.media_changed', change) });
  api.registerHook({ target: 'action:live.started', handler: (live) => enqueue('live.started', live) });
  api.registerHook({ target: 'action:live.ended', handler: (live, ctx) => enqueue('live.ended', { ...live, reason: ctx.reason }) });

  api.registerRoute(
    'GET',
    '/deliveries',
    async (ctx) => {
      const status = typeof ctx.query.status === 'string' ? ctx.query.status : undefined;
      let q = db.selectFrom('webhook_deliveries').select(['id', 'event', 'url', 'status', 'attempts', 'last_status', 'last_error', 'created_at', 'next_attempt_at', 'delivered_at']).orderBy('id', 'desc').limit(200);
      if (status === 'pending' || status === 'delivered' || status === 'failed') q = q.where('status', '=', status);
      const rows = await q.execute();
      const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        items: rows.map((r) => ({ ...r, created_at: iso(r.created_at), next_attempt_at: r.status === 'pending' ? iso(r.next_attempt_at) : null, delivered_at: iso(r.delivered_at) })),
      };
    },
    { scope: 'admin' },
  );

  if (api.role === 'media') {
    worker = new DeliveryWorker(db, s, api.logger);
    worker.start();
  }
  api.logger.info({ endpoints: s.endpoints.map((e) => ({ url: e.url, events: [...e.events] })) }, 'webhooks active');
}

export async function unregister(): Promise<void> {
  await worker?.stop();
  worker = undefined;
}
