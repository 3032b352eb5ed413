/**
 * Restream targets of a live (`restream: [{"url"}]` on POST /v1/live and PATCH
 * /v1/live/:id, plus `live.restream` for every live): where the media process copies the
 * ingest while the live is on air (live/live-restream.ts), and the state it reports back.
 *
 * A target URL holds a stream key of another platform: a secret. It is stored as given
 * (the media process needs it), but shown only masked (`maskTargetUrl`) and never logged:
 * logs and metrics name a target by its id.
 */
import { z } from 'zod';
import { restreamTargetUrl } from '../../config/schema.js';
import { newId } from '../ids.js';

/** Most targets one live may carry (each one is an ffmpeg while on air). */
export const MAX_RESTREAM_TARGETS = 10;

export const restreamInput = z.array(z.object({ url: restreamTargetUrl }).strict()).max(MAX_RESTREAM_TARGETS);

/** A target as stored (`lives.restream_targets`). */
export interface RestreamTarget {
  id: string;
  url: string;
}

export type RestreamStateName = 'idle' | 'connecting' | 'live' | 'failed';

/** What the media process reports per target (`lives.restream_status`). */
export interface RestreamState {
  id: string;
  state: RestreamStateName;
  /** Why the last attempt failed (no secrets: URLs are masked). */
  reason?: string;
  /** Attempts since the live went on air (1 = the first connection). */
  attempts: number;
  /** When the state was entered (ISO 8601). */
  since: string;
}

/** `restream[]` in GET /v1/live/:id. */
export interface RestreamView extends Omit<RestreamState, 'since'> {
  /** The URL with its key masked: `rtmp://host/app/…wxyz`. */
  url: string;
  /** True for targets of the `live.restream` config key (not editable through the API). */
  from_config: boolean;
  since?: string;
}

/** Targets from the API; a URL already among `previous` keeps its id (a running restream is not restarted). */
export function newTargets(input: readonly { url: string }[], previous: readonly RestreamTarget[] = []): RestreamTarget[] {
  return input.map((t) => ({ id: previous.find((p) => p.url === t.url)?.id ?? newId(), url: t.url }));
}

/** Targets from `live.restream`: their ids are stable across restarts (`config-N`). */
export function configTargets(input: readonly { url: string }[]): RestreamTarget[] {
  return input.map((t, i) => ({ id: `config-${i}`, url: t.url }));
}

/**
 * The URL without its secret parts: user info and query go, and of the last path segment
 * (the key) only the last 4 characters stay, and only when the key is long enough that they
 * say little (≥ 16).
 */
export function maskTargetUrl(url: string): string {
  const m = /^(rtmps?:\/\/)(?:[^@/]*@)?([^/?#\s]+)(\/[^?#\s]*)?/.exec(url);
  if (!m) return '…';
  const path = m[3] ?? '';
  const cut = path.lastIndexOf('/');
  const key = path.slice(cut + 1);
  const shown = key.length >= 16 ? key.slice(-4) : '';
  return `${m[1]}${m[2]}${path.slice(0, cut + 1)}…${shown}`;
}

/** Replaces every rtmp(s) URL in a text (an ffmpeg error) by its masked form. */
export function maskUrlsIn(text: string): string {
  return text.replace(/rtmps?:\/\/\S+/g, (u) => maskTargetUrl(u));
}

export function parseJsonList<T>(json: string | null): T[] {
  if (!json) return [];
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}

/** The targets with their last reported state, as GET /v1/live/:id shows them. */
export function restreamView(targets: readonly RestreamTarget[], states: readonly RestreamState[], configured: readonly RestreamTarget[]): RestreamView[] {
  const byId = new Map(states.map((s) => [s.id, s]));
  const view = (t: RestreamTarget, fromConfig: boolean): RestreamView => {
    const s = byId.get(t.id);
    return {
      id: t.id,
      url: maskTargetUrl(t.url),
      from_config: fromConfig,
      state: s?.state ?? 'idle',
      attempts: s?.attempts ?? 0,
      ...(s?.reason ? { reason: s.reason } : {}),
      ...(s ? { since: s.since } : {}),
    };
  };
  return [...configured.map((t) => view(t, true)), ...targets.map((t) => view(t, false))];
}
